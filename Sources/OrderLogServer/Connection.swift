import CoreMetrics
import Logging
import Metrics
import NIOCore
import NIOPosix
import OrderModel
import OrderStore
import Synchronization
import WireProtocol

/// Writes frames to one connection. Appends that finish out of order and subscriptions write
/// from their own tasks; each frame is one write, so frames never interleave.
struct FrameSink: Sendable {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    func send(_ requestID: UInt32, _ message: Message) async throws {
        try await outbound.write(ByteBuffer(bytes: Frame(requestID: requestID, message: message).encoded()))
    }

    /// Sends a frame already encoded (`EventsFrameBuilder`).
    func send(frame: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: frame))
    }
}

/// Raised once, read from another task.
final class Flag: Sendable {
    private let value = Atomic(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}

/// Requests of one connection still waiting to be answered.
final class InFlightRequests: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    func decrement() { value.subtract(1, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

/// One client connection: the handshake, then requests in arrival order. Appends are checked
/// and written in that order and answered when durable, so a connection can keep many batches
/// in flight and all connections share fsyncs. Subscriptions run in their own tasks.
struct Connection {
    let server: OrderLogServer
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    var store: OrderStore { server.store }
    var limits: WireLimits { server.configuration.limits }

    private struct Subscription {
        let credits: SubscriptionCredits
        /// Ends with the `SUBSCRIPTION_ENDED` still to send if it was cancelled (the
        /// connection died; NIO refuses writes from a cancelled task).
        let task: Task<Message?, Never>

        /// Stops the subscription, which sends its last frame. Not by cancelling its task: a
        /// task cancelled in the middle of a write makes NIO close the connection's output.
        func end(id: UInt32, sink: FrameSink) async {
            await credits.end()
            // A subscription stuck writing to a client that does not read is cancelled after
            // a while (NIO then closes that connection's output): the read loop must go on.
            let task = self.task
            let stuck = Task {
                try await Task.sleep(for: .seconds(5))
                task.cancel()
            }
            defer { stuck.cancel() }
            if let last = await task.value { try? await sink.send(id, last) }
        }
    }

    /// Runs `body` here when it replays at most `configuration.replayEventsInline` events,
    /// else on NIO's thread pool: a request that replays a long order (or the whole log)
    /// must not hold this event loop, whose other connections would wait behind it.
    func offLoop<T: Sendable>(cost: Int, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        if cost <= store.configuration.replayEventsInline { return try body() }
        return try await NIOThreadPool.singleton.runIfActive(body)
    }

    /// The thread that writes appends to the store, in the order connections hand them
    /// over: an event loop checks a batch (`OrderStore.check`: limits, encoding, grouping)
    /// and goes on reading while this thread applies the rules and writes the last one — the
    /// server's appends use both cores. One thread, so a connection's batches are written in
    /// the order they came.
    static let writer: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// One thread for replays of the whole log (`GET_TOTALS`): however many clients ask for
    /// totals, they queue here, and the appends' replays on the shared pool never wait
    /// behind them.
    static let logReplays: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// The most ids one ORDERS frame carries: 10,000, or fewer when the frame limit is small
    /// (an id takes at most 2 + 64 bytes; the header, total, count and a cursor take 100).
    var ordersPageMax: Int { max(1, min(10_000, (Int(limits.maxFrameBytes) - 100) / (2 + OrderID.lengthMax))) }

    /// The part of a snapshot's JSON from `offset` that fits one frame (PROTOCOL.md §4).
    func snapshotChunk(_ json: [UInt8], offset: Int, position: UInt64) -> Message {
        // Header 12, found 1, blob length 4, total 4, position 8.
        let room = max(1, Int(limits.maxFrameBytes) - 8 - 1 - 4 - 4 - 8)
        let start = min(offset, json.count)
        return .snapshot(found: true, json: Array(json[start..<min(json.count, start + room)]), totalBytes: UInt32(clamping: json.count), position: position)
    }

    /// The rows after the cursor `after` that fit one frame; the cursor is the last row's
    /// currency (always three letters) followed by its channel.
    func totalsPage(_ rows: [WireTotalsRow], after: String, end: UInt64) -> Message {
        func key(_ r: WireTotalsRow) -> String { r.currency + r.channel }
        // Split by bytes, compared as the rows are sorted: (currency, channel).
        let utf8 = Array(after.utf8)
        let cursor = (String(decoding: utf8.prefix(3), as: UTF8.self), String(decoding: utf8.dropFirst(3), as: UTF8.self))
        let rest = after.isEmpty ? rows[...] : rows.drop { ($0.currency, $0.channel) <= cursor }
        // Header 8, count 4, end 8, and a next cursor of up to 2 + 3 + 1024 bytes.
        var room = Int(limits.maxFrameBytes) - 8 - 4 - 8 - 2 - 3 - EventLimits.stringBytesMax
        var page: [WireTotalsRow] = []
        for r in rest {
            room -= Message.encodedSize(r)
            if room < 0 { break }
            page.append(r)
        }
        if page.isEmpty && !rest.isEmpty {
            return .error(code: WireError.Code.invalidRequest.rawValue, message: "a totals row of \(Message.encodedSize(rest.first!)) bytes does not fit the frame limit of \(limits.maxFrameBytes)")
        }
        return .totals(page, end: end, next: page.count < rest.count ? key(page.last!) : "")
    }

    /// The events after the `afterSeq`th that fit one frame, oldest first; `more` if others
    /// follow (the client asks again after the last one's seq).
    func historyPage(_ history: [StoredRecord], afterSeq: UInt32) -> Message {
        var room = Int(limits.maxFrameBytes) - 12 - 1 - 4
        var page: [WireStoredEvent] = []
        for event in history where event.seq > afterSeq {
            // The stored bytes as they are: no decode, no encode.
            let wire = WireStoredEvent(position: event.position, seq: event.seq, recordedAt: event.recordedAt, orderID: event.orderID,
                                       type: event.type, payload: event.payload)
            room -= Message.encodedSize(wire)
            if room < 0 {
                // One event larger than a frame (a server set up with a tiny frame limit)
                // cannot be sent at all: say so rather than send an empty page.
                if page.isEmpty {
                    return .error(code: WireError.Code.invalidRequest.rawValue, message: "event seq \(event.seq) of \(event.orderID) (\(Message.encodedSize(wire)) bytes) does not fit the frame limit of \(limits.maxFrameBytes)")
                }
                return .history(page, more: true)
            }
            page.append(wire)
        }
        return .history(page, more: false)
    }

    func serve() async {
        let raw = channel.channel
        guard server.register(raw) else {
            try? await channel.executeThenClose { _, outbound in
                try await outbound.write(ByteBuffer(bytes: Frame(requestID: 0, message: .error(code: WireError.Code.shuttingDown.rawValue, message: "the server is stopping")).encoded()))
            }
            server.unregister(raw)
            return
        }
        defer { server.unregister(raw) }
        do {
            try await channel.executeThenClose { inbound, outbound in
                let sink = FrameSink(outbound: outbound)
                var decoder = FrameDecoder()
                let access = server.configuration.access
                let peer = raw.remoteAddress
                var machine = ConnectionStateMachine(
                    limits: limits, refusal: access.tokens == nil ? "this server accepts local clients only" : "unknown token",
                    authorize: { access.role(token: $0, address: peer) })
                // A connection that has not said HELLO within the deadline is closed: silent
                // connections must not hold the server's connection slots.
                let handshake = Flag()
                let deadline = server.configuration.handshakeTimeout
                let watchdog = Task {
                    try await Task.sleep(for: deadline)
                    if !handshake.isRaised { try await raw.close() }
                }
                defer { watchdog.cancel() }
                var orderly = true  // false after a fatal error: no CLOSE follows the ERROR
                var subscriptions: [UInt32: Subscription] = [:]
                let inFlight = InFlightRequests()
                // Done when this connection's newest APPEND is written (or refused, its refusal
                // sent). Consecutive APPENDs do not wait for it — they queue on the writer
                // thread in order — but every other frame's answer does: a read sees the
                // appends sent before it, and a refusal comes before later answers
                // (PROTOCOL.md §3).
                var appendGate: EventLoopFuture<Void>?
                defer {
                    for s in subscriptions.values { s.task.cancel() }
                }
                try await withThrowingDiscardingTaskGroup { group in
                    reading: for try await buffer in inbound {
                        buffer.withUnsafeReadableBytes { decoder.append($0) }
                        while true {
                            let action: ConnectionStateMachine.Action
                            switch Result(catching: { () throws(WireError) in try decoder.next() }) {
                            case .failure(let error):
                                server.metrics.protocolErrors.increment()
                                action = machine.decodingFailed(error)
                            case .success(nil):
                                continue reading
                            case .success(let frame?):
                                action = machine.received(frame, appendsInFlight: inFlight.current)
                            }
                            if let gate = appendGate {
                                if case .run(_, .append) = action {} else {
                                    _ = try? await gate.get()
                                    appendGate = nil
                                }
                            }
                            switch action {
                            case .ignore:
                                continue
                            case .reply(let id, let message):
                                if case .appendRejected(_, let code, _) = message { server.metrics.rejected(code) }
                                try await sink.send(id, message)
                            case .fail(let id, let message):
                                // The stream cannot be trusted past this frame: say why, then close.
                                try? await sink.send(id, message)
                                orderly = false
                                break reading
                            case .welcome(let id, let role, let name):
                                handshake.raise()
                                decoder.maxFrameBytes = Int(limits.maxFrameBytes)
                                server.logger.debug("client connected", metadata: ["client": "\(name)", "role": "\(role)"])
                                try await sink.send(id, .welcome(serverVersion: server.configuration.serverVersion, protocolVersion: Frame.version, role: role.rawValue, limits: limits))
                            case .drain:
                                break reading
                            case .run(let id, let request):
                                try await perform(request, id: id, sink: sink, group: &group, inFlight: inFlight,
                                                  subscriptions: &subscriptions, machine: &machine, appendGate: &appendGate)
                            }
                        }
                    }
                    // Orderly end: subscriptions first, then every append in flight is answered
                    // (the task group waits for them), then CLOSE.
                    for (id, s) in subscriptions { await s.end(id: id, sink: sink) }
                    subscriptions.removeAll()
                }
                if orderly { try? await sink.send(0, .close(reason: "bye")) }
            }
        } catch {
            server.logger.debug("connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Carries out a request the state machine let through, against the store; answers it,
    /// or leaves the answer to a task of `group` (an append, answered once durable).
    private func perform(_ request: ConnectionStateMachine.Request, id: UInt32, sink: FrameSink,
                         group: inout ThrowingDiscardingTaskGroup<any Error>, inFlight: InFlightRequests,
                         subscriptions: inout [UInt32: Subscription], machine: inout ConnectionStateMachine,
                         appendGate: inout EventLoopFuture<Void>?) async throws {
        let store = self.store
        switch request {
        case .append(let batch, let payloadBytes):
            let started = ContinuousClock.now
            let metrics = server.metrics
            @Sendable func refuse(_ error: StoreError) async throws {
                if error.code == .rejected, let e = error.orderError {
                    metrics.rejected(e.code.rawValue)
                    try await sink.send(id, .appendRejected(index: UInt16(error.eventIndex ?? 0), code: e.code.rawValue, message: e.detail))
                } else {
                    try await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: error.message))
                }
            }
            let checked: OrderStore.CheckedBatch
            do { checked = try store.check(batch) } catch let error as StoreError {
                try await refuse(error)
                return
            }
            let loop = channel.channel.eventLoop
            // Completed once this batch is written, or refused and its refusal sent: the next
            // request that is not an APPEND waits for it (see `serve`).
            let gate = loop.makePromise(of: Void.self)
            // Gates complete in the order of their APPENDs: this one waits for the one before
            // (each task resumes on its own; a later batch's write must not open the gate
            // before an earlier batch's refusal is sent).
            let previousGate = appendGate
            let written: EventLoopFuture<OrderStore.PendingWrite>
            let long = store.replayCost(checked.orderIDs) > store.configuration.replayEventsInline
            if long {
                // It replays a long order first: not on the writer thread, which every
                // connection's appends share, but on the pool — after this connection's writes
                // still queued there, so its batches are still written in order.
                if let previous = appendGate { _ = try? await previous.get() }
                written = NIOThreadPool.singleton.runIfActive(eventLoop: loop) { try store.write(checked) }
            } else {
                // Queued now, in arrival order, on the writer thread; this loop reads the next
                // frame while it is written (consecutive APPENDs are pipelined). The answer —
                // refused, or stored once durable — comes from the task below.
                written = Self.writer.runIfActive(eventLoop: loop) { try store.write(checked) }
            }
            appendGate = gate.futureResult
            inFlight.increment()
            group.addTask {
                defer { inFlight.decrement() }
                let write: OrderStore.PendingWrite
                do { write = try await written.get() } catch let error as StoreError {
                    try? await refuse(error)
                    _ = try? await previousGate?.get()
                    gate.succeed()
                    return
                } catch {
                    try? await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
                    _ = try? await previousGate?.get()
                    gate.succeed()
                    return
                }
                _ = try? await previousGate?.get()
                gate.succeed()
                do {
                    let results = try await store.waitUntilDurable(write)
                    let stored = results.filter { if case .stored = $0 { true } else { false } }.count
                    metrics.eventsAppended.increment(by: stored)
                    metrics.duplicates.increment(by: results.count - stored)
                    metrics.bytesAppended.increment(by: payloadBytes)
                    let elapsed = ContinuousClock.now - started
                    metrics.appendLatency.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                    try await sink.send(id, .appended(results.map { r in
                        switch r {
                        case .stored(let p, let s): .stored(position: p, seq: s)
                        case .duplicate(let p): .duplicate(position: p)
                        }
                    }))
                } catch {
                    try? await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
                }
            }
            // A batch written on the pool is waited for here: the next batch must not reach
            // the writer thread before it is written.
            if long { _ = try? await gate.futureResult.get() }

        case .history(let oid, let afterSeq):
            guard let oid else { try await sink.send(id, .history([], more: false)); return }
            do {
                let history = try await offLoop(cost: store.replayCost([oid], cachedCountsAsFree: false)) { try store.storedRecords(of: oid) }
                try await sink.send(id, historyPage(history, afterSeq: afterSeq))
            } catch {
                try await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
            }

        case .snapshot(let oid, let asOf, let offset):
            guard let oid else { try await sink.send(id, .snapshot(found: false, json: [], totalBytes: 0, position: 0)); return }
            do {
                let cost = store.replayCost([oid], cachedCountsAsFree: asOf == .now)
                let s: OrderSnapshot? = try await offLoop(cost: cost) {
                    switch asOf {
                    case .now: try store.snapshot(oid)
                    case .time(let t): try store.snapshot(oid, asOfTime: t)
                    case .position(let p): try store.snapshot(oid, asOfPosition: p)
                    }
                }
                guard let s else {
                    try await sink.send(id, .snapshot(found: false, json: [], totalBytes: 0, position: 0))
                    return
                }
                try await sink.send(id, snapshotChunk(Array(s.json.utf8), offset: Int(offset), position: s.lastPosition ?? 0))
            } catch {
                try await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
            }

        case .list(let by, let limit, let cursor):
            // A page fits a frame: at most `ordersPageMax` ids (PROTOCOL.md §4); the client
            // follows `next` for the rest.
            let size = min(Int(limit), ordersPageMax)
            let page: OrderPage
            switch by {
            case .customer(let c):
                do { page = try store.orders(ofCustomer: c, after: cursor.isEmpty ? nil : cursor, limit: size) } catch {
                    try await sink.send(id, .error(code: WireError.Code.invalidRequest.rawValue, message: "\(error)"))
                    return
                }
            case .status(let name):
                // The state machine let only known statuses through.
                page = store.orders(withStatus: OrderSnapshot.Status(rawValue: name)!, after: cursor.isEmpty ? nil : cursor, limit: size)
            }
            try await sink.send(id, .orders(total: UInt32(clamping: page.total), ids: page.ids.map(\.value), next: page.next ?? ""))

        case .totals(let asOf, let after):
            do {
                let end: UInt64
                let totals: [TotalsRow]
                if case .now = asOf, let current = store.currentTotals() {
                    // The running totals: as cheap as a cached snapshot.
                    (totals, end) = current
                } else {
                    let upTo: UInt64 = switch asOf {
                    case .now: store.endPosition
                    // As of position p includes p, as snapshots do: the events before p + 1.
                    case .position(let p): min(p == .max ? p : p + 1, store.currentTotals()?.end ?? store.endPosition)
                    case .time(let t): try store.endPosition(asOfTime: t)
                    }
                    end = upTo
                    // A replay of the log up to `end` (unless that is everything written): never on an event loop.
                    totals = try await Self.logReplays.runIfActive { try store.totals(before: upTo) }
                }
                let rows = totals.map {
                    WireTotalsRow(currency: $0.currency, channel: $0.channel, orders: UInt32(clamping: $0.orders),
                                  total: $0.total, captured: $0.captured, refunded: $0.refunded)
                }
                try await sink.send(id, totalsPage(rows, after: after, end: end))
            } catch {
                try await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
            }

        case .subscribe(let from, let credits, let mask, let prefix):
            let start: UInt64
            do {
                switch from {
                case .position(let p): start = min(p, store.endPosition)
                case .end: start = store.endPosition
                case .time(let t): start = try store.firstPosition(recordedAtOrAfter: t)
                }
            } catch {
                machine.subscriptionEnded(id)
                try await sink.send(id, .error(code: WireError.Code.storage.rawValue, message: "\(error)"))
                return
            }
            let control = SubscriptionCredits(initial: Int(credits), maximum: Int(limits.maxCredits))
            try await sink.send(id, .subscribed(startPosition: start))
            let server = self.server
            let frameMax = Int(limits.maxFrameBytes)
            server.subscriptionStarted()
            let task = Task { () -> Message? in
                defer { server.subscriptionEnded() }
                return await Self.follow(store: store, id: id, from: start, typeMask: mask, prefix: Array(prefix.utf8), frameMax: frameMax, credits: control, sink: sink,
                                         stopping: { server.isShuttingDown }, lag: server.metrics.subscriptionLag)
            }
            subscriptions[id] = Subscription(credits: control, task: task)

        case .credit(let n):
            guard let s = subscriptions[id] else { return }  // the state machine knows it
            if !(await s.credits.add(Int(n))) {
                try await sink.send(id, .error(code: WireError.Code.invalidRequest.rawValue, message: "credits would exceed \(limits.maxCredits)"))
            }

        case .unsubscribe:
            guard let s = subscriptions.removeValue(forKey: id) else { return }
            await s.end(id: id, sink: sink)
        }
    }

    /// Sends a subscription's events: catch up through the log from `from`, then follow it
    /// live, never more than the credits allow, never holding events it cannot send. Ends,
    /// with `SUBSCRIPTION_ENDED`, when cancelled or when the log closes; when cancelled it
    /// returns that frame for the canceller to send.
    static func follow(store: OrderStore, id: UInt32, from: UInt64, typeMask: UInt32, prefix: [UInt8], frameMax: Int = 4 << 20, credits: SubscriptionCredits, sink: FrameSink,
                       stopping: @Sendable () -> Bool, lag: Recorder? = nil) async -> Message? {
        var position = from
        var sent = from  // the position after the last event delivered (what a client resumes from)
        var caughtUp = false
        var code = "unsubscribed"
        var reason = "the client unsubscribed"
        do {
            while !Task.isCancelled {
                guard let allowed = await credits.available() else { break }
                let limit = min(allowed, 1000)
                // The frame's header and count, then the events: never past the frame limit
                // the server announced (at most 512 KiB of events a frame, to interleave).
                let room = min(512 << 10, frameMax - 8 - 4)
                // Built from the records' bytes as the scan sees them: no event is decoded,
                // and none is copied into a String and an array on its way.
                var frame = EventsFrameBuilder(requestID: id, capacity: EventsFrameBuilder.overheadBytes + min(room, 256 << 10))
                var bytes = 0
                var scanned = 0
                var tooLarge: UInt64?
                let end = store.endPosition
                if position < end {
                    // At most 10,000 records a pass: a filter that matches little must not hold
                    // a cooperative thread for a whole log.
                    try store.scanRecords(from: position) { view in
                        // Stop before this record (it is read again next pass).
                        if scanned >= 10_000 && frame.count == 0 { return false }
                        scanned += 1
                        position = view.position + 1
                        let type = view.type
                        guard typeMask == 0 || (type >= 1 && type <= 32 && typeMask & (1 << (type - 1)) != 0) else { return true }
                        guard prefix.isEmpty || view.orderIDBytes.starts(with: prefix) else { return true }
                        let size = EventsFrameBuilder.eventBytes(orderIDBytes: view.orderIDBytes.count, payloadBytes: view.payload.count)
                        if size > frameMax - 8 - 4 || (frame.count > 0 && bytes + size > room) {
                            // Read again for the next frame — unless no frame can hold it.
                            position = view.position
                            if frame.count == 0 { tooLarge = view.position }
                            return false
                        }
                        frame.append(position: view.position, seq: view.seq, recordedAt: view.recordedAt, orderID: view.orderIDBytes,
                                     type: type, payload: view.payload)
                        bytes += size
                        return frame.count < limit
                    }
                }
                if let tooLarge {
                    code = "error"
                    reason = "the event at position \(tooLarge) is larger than the frame limit of \(frameMax) bytes"
                    break
                }
                if frame.count > 0 {
                    await credits.consume(frame.count)
                    try await sink.send(frame: frame.finish())
                    sent = position
                    lag?.record(Int(store.endPosition) - Int(position))
                    continue
                }
                sent = position  // scanned to here with nothing to send
                if position < end {
                    await Task.yield()
                    continue
                }
                if !caughtUp {
                    // Once, when the subscription first reaches the end: an empty EVENTS frame
                    // tells the client it has seen everything stored so far.
                    caughtUp = true
                    try await sink.send(id, .events([]))
                }
                guard let more = await credits.waitForRecords(in: store, after: position) else { break }  // ended
                if !more {
                    if !Task.isCancelled { code = "closed"; reason = "the log was closed" }
                    break
                }
            }
        } catch {
            code = "error"
            reason = "\(error)"
        }
        if stopping() && code == "unsubscribed" { code = "server_shutdown"; reason = "the server is stopping" }
        let last = Message.subscriptionEnded(code: code, message: reason, nextPosition: sent)
        if Task.isCancelled { return last }
        try? await sink.send(id, last)
        return nil
    }
}
