import Hummingbird
import NIOCore
import OrderLogServer
import OrderModel
import OrderStore
import Synchronization

/// `GET /events`: the log as Server-Sent Events (docs/openapi.yaml). Each event once it is
/// durable, in log order, as
///
///     id: <position>
///     event: <type>
///     data: <its export line, docs/EVENTS.md>
///     (blank line)
///
/// From `?from=P` (default: the end — only new events), or after the `Last-Event-ID` a
/// reconnecting browser sends (the position it saw last), so a dropped stream resumes with no
/// gap and no repeat. `?order_id=X` keeps one order's events (the console's order page). An
/// idle stream sends a `: keep-alive` comment every `keepAlive` (10 s), which is also how a
/// closed peer is found. At most `streamsMax` at once; `stop()` ends them all (shutdown).
final class EventStreams: Sendable {
    let store: OrderStore
    let configuration: HTTPConfiguration
    private let open = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init(store: OrderStore, configuration: HTTPConfiguration) {
        self.store = store
        self.configuration = configuration
    }

    /// Ends every stream within a second (they are written to no more).
    func stop() { stopped.store(true, ordering: .relaxed) }

    fileprivate func release() { open.subtract(1, ordering: .relaxed) }

    func response(_ request: Request, _ context: APIContext) throws -> Response {
        try context.requireRead()
        let query = request.uri.queryParameters
        var from = store.endPosition
        if let text = query.get("from") {
            guard let p = UInt64(text) else { throw APIError.badParameter("from", "\"\(text)\" is not a position (a whole number ≥ 0)") }
            from = p
        }
        if let last = request.headers[HTTPFields.lastEventID] {
            guard let p = UInt64(last.filter { $0 != " " }), p < UInt64.max else {
                throw APIError.badParameter("Last-Event-ID", "\"\(last)\" is not a position this stream sent")
            }
            from = p + 1
        }
        var filter: [UInt8]?
        if let id = query.get("order_id") {
            do { filter = Array(try OrderID(id).value.utf8) } catch { throw APIError(error) }
        }
        guard open.add(1, ordering: .relaxed).newValue <= configuration.streamsMax else {
            open.subtract(1, ordering: .relaxed)
            throw APIError(.serviceUnavailable, "too_many_streams", "\(configuration.streamsMax) event streams are open; try again later")
        }
        // The slot is given back when the body is done with — or never run (a peer gone
        // before the head was written): the closure holding it is then released.
        let slot = Slot(self)
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]
        let (start, only, channel) = (from, filter, context.channel)
        return Response(status: .ok, headers: headers, body: .init { [self] writer in
            withExtendedLifetime(slot) {}
            try await stream(from: start, filter: only, channel: channel, to: &writer)
        })
    }

    private func stream(from start: UInt64, filter: [UInt8]?, channel: (any Channel)?, to writer: inout any ResponseBodyWriter) async throws {
        var next = start
        // The reconnect delay a browser should use, once.
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        var idle = Duration.zero
        // A peer that went away is found by a write failing (the keep-alive comments) or, when
        // its close has been read, by the channel no longer active (checked every second).
        while !stopped.load(ordering: .relaxed), channel?.isActive ?? true {
            let end = store.endPosition
            if next < end {
                var buffer = ByteBuffer()
                var line = JSONBytes(capacity: 1024)
                // At most ~1 MiB a write, so a stream from the start of a large log is sent in
                // pieces (and the peer's pace holds the reading back).
                // At most 65,536 records looked at a pass, matching or not: a filtered stream
                // from far back reads the log in bounded steps, not in one call.
                let stopAt = try store.forEachEventView(from: next, to: min(end, next + 65_536), keyMatches: { key in
                    guard let filter else { return true }
                    return key.elementsEqual(filter)
                }) { e in
                    line.removeAll()
                    try e.writeExportLine(to: &line)
                    buffer.writeString("id: \(e.stored.position)\nevent: \(e.event.type.rawValue)\ndata: ")
                    line.withUnsafeBytes { _ = buffer.writeBytes($0) }
                    buffer.writeString("\n\n")
                    return buffer.readableBytes < 1 << 20
                }
                next = stopAt
                if buffer.readableBytes > 0 { try await writer.write(buffer) }
                idle = .zero
                continue
            }
            // Wait for a durable event past `next`, a second at a time (so a stop is seen).
            let waitFrom = next
            let woke = await withTaskGroup(of: Bool.self) { [store] group in
                group.addTask { await store.waitForRecords(after: waitFrom) }
                group.addTask { try? await Task.sleep(for: .seconds(1)); return false }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !woke {
                idle += .seconds(1)
                if idle >= configuration.keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    idle = .zero
                }
            }
        }
        try await writer.finish(nil)
    }
}

/// One open stream's place among `streamsMax`, given back when released.
private final class Slot: Sendable {
    let streams: EventStreams
    init(_ streams: EventStreams) { self.streams = streams }
    deinit { streams.release() }
}

extension HTTPFields {
    /// The header a reconnecting `EventSource` sends: the `id` of the last event it saw.
    static let lastEventID = HTTPFields.Element.Name("Last-Event-ID")!
}
