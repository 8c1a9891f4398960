import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OrderModel
import Synchronization
import WireProtocol

/// The one error type of `OrderLogClient`: the server's stable code (docs/PROTOCOL.md §6, or a
/// rule's code from docs/EVENTS.md for a rejected append) and its message.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// For a rejected append: the index of the event in its batch.
    public var eventIndex: Int?

    public init(code: String, message: String, eventIndex: Int? = nil) {
        self.code = code
        self.message = message
        self.eventIndex = eventIndex
    }

    public var description: String { (eventIndex.map { "event \($0): " } ?? "") + "\(code): \(message)" }
}

/// What became of one appended event.
public enum ClientAppendResult: Sendable, Equatable {
    case stored(position: UInt64, seq: UInt32)
    case duplicate(position: UInt64)
}

/// An async client over one connection. Requests are pipelined: many may be in flight at once
/// (each waits for the answer with its request id), and subscriptions share the connection.
public final class OrderLogClient: Sendable {
    public let limits: WireLimits
    public let serverVersion: String
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// The connection itself, to cut it when an orderly close cannot be had.
    private let channel: any Channel
    private let state: NIOLockedValueBox<State>
    private let reader: NIOLockedValueBox<Task<Void, Never>?>

    struct State {
        var nextID: UInt32 = 1
        var pending: [UInt32: PendingSlot] = [:]
        var streams: [UInt32: SubscriptionStream] = [:]
        var failure: ClientError?
        /// Subscription events received from the server, over the connection's life.
        var eventsReceived = 0
    }

    /// Events received for this connection's subscriptions so far, delivered to a consumer or
    /// still buffered (at most the credits asked for beyond what was consumed).
    public var subscriptionEventsReceived: Int { state.withLock { $0.eventsReceived } }

    /// A request's answer: expected, awaited, or arrived before anyone awaited it.
    enum PendingSlot {
        case expected
        case waiting(CheckedContinuation<Message, any Error>)
        case arrived(Message)
    }

    /// Where a subscription's events go: decoded one by one, or as the server's frames hold
    /// them (stored bytes, not decoded).
    enum SubscriptionSink {
        case events(AsyncThrowingStream<StoredEvent, any Error>.Continuation)
        case batches(AsyncThrowingStream<[WireStoredEvent], any Error>.Continuation)

        func finish(throwing error: (any Error)? = nil) {
            switch self {
            case .events(let c): c.finish(throwing: error)
            case .batches(let c): c.finish(throwing: error)
            }
        }
    }

    struct SubscriptionStream {
        let continuation: SubscriptionSink
        let credits: Int
        /// false: the stream ends once the subscription has caught up with the log's end.
        let follow: Bool
        var consumedSinceCredit = 0
    }

    private init(limits: WireLimits, serverVersion: String, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel) {
        self.limits = limits
        self.serverVersion = serverVersion
        self.outbound = outbound
        self.channel = channel
        self.state = NIOLockedValueBox(State())
        self.reader = NIOLockedValueBox(nil)
    }

    /// Connects, says HELLO and waits for WELCOME.
    public static func connect(host: String = "127.0.0.1", port: Int = 7717, clientName: String = "orderlog-swift", token: String = "") async throws -> OrderLogClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        // The channel's streams live inside executeThenClose, in the reader task; the writer is
        // handed out through this stream, and so are the frames read before WELCOME.
        let (handoff, handoffContinuation) = AsyncStream<NIOAsyncChannelOutboundWriter<ByteBuffer>>.makeStream()
        let box = ClientBox()
        let task = Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    handoffContinuation.yield(outbound)
                    handoffContinuation.finish()
                    var decoder = FrameDecoder(maxFrameBytes: 64 << 20)
                    for try await buffer in inbound {
                        buffer.withUnsafeReadableBytes { decoder.append($0) }
                        while let frame = try decoder.next() {
                            // The server's frames are held to the limit it announced: a larger
                            // one is a broken server, not something to buffer.
                            if case .welcome(_, _, _, let limits) = frame.message { decoder.maxFrameBytes = Int(limits.maxFrameBytes) }
                            await box.deliver(frame)
                        }
                    }
                }
                await box.fail(ClientError(code: "closed", message: "the server closed the connection"))
            } catch {
                handoffContinuation.finish()
                await box.fail(ClientError(code: "closed", message: "connection failed: \(error)"))
            }
        }
        guard let outbound = await handoff.first(where: { _ in true }) else {
            throw ClientError(code: "closed", message: "could not connect to \(host):\(port)")
        }
        let welcome = try await box.awaitWelcome(outbound: outbound, name: clientName, token: token)
        guard case .welcome(let serverVersion, _, _, let limits) = welcome else {
            throw ClientError(code: "handshake", message: "expected WELCOME, got \(welcome.type)")
        }
        let client = OrderLogClient(limits: limits, serverVersion: serverVersion, outbound: outbound, channel: channel.channel)
        client.reader.withLock { $0 = task }
        await box.attach(client)
        return client
    }

    /// Sends CLOSE; the server answers what is in flight and closes the connection. If CLOSE
    /// cannot be sent (the calling task is cancelled, or the connection is broken) or the
    /// server has not closed within 5 s, the connection is cut instead: close always returns.
    public func close() async {
        // The deadline runs from the start: a server that stopped reading can hold the send.
        let channel = self.channel
        let deadline = Task.detached {
            try? await Task.sleep(for: .seconds(5))
            channel.close(promise: nil)
        }
        let sent = (try? await send(0, .close(reason: "client closing"))) != nil
        outbound.finish()
        if !sent { channel.close(promise: nil) }
        _ = await reader.withLock { $0 }?.value
        deadline.cancel()
    }

    // MARK: Requests

    /// Appends a batch atomically; returns once the server says it is durable.
    /// `recordedAt` (µs, one per event, nil for the server's clock) keeps the recorded times
    /// of an export; it needs role admin.
    public func append(_ events: [OrderEvent], expected: [ExpectedVersion]? = nil, recordedAt: [Int64?]? = nil) async throws -> [ClientAppendResult] {
        try await result(of: try await send(events, expected: expected, recordedAt: recordedAt))
    }

    /// A batch sent and not yet answered.
    public struct AppendTicket: Sendable { let id: UInt32 }

    /// Sends a batch without waiting for its answer. Batches sent one after another on a
    /// connection are applied in that order; `result(of:)` returns each one's outcome. This is
    /// how a producer keeps many batches in flight.
    public func send(_ events: [OrderEvent], expected: [ExpectedVersion]? = nil, recordedAt: [Int64?]? = nil) async throws -> AppendTicket {
        guard events.count <= min(Int(limits.maxEventsPerAppend), Int(UInt16.max)) else {
            throw ClientError(code: "invalid_request", message: "batch of \(events.count) events exceeds the server's limit of \(limits.maxEventsPerAppend)")
        }
        guard expected == nil || expected!.count == events.count else {
            throw ClientError(code: "invalid_request", message: "\(expected!.count) expected versions for \(events.count) events")
        }
        guard recordedAt == nil || recordedAt!.count == events.count else {
            throw ClientError(code: "invalid_request", message: "\(recordedAt!.count) recorded times for \(events.count) events")
        }
        return try await send(wire: Self.wireEvents(events, expected: expected, recordedAt: recordedAt))
    }

    /// Appends events already in their binary form (docs/EVENTS.md §5), as `APPEND` carries
    /// them — for a producer that has the bytes (an import of JSON lines decoded straight to
    /// them): nothing is decoded or encoded again on this side. Waits for the answer.
    public func append(wire events: [WireEvent]) async throws -> [ClientAppendResult] {
        try await result(of: try await send(wire: events))
    }

    /// Sends a batch in binary form without waiting for its answer (`send(_:)`).
    public func send(wire events: [WireEvent]) async throws -> AppendTicket {
        guard events.count <= min(Int(limits.maxEventsPerAppend), Int(UInt16.max)) else {
            throw ClientError(code: "invalid_request", message: "batch of \(events.count) events exceeds the server's limit of \(limits.maxEventsPerAppend)")
        }
        let length = Message.appendFrameLength(eventBytes: events.reduce(0) { $0 + Message.encodedSize($1) })
        // Refused here, not by the server: a frame over its limit would cost the connection.
        guard length <= Int(limits.maxFrameBytes) else {
            throw ClientError(code: "frame_too_large", message: "a batch of \(events.count) events takes a frame of \(length) bytes, over the server's limit of \(limits.maxFrameBytes); a batch is atomic only within one APPEND — send fewer events (appendSplitting does)")
        }
        return AppendTicket(id: try await sendRequest(.append(events)))
    }

    static func wireEvents(_ events: [OrderEvent], expected: [ExpectedVersion]?, recordedAt: [Int64?]?) -> [WireEvent] {
        events.enumerated().map { i, e in
            let expectation: WireExpectedVersion = switch expected?[i] ?? .any {
            case .any: .any
            case .none: .none
            case .exactly(let n): .exactly(UInt64(max(0, n)))
            }
            return WireEvent(expectedVersion: expectation, orderID: e.orderID.value, type: e.type.code, payload: e.encodeBinary(),
                             recordedAt: recordedAt?[i] ?? 0)
        }
    }

    /// Appends `events` in as many `APPEND`s as the server's limits (frame bytes, events per
    /// append) need, one after another, each atomic on its own — for callers that want every
    /// event stored, not one atomic batch (an import). On a rejection the error's
    /// `eventIndex` is the index in `events`: the APPENDs before the one holding it are
    /// stored, none after it is sent. An event too large for any frame is refused with
    /// `event_too_large` and its index, before anything of its APPEND is sent.
    public func appendSplitting(_ events: [OrderEvent], expected: [ExpectedVersion]? = nil, recordedAt: [Int64?]? = nil) async throws -> [ClientAppendResult] {
        guard expected == nil || expected!.count == events.count, recordedAt == nil || recordedAt!.count == events.count else {
            throw ClientError(code: "invalid_request", message: "expected versions and recorded times must be one per event")
        }
        let wire = Self.wireEvents(events, expected: expected, recordedAt: recordedAt)
        let frameMax = Int(limits.maxFrameBytes)
        let countMax = max(1, min(Int(limits.maxEventsPerAppend), Int(UInt16.max)))
        var results: [ClientAppendResult] = []
        results.reserveCapacity(events.count)
        var start = 0
        while start < wire.count {
            var end = start
            var bytes = 0
            while end < wire.count && end - start < countMax {
                let size = Message.encodedSize(wire[end])
                if Message.appendFrameLength(eventBytes: bytes + size) > frameMax { break }
                bytes += size
                end += 1
            }
            if end == start {
                let size = Message.appendFrameLength(eventBytes: Message.encodedSize(wire[start]))
                throw ClientError(code: "event_too_large", message: "the event takes a frame of \(size) bytes, over the server's limit of \(frameMax)", eventIndex: start)
            }
            do {
                let answer = try await response(try await sendRequest(.append(Array(wire[start..<end]))))
                results += try Self.appendResults(answer)
            } catch var error as ClientError {
                if let i = error.eventIndex { error.eventIndex = start + i }
                throw error
            }
            start = end
        }
        return results
    }

    /// The outcome of a sent batch, once durable.
    public func result(of ticket: AppendTicket) async throws -> [ClientAppendResult] {
        try Self.appendResults(try await response(ticket.id))
    }

    /// The results an APPEND's answer carries, or the rejection it is.
    static func appendResults(_ answer: Message) throws -> [ClientAppendResult] {
        switch answer {
        case .appended(let outcomes):
            return outcomes.map { o in
                switch o {
                case .stored(let p, let s): .stored(position: p, seq: s)
                case .duplicate(let p): .duplicate(position: p)
                }
            }
        case .appendRejected(let index, let code, let message):
            throw ClientError(code: code, message: message, eventIndex: Int(index))
        case let other: throw ClientError(code: "protocol", message: "unexpected answer to APPEND: \(other.type)")
        }
    }

    /// The order's snapshot as the JSON object of docs/EVENTS.md §7, or nil if it does not exist.
    /// A snapshot larger than a frame comes in parts, each asked for as of the order's last
    /// position in the first, so the parts belong to one snapshot.
    public func snapshotJSON(_ orderID: String, asOf: WireAsOf = .now) async throws -> String? {
        guard case .snapshot(let found, var json, let total, let position) = try await request(.getSnapshot(orderID: orderID, asOf: asOf, offset: 0)) else { throw unexpected(nil) }
        guard found else { return nil }
        while json.count < Int(total) {
            guard case .snapshot(true, let part, let t, _) = try await request(.getSnapshot(orderID: orderID, asOf: .position(position), offset: UInt32(json.count))),
                  t == total, !part.isEmpty else {
                throw ClientError(code: "protocol", message: "the snapshot of \(orderID) changed or stopped between its parts")
            }
            json += part
        }
        return String(decoding: json, as: UTF8.self)
    }

    /// The order's events, oldest first (fetched a frame's worth at a time).
    public func history(_ orderID: String) async throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        while true {
            let after = events.last?.seq ?? 0
            guard case .history(let page, let more) = try await request(.getHistory(orderID: orderID, afterSeq: after)) else { throw unexpected(nil) }
            events += try page.map(Self.decode)
            guard more else { return events }
            // A page that brings nothing new cannot be followed by more: a truncated history
            // must not pass for a whole one.
            guard let last = events.last, last.seq > after else {
                throw ClientError(code: "protocol", message: "HISTORY of \(orderID) said more follow after seq \(after) but brought no event")
            }
        }
    }

    /// A customer's orders, newest first: the first `limit` (all of them, however many
    /// pages that takes), and how many the customer has.
    public func orders(customer: String, limit: Int = 100) async throws -> (total: Int, ids: [String]) {
        try await orders(.customer(customer), limit: limit)
    }

    /// The orders in a status, by id: the first `limit`, and how many there are.
    public func orders(status: String, limit: Int = 100) async throws -> (total: Int, ids: [String]) {
        try await orders(.status(status), limit: limit)
    }

    /// Follows the list's pages until `limit` ids or the end. `total` is the last page's.
    private func orders(_ by: WireListBy, limit: Int) async throws -> (total: Int, ids: [String]) {
        var ids: [String] = []
        var cursor = ""
        var total = 0
        repeat {
            let want = UInt32(clamping: limit - ids.count)
            guard case .orders(let t, let page, let next) = try await request(.listOrders(by: by, limit: want, cursor: cursor)) else { throw unexpected(nil) }
            total = Int(t)
            ids += page.prefix(limit - ids.count)
            // A page that brings nothing yet names a next one would loop forever.
            guard page.count > 0 || next.isEmpty || want == 0 else {
                throw ClientError(code: "protocol", message: "ORDERS named a next page but brought no id")
            }
            cursor = next
        } while !cursor.isEmpty && ids.count < limit
        return (total, ids)
    }

    /// Totals per currency and channel, now or as recorded at `asOf` (µs): every row, however
    /// many pages that takes (the pages after the first are asked for through the position
    /// the first was computed at, so they add up to one answer).
    public func totals(asOf: Int64? = nil) async throws -> [WireTotalsRow] {
        guard case .totals(var rows, let end, var next) = try await request(.getTotals(asOf: asOf.map { .time($0) } ?? .now, after: "")) else { throw unexpected(nil) }
        while !next.isEmpty {
            // As of position end − 1: the same events (end ≥ 1 whenever there is a row).
            guard case .totals(let page, _, let n) = try await request(.getTotals(asOf: .position(end &- 1), after: next)) else { throw unexpected(nil) }
            guard !page.isEmpty || n.isEmpty else { throw ClientError(code: "protocol", message: "TOTALS named a next page but brought no row") }
            rows += page
            next = n
        }
        return rows
    }

    /// Round trip time of a PING.
    public func ping() async throws -> Duration {
        let start = ContinuousClock.now
        _ = try await request(.ping(nonce: 42))
        return ContinuousClock.now - start
    }

    /// Events from `from` on, through the log and then live, filtered by type and order id
    /// prefix. Credits are topped up as events are consumed, so the server never sends more
    /// than `credits` ahead of the consumer.
    /// With `follow: false` the stream ends once it has delivered everything stored when it
    /// caught up.
    public func subscribe(from: WireSubscribeFrom, types: Set<EventType> = [], orderPrefix: String = "", credits: Int = 1000, follow: Bool = true) async throws -> EventSubscription {
        let mask = types.reduce(UInt32(0)) { $0 | (1 << UInt32($1.code - 1)) }
        // The server caps credits at its maximum; asking for more would stall the top-ups.
        let credits = min(max(1, credits), Int(limits.maxCredits))
        let (stream, continuation) = AsyncThrowingStream<StoredEvent, any Error>.makeStream()
        let id = state.withLock { s in
            let id = s.nextID
            s.nextID &+= 1
            s.streams[id] = SubscriptionStream(continuation: .events(continuation), credits: max(1, credits), follow: follow)
            return id
        }
        // A consumer that stops iterating ends the subscription on the server too.
        continuation.onTermination = { [weak self] _ in
            guard let self, self.state.withLock({ $0.streams.removeValue(forKey: id) }) != nil else { return }
            Task { try? await self.send(id, .unsubscribe) }
        }
        try await send(id, .subscribe(from: from, credits: UInt32(credits), typeMask: mask, orderPrefix: orderPrefix))
        return EventSubscription(stream: stream, consumed: { [weak self] in self?.consumed(subscription: id) })
    }

    /// Subscribes, as `subscribe`, and delivers the events as the server's `EVENTS` frames
    /// hold them: batches of stored records whose payloads are the canonical binary form
    /// (EVENTS.md §5), not decoded — for consumers that pass events on or count them (a
    /// replay at the log's speed). Credits are granted as batches are taken.
    public func subscribeRecords(from: WireSubscribeFrom, types: Set<EventType> = [], orderPrefix: String = "", credits: Int = 10_000, follow: Bool = true) async throws -> RecordSubscription {
        let mask = types.reduce(UInt32(0)) { $0 | (1 << UInt32($1.code - 1)) }
        let credits = min(max(1, credits), Int(limits.maxCredits))
        let (stream, continuation) = AsyncThrowingStream<[WireStoredEvent], any Error>.makeStream()
        let id = state.withLock { s in
            let id = s.nextID
            s.nextID &+= 1
            s.streams[id] = SubscriptionStream(continuation: .batches(continuation), credits: max(1, credits), follow: follow)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            guard let self, self.state.withLock({ $0.streams.removeValue(forKey: id) }) != nil else { return }
            Task { try? await self.send(id, .unsubscribe) }
        }
        try await send(id, .subscribe(from: from, credits: UInt32(credits), typeMask: mask, orderPrefix: orderPrefix))
        return RecordSubscription(stream: stream, consumed: { [weak self] n in self?.consumed(subscription: id, count: n) })
    }

    /// `count` events of subscription `id` were taken by its consumer: once half the credits
    /// are used up, grant that many again.
    private func consumed(subscription id: UInt32, count: Int = 1) {
        let topUp: Int? = state.withLock { s in
            guard var sub = s.streams[id] else { return nil }
            sub.consumedSinceCredit += count
            defer { s.streams[id] = sub }
            guard sub.consumedSinceCredit * 2 >= sub.credits else { return nil }
            let n = sub.consumedSinceCredit
            sub.consumedSinceCredit = 0
            return n
        }
        // From a task of its own: the consumer must not wait on the connection's writes.
        if let topUp { Task { try? await self.send(id, .credit(UInt32(topUp))) } }
    }

    // MARK: Plumbing

    func request(_ message: Message) async throws -> Message {
        try await response(try await sendRequest(message))
    }

    /// Registers a request id and writes the frame (in call order); the answer is collected
    /// with `response(_:)`.
    func sendRequest(_ message: Message) async throws -> UInt32 {
        let id: UInt32 = try state.withLock { s in
            if let failure = s.failure { throw failure }
            let id = s.nextID
            s.nextID &+= 1
            s.pending[id] = .expected
            return id
        }
        do { try await send(id, message) } catch {
            state.withLock { _ = $0.pending.removeValue(forKey: id) }
            throw ClientError(code: "closed", message: "could not send: \(error)")
        }
        return id
    }

    func response(_ id: UInt32) async throws -> Message {
        let response: Message = try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Message, any Error>? = state.withLock { s in
                switch s.pending[id] {
                case .arrived(let m)?:
                    s.pending.removeValue(forKey: id)
                    return .success(m)
                case .expected?:
                    if let failure = s.failure { s.pending.removeValue(forKey: id); return .failure(failure) }
                    s.pending[id] = .waiting(continuation)
                    return nil
                default:
                    return .failure(s.failure ?? ClientError(code: "protocol", message: "no request \(id) is waiting"))
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
        if case .error(let code, let message) = response { throw ClientError(code: code, message: message) }
        return response
    }

    func send(_ id: UInt32, _ message: Message) async throws {
        try await outbound.write(ByteBuffer(bytes: Frame(requestID: id, message: message).encoded()))
    }

    /// Routes a frame from the server to whoever waits for it.
    func deliver(_ frame: Frame) async {
        let id = frame.requestID
        if let subscription = state.withLock({ $0.streams[id] }) {
            switch frame.message {
            case .subscribed: return
            case .events(let events) where events.isEmpty:
                if !subscription.follow {
                    state.withLock { _ = $0.streams.removeValue(forKey: id) }
                    subscription.continuation.finish()
                    Task { try? await self.send(id, .unsubscribe) }
                }
            case .events(let events):
                state.withLock { $0.eventsReceived += events.count }
                switch subscription.continuation {
                case .events(let c):
                    for e in events {
                        do { c.yield(try Self.decode(e)) } catch { c.finish(throwing: error) }
                    }
                case .batches(let c):
                    c.yield(events)
                }
            case .subscriptionEnded(let code, let message, _):
                state.withLock { _ = $0.streams.removeValue(forKey: id) }
                if code == "unsubscribed" || code == "closed" { subscription.continuation.finish() }
                else { subscription.continuation.finish(throwing: ClientError(code: code, message: message)) }
            case .error(let code, let message):
                state.withLock { _ = $0.streams.removeValue(forKey: id) }
                subscription.continuation.finish(throwing: ClientError(code: code, message: message))
            default: return
            }
            return
        }
        if case .close = frame.message { return }
        let waiting: CheckedContinuation<Message, any Error>?? = state.withLock { s in
            switch s.pending[id] {
            case .waiting(let c)?:
                s.pending.removeValue(forKey: id)
                return .some(c)
            case .expected?:
                s.pending[id] = .arrived(frame.message)
                return .some(nil)
            default:
                return nil
            }
        }
        switch waiting {
        case .some(let c?): c.resume(returning: frame.message)
        case .some(nil): break
        case nil:
            // An answer to no request: a connection-level error from the server.
            if case .error(let code, let message) = frame.message { fail(ClientError(code: code, message: message)) }
        }
    }

    func fail(_ error: ClientError) {
        let (pending, streams) = state.withLock { s in
            if s.failure == nil { s.failure = error }
            var waiting: [CheckedContinuation<Message, any Error>] = []
            for (id, slot) in s.pending {
                if case .waiting(let c) = slot { waiting.append(c); s.pending.removeValue(forKey: id) }
            }
            defer { s.streams.removeAll() }
            return (waiting, Array(s.streams.values))
        }
        for p in pending { p.resume(throwing: error) }
        for s in streams { s.continuation.finish(throwing: error) }
    }

    static func decode(_ e: WireStoredEvent) throws -> StoredEvent {
        let id = try OrderID(e.orderID)
        guard let type = EventType(code: e.type) else { throw ClientError(code: "unknown_type", message: "event type code \(e.type)") }
        let event = try e.payload.withUnsafeBytes { try OrderEvent.decodeBinary(orderID: id, type: type, $0) }
        return StoredEvent(event: event, position: e.position, seq: e.seq, recordedAt: e.recordedAt)
    }

    private func unexpected(_ message: Message?) -> ClientError {
        ClientError(code: "protocol", message: "unexpected answer \(message.map { "\($0.type)" } ?? "")")
    }
}

/// Holds frames that arrive before the client object exists (the WELCOME), then forwards.
actor ClientBox {
    private var client: OrderLogClient?
    private var early: [Frame] = []
    private var welcomeWaiter: CheckedContinuation<Message, any Error>?
    private var failure: ClientError?

    func awaitWelcome(outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, name: String, token: String) async throws -> Message {
        try await outbound.write(ByteBuffer(bytes: Frame(requestID: 0, message: .hello(protocolVersion: Frame.version, clientName: name, token: token)).encoded()))
        if let failure { throw failure }
        if !early.isEmpty { return early.removeFirst().message }
        return try await withCheckedThrowingContinuation { welcomeWaiter = $0 }
    }

    func attach(_ client: OrderLogClient) async {
        self.client = client
        for f in early { await client.deliver(f) }
        early.removeAll()
        if let failure { client.fail(failure) }
    }

    func deliver(_ frame: Frame) async {
        if let w = welcomeWaiter {
            welcomeWaiter = nil
            if case .error(let code, let message) = frame.message { w.resume(throwing: ClientError(code: code, message: message)) }
            else { w.resume(returning: frame.message) }
            return
        }
        if let client { await client.deliver(frame) } else { early.append(frame) }
    }

    func fail(_ error: ClientError) {
        failure = error
        if let w = welcomeWaiter { welcomeWaiter = nil; w.resume(throwing: error) }
        client?.fail(error)
    }
}

extension NIOLockedValueBox {
    /// `withLockedValue` under the name the rest of the code base uses for its locks (a
    /// pthread mutex, which ThreadSanitizer can see; `Synchronization.Mutex` it cannot).
    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try withLockedValue(body)
    }
}
