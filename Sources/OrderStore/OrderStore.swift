import Foundation
import LogStorage
import Logging
import OrderModel
import Synchronization

/// Every tunable of a store, each with its default.
public struct StoreConfiguration: Sendable {
    /// The log underneath (durability, segment size, …). Its payload limit is raised to hold
    /// the largest event the JSON form accepts (1 MiB; the binary form is never larger).
    public var log: LogConfiguration = {
        var c = LogConfiguration()
        c.payloadBytesMax = OrderEvent.jsonBytesMax + 4096
        return c
    }()
    /// Snapshots kept in memory; others are replayed from their events (a handful of reads)
    /// when asked for. Default 200,000.
    public var snapshotCacheMax = 200_000
    /// Bytes of snapshots kept in memory (estimated, `OrderSnapshot.estimatedBytes`): the
    /// bound that holds when orders are large. Default 256 MiB.
    public var snapshotCacheBytesMax = 256 << 20
    /// An order with more events than this is replayed off the caller's thread when a server
    /// asks (`replayCost`): work proportional to one order's history must not hold an event
    /// loop. Default 1000.
    public var replayEventsInline = 1000
    /// Events in one append batch. Default 10,000.
    public var batchEventsMax = 10_000
    /// How far ahead of the store's clock a kept `recorded_at` (a restore) may be, µs.
    /// Recorded times never decrease, so one ahead of the clock holds every later record at
    /// it; a small skew keeps that window small. Default 1 s.
    public var recordedAtSkewMax: Int64 = 1_000_000

    public init() {}
}

/// One event to append, with its condition.
public struct AppendEvent: Sendable, Equatable {
    public var event: OrderEvent
    public var expectedVersion: ExpectedVersion
    /// Keep this recorded time (an import of an export); nil: now.
    public var recordedAt: Int64?
    public init(_ event: OrderEvent, expectedVersion: ExpectedVersion = .any, recordedAt: Int64? = nil) {
        self.event = event
        self.expectedVersion = expectedVersion
        self.recordedAt = recordedAt
    }
}

/// One event to append in its binary form (docs/EVENTS.md §5), with its condition: what a
/// server passes on from an `APPEND` frame. The store reads and checks the bytes in place
/// (`check(_: [AppendRecord])`) without building an `OrderEvent`.
public struct AppendRecord: Sendable, Equatable {
    public var orderID: OrderID
    public var type: EventType
    public var payload: [UInt8]
    public var expectedVersion: ExpectedVersion
    /// Keep this recorded time (an import of an export); nil: now.
    public var recordedAt: Int64?

    public init(orderID: OrderID, type: EventType, payload: [UInt8], expectedVersion: ExpectedVersion = .any, recordedAt: Int64? = nil) {
        self.orderID = orderID
        self.type = type
        self.payload = payload
        self.expectedVersion = expectedVersion
        self.recordedAt = recordedAt
    }
}

/// What became of one event of an append.
public enum AppendResult: Sendable, Equatable {
    case stored(position: UInt64, seq: UInt32)
    /// Its `event_id` was already stored for its order, at this position; nothing was stored.
    case duplicate(position: UInt64)

    public var position: UInt64 {
        switch self {
        case .stored(let p, _), .duplicate(let p): p
        }
    }
}

/// The query layer: validated appends, snapshots (now, as of a time or a position), timelines,
/// lists by customer and status, totals and audits, over one `Log`.
///
/// Appends are serialized (each batch is checked against the orders' current state and
/// written under one lock, then awaits durability outside it, so batches from many producers
/// share fsyncs). Snapshots are cached; a miss replays the order's few events through its key
/// chain.
public final class OrderStore: Sendable {
    public let log: Log
    public let configuration: StoreConfiguration
    let logger: Logger

    struct State {
        /// Every stored order's handle: the cache, the lists and the totals are by handle.
        var table = OrderTable()
        var cache: SnapshotCache
        var indexes = OrderIndexes()
        var nextPosition: UInt64 = 0
        /// Set after a durability failure or a foreign write: appends are refused until reopen.
        var failure: StoreError?
        /// The latest recorded time the log holds that was ahead of the clock when written (a
        /// restore's kept `recorded_at`; later records are raised to it): `.min` when none.
        var aheadUntil: Int64 = .min
        /// Totals per currency and channel through `nextPosition`.
        var totals = RunningTotals()
        /// False once a failure left `totals` unsure (they may count a batch not on disk).
        var totalsValid = true
    }

    let state: Locked<State>

    private init(log: Log, configuration: StoreConfiguration, logger: Logger, state: State) {
        self.log = log
        self.configuration = configuration
        self.logger = logger
        self.state = Locked(state)
    }

    /// Opens (or creates) the store in `path`, replaying its log to rebuild the lists.
    public static func open(path: String, configuration: StoreConfiguration = StoreConfiguration(), logger: Logger? = nil) throws -> OrderStore {
        let logger = logger ?? Logger(label: "orderlog.store", factory: { _ in SwiftLogNoOpLogHandler() })
        let log: Log
        do { log = try Log.open(path: path, configuration: configuration.log, logger: logger) } catch { throw StoreError.storage(error) }
        var state = State(cache: SnapshotCache(countMax: configuration.snapshotCacheMax, bytesMax: configuration.snapshotCacheBytesMax))
        // Stored events that do not decode or that the rules refuse are logged and skipped
        // here; `audit` reports them with their positions.
        let workers = ParallelReplay.defaultWorkers
        // Orders have several events each; reserving for a guess avoids most rehashing.
        let expectedOrders = Int(min(log.endPosition.rawValue / 8, 50_000_000)) / workers
        let parts: [ReplayPart]
        do {
            parts = try ParallelReplay.run(log: log, workers: workers, makePart: { ReplayPart(capacity: expectedOrders) }) { part, view in
                let k: Int
                let event: EventView
                do throws(OrderError) {
                    k = try part.order(of: view)
                    event = try EventView.read(type: try StoredEvent.type(of: view), view.payload)
                } catch {
                    logger.error("stored event does not decode", metadata: ["position": "\(view.position)", "error": "\(error)"])
                    return
                }
                do throws(OrderError) {
                    try part.snapshots[k].apply(event, position: view.position.rawValue, time: event.ts?.microseconds ?? view.recordedAt.rawValue)
                } catch {
                    logger.error("stored event breaks a rule", metadata: ["position": "\(view.position)", "error": "\(error)"])
                }
            }
        } catch {
            try? log.close()
            throw StoreError.storage(error)
        }
        var snapshots: [OrderSnapshot] = []
        snapshots.reserveCapacity(parts.reduce(0) { $0 + $1.snapshots.count })
        // An order whose every event failed to read or apply has no state (as before it was
        // placed): it is in no list.
        for part in parts { snapshots.append(contentsOf: part.snapshots.lazy.filter(\.exists)) }
        // In placement order, so each customer's list is in the order the orders were placed
        // (and handles are numbered in that order).
        snapshots.sort { ($0.placedPosition ?? 0) < ($1.placedPosition ?? 0) }
        state.table = OrderTable(capacity: snapshots.count)
        var handles: [OrderHandle] = []
        handles.reserveCapacity(snapshots.count)
        for snapshot in snapshots {
            let h = state.table.intern(snapshot.orderID)
            handles.append(h)
            state.indexes.update(snapshot, handle: h)
            state.totals.add(snapshot, sign: 1, handle: h)
        }
        state.nextPosition = log.endPosition.rawValue
        // The newest record may carry a restore's time still ahead of the clock.
        if log.endPosition.rawValue > 0, let last = try? log.record(at: LogPosition(log.endPosition.rawValue - 1)), last.recordedAt.rawValue > clock() {
            state.aheadUntil = last.recordedAt.rawValue
        }
        // Keep the most recently changed orders warm, within both bounds: inserted oldest
        // change first, which is the order the cache evicts them in.
        let recent = snapshots.indices.sorted { (snapshots[$0].lastPosition ?? 0) > (snapshots[$1].lastPosition ?? 0) }
            .prefix(configuration.snapshotCacheMax).reversed()
        for k in recent { state.cache.insert(snapshots[k], for: handles[k]) }
        state.cache.trim()
        return OrderStore(log: log, configuration: configuration, logger: logger, state: state)
    }

    public func close() throws {
        do { try log.close() } catch { throw StoreError.storage(error) }
    }

    // MARK: - Appends

    /// Checks `batch` against the rules and the orders' current state, and stores it if every
    /// event passes — or nothing, if any is rejected (the error names its index). Events whose
    /// `event_id` their order already has are not stored again; their result is `.duplicate`
    /// with the original position. Returns when the stored events are durable.
    public func append(_ batch: [AppendEvent]) async throws -> [AppendResult] {
        try await waitUntilDurable(try write(batch))
    }

    /// A batch checked and written, waiting to be durable.
    public struct PendingWrite: Sendable {
        public let results: [AppendResult]
        let pending: PendingAppend?
    }

    /// The first half of `append`: checks the batch and writes it, in call order, without
    /// waiting for durability — for callers that pipeline (a server keeps each connection's
    /// batches in arrival order and answers each when `waitUntilDurable` returns).
    public func write(_ batch: [AppendEvent]) throws -> PendingWrite {
        try write(check(batch))
    }

    /// A batch that passed every check needing no order state, with what those checks
    /// computed: each event's canonical binary form (when it has its `ts`; one without is
    /// encoded when written, with the recorded time) and its orders grouped and hashed.
    /// Made by `check(_:)` on any thread — an import makes it on its parsing thread, so the
    /// thread that writes only does what needs the orders' state.
    public struct CheckedBatch: Sendable {
        let orders: BatchOrders
        /// Each event's canonical binary form: what is written, and what the rules read.
        let payloads: [[UInt8]]
        /// False for an event without `ts`: it is given its recorded time when written.
        let hasTime: [Bool]
        let types: [EventType]
        let expected: [ExpectedVersion]
        let recordedAts: [Int64?]

        public var count: Int { payloads.count }

        /// The batch's orders, each once, in first-seen order.
        public var orderIDs: [OrderID] { orders.ids }
    }

    /// Every check of `batch` that needs no order state: its size, the one check of every
    /// limit (EVENTS.md §4), whichever way the event came — what is stored must export to a
    /// line that imports back to the same bytes — and the recorded times'. Thread-safe; takes
    /// no lock. Throws `StoreError.rejected` naming the first event that fails.
    public func check(_ batch: [AppendEvent]) throws -> CheckedBatch {
        try check(count: batch.count) { i in
            let event = batch[i].event
            // A time out of range has no binary form: refused as `validate` refuses it (after
            // the recorded time's checks, as before).
            var refusal: OrderError?
            if let ts = event.ts, !ts.isInRange {
                refusal = OrderError(.invalidTimestamp, "ts \(ts) is outside years 0001–9999 (in UTC and in its offset) or its offset outside ±23:59", field: "ts")
            }
            return (event.orderID, event.type, refusal == nil ? event.encodeBinary() : [], batch[i].expectedVersion, batch[i].recordedAt, refusal)
        }
    }

    /// `check` of events in their binary form (a server's APPEND): each is read in place and
    /// held to the same limits; no `OrderEvent` is built. Bytes that are not the canonical
    /// form (EVENTS.md §5: a longer varint) are stored canonical.
    public func check(_ batch: [AppendRecord]) throws -> CheckedBatch {
        try check(count: batch.count) { i in
            let r = batch[i]
            return (r.orderID, r.type, r.payload, r.expectedVersion, r.recordedAt, nil)
        }
    }

    /// The checks of every event, whichever form it came in: `item(i)` gives the i-th event's
    /// order, type, binary form, condition, kept recorded time, and a refusal found before it
    /// had a binary form (reported after the recorded time's checks).
    private func check(count: Int, _ item: (Int) -> (OrderID, EventType, [UInt8], ExpectedVersion, Int64?, OrderError?)) throws -> CheckedBatch {
        guard count <= configuration.batchEventsMax else {
            throw StoreError(.invalidArgument, "batch of \(count) events exceeds the limit of \(configuration.batchEventsMax)")
        }
        let now = Self.clock()
        var ids: [OrderID] = [], types: [EventType] = [], payloads: [[UInt8]] = [], hasTime: [Bool] = []
        var expected: [ExpectedVersion] = [], recordedAts: [Int64?] = []
        ids.reserveCapacity(count); types.reserveCapacity(count); payloads.reserveCapacity(count); hasTime.reserveCapacity(count)
        expected.reserveCapacity(count); recordedAts.reserveCapacity(count)
        for i in 0..<count {
            let (id, type, bytes, condition, recordedAt, refusal) = item(i)
            // A kept recorded time from the future would hold every later record there
            // (recorded times never decrease), breaking as-of queries for good.
            if let r = recordedAt, r > now &+ configuration.recordedAtSkewMax {
                throw StoreError.rejected(OrderError(.invalidField, "recorded_at \(EventTime(microseconds: r)) is in the future (more than \(configuration.recordedAtSkewMax / 1000) ms after this store's clock, \(EventTime(microseconds: now)))", orderID: id.value, field: "recorded_at"), at: i)
            }
            if let r = recordedAt, !EventTime(microseconds: r).isInRange {
                throw StoreError.rejected(OrderError(.invalidTimestamp, "recorded_at \(r) µs is outside years 0001–9999", orderID: id.value, field: "recorded_at"), at: i)
            }
            if var refusal {
                refusal.orderID = id.value
                throw StoreError.rejected(refusal, at: i)
            }
            // The one check of every limit (EVENTS.md §4), on the bytes, whichever way the
            // event came: what is stored must export to a line that imports back to the same
            // bytes. Then the canonical form: what the log keeps.
            let checked = bytes.withUnsafeBytes { raw in
                Result { () throws(OrderError) -> (canonical: [UInt8]?, hasTime: Bool) in
                    let view = try EventView.read(type: type, raw)
                    try EventLimits.validate(view, orderID: id)
                    if view.isCanonical { return (nil, view.ts != nil) }
                    return (try OrderEvent.decodeBinary(orderID: id, type: type, raw).encodeBinary(), view.ts != nil)
                }
            }
            switch checked {
            case .failure(var error):
                error.orderID = id.value
                throw StoreError.rejected(error, at: i)
            case .success(let c):
                payloads.append(c.canonical ?? bytes)
                hasTime.append(c.hasTime)
            }
            ids.append(id); types.append(type); expected.append(condition); recordedAts.append(recordedAt)
        }
        // The batch's orders, each once, with their hashes: under the lock, no hashing of an
        // id per event.
        return CheckedBatch(orders: BatchOrders(ids), payloads: payloads, hasTime: hasTime, types: types, expected: expected, recordedAts: recordedAts)
    }

    /// `write(_:)` of a batch already checked.
    public func write(_ checked: CheckedBatch) throws -> PendingWrite {
        let orders = checked.orders
        guard checked.count > 0 else { return PendingWrite(results: [], pending: nil) }
        let now = Self.clock()
        // Orders missing from the cache are replayed before the lock is taken: one long order
        // must not hold every other producer's appends. A replay is used under the lock only
        // if it is still current; if the cache changed meanwhile, the write starts again
        // (twice at most, then the replay is done under the lock).
        for attempt in 0..<3 {
            // `seen`: the store's end when the orders were looked at. If nothing was written
            // since, what was found then still holds under the lock (no second look needed).
            let (missing, seen) = state.withLock { s in
                (orders.ids.indices.filter { k in !(s.table.find(orders.ids[k], hash: orders.hashes[k]).map(s.cache.contains) ?? false) }, s.nextPosition)
            }
            var prepared = [Prepared](repeating: .none, count: orders.count)
            for k in missing {
                // An order with no events yet needs no replay: it is new.
                guard head(of: orders.ids[k]) != nil else { prepared[k] = .new; continue }
                do { prepared[k] = .replayed(try replay(orders.ids[k], through: nil, includingUnsynced: true)) } catch { throw StoreError.storage(error) }
            }
            if let written = try write(checked, prepared: &prepared, seen: seen, now: now, replayUnderLock: attempt == 2) {
                return written
            }
        }
        throw StoreError(.storage, "the batch could not be checked: its orders kept changing")
    }

    /// What the unlocked half of `write` found for an order missing from the cache.
    private enum Prepared {
        case none
        /// It had no events.
        case new
        /// Its snapshot, replayed.
        case replayed(OrderSnapshot)
    }

    /// The locked half of `write`: nil when a snapshot it needs is neither cached nor
    /// prepared and current (the caller prepares it and calls again), unless `replayUnderLock`.
    private func write(_ checked: CheckedBatch, prepared: inout [Prepared],
                       seen: UInt64, now: Int64, replayUnderLock: Bool) throws -> PendingWrite? {
        let orders = checked.orders, payloads = checked.payloads
        let outcome: ([AppendResult], PendingAppend?)? = try state.withLock { (s: inout State) throws -> ([AppendResult], PendingAppend?)? in
            if let failure = s.failure { throw failure }
            // Every write holds this lock and moves `nextPosition`: unchanged, what the
            // unlocked half found (new orders, replays) still holds.
            let unchanged = s.nextPosition == seen
            // Snapshots of this batch's orders are moved out of the cache while the batch is
            // checked, and changed in place in `working`: with no second reference left,
            // changing one never copies its arrays. They go back into the cache only if the
            // batch is written; after a rejected batch those orders are replayed from the log
            // (outside the lock) when next needed. All are gathered before any event is
            // applied, so a write that must start again has changed nothing.
            var working: [OrderSnapshot] = []
            working.reserveCapacity(orders.count)
            // Each order's handle; nil: not stored yet (it gets one if the batch is written).
            var handles: [OrderHandle?] = []
            handles.reserveCapacity(orders.count)
            // What the orders gathered so far go back to if the write must start again.
            func putBack() {
                for (k, snapshot) in working.enumerated() where snapshot.exists {
                    if let h = handles[k] { s.cache.insert(snapshot, for: h) }
                }
            }
            for (k, id) in orders.ids.enumerated() {
                let handle = s.table.find(id, hash: orders.hashes[k])
                handles.append(handle)
                if let handle, let cached = s.cache.remove(handle) {
                    working.append(cached)
                    continue
                }
                let found = prepared[k]
                prepared[k] = .none  // moved out: no second reference to the replayed snapshot
                if unchanged {
                    switch found {
                    case .new: working.append(OrderSnapshot(orderID: id)); continue
                    case .replayed(let snapshot): working.append(snapshot); continue
                    case .none: break
                    }
                }
                // Appends hold this lock, so the head cannot move while we look.
                let head = head(of: id)
                if head == nil {
                    working.append(OrderSnapshot(orderID: id))
                } else if case .replayed(let ready) = found, ready.lastPosition == head {
                    working.append(ready)
                } else if replayUnderLock {
                    do { working.append(try replay(id, through: nil, includingUnsynced: true)) } catch { throw StoreError.storage(error) }
                } else {
                    putBack()
                    return nil
                }
            }
            let before = working.withUnsafeBufferPointer { w in w.map(RunningTotals.Amounts.init) }
            var results: [AppendResult] = []
            var requests: [AppendRequest] = []
            results.reserveCapacity(checked.count)
            requests.reserveCapacity(checked.count)
            // Each order's log key, made once per batch.
            var keys = [LogKey?](repeating: nil, count: orders.count)
            // The rules read each event's canonical binary form in place (`EventView`): the
            // writer builds no event and copies none. The snapshots are used where they are,
            // through a buffer pointer, and passed inout (a non-mutating call on an array
            // element copied it first — a retain of every string and array it holds).
            func admit(_ snapshot: inout OrderSnapshot, _ event: EventView, _ expected: ExpectedVersion) throws(OrderError) -> OrderSnapshot.Admission {
                try snapshot.admit(event, expected: expected)
            }
            let nextPosition = s.nextPosition
            try working.withUnsafeMutableBufferPointer { working in
                for i in 0..<checked.count {
                    let slot = orders.slotOf[i]
                    // An event without `ts` happened when it is recorded; storing that time makes
                    // every replay see the same milestones.
                    let payload = checked.hasTime[i] ? payloads[i]
                        : OrderEvent.binary(payloads[i], withTime: EventTime(microseconds: checked.recordedAts[i] ?? now))
                    let position = nextPosition + UInt64(requests.count)
                    let outcome = payload.withUnsafeBytes { raw in
                        Result { () throws(OrderError) -> AppendResult in
                            let event = try EventView.read(type: checked.types[i], raw)
                            if case .duplicate(let original) = try admit(&working[slot], event, checked.expected[i]) {
                                return .duplicate(position: original)
                            }
                            try working[slot].apply(event, position: position, time: event.ts!.microseconds)
                            return .stored(position: position, seq: working[slot].version)
                        }
                    }
                    let result: AppendResult
                    switch outcome {
                    case .success(let r): result = r
                    case .failure(let error): throw StoreError.rejected(error, at: i)
                    }
                    results.append(result)
                    guard case .stored = result else { continue }
                    if keys[slot] == nil {
                        let id = orders.ids[slot]
                        do { keys[slot] = try LogKey(id.value) } catch {
                            throw StoreError.rejected(OrderError(.invalidOrderID, "order_id \"\(id.value)\" cannot be a log key", orderID: id.value), at: i)
                        }
                    }
                    requests.append(AppendRequest(
                        key: keys[slot]!, type: RecordType(checked.types[i].code), payload: payload,
                        recordedAt: checked.recordedAts[i].map { RecordTimestamp(rawValue: $0) }))
                }
            }
            guard !requests.isEmpty else {
                // Only duplicates: nothing changed, so the snapshots go back as they were.
                putBack()
                s.cache.trim()
                return (results, nil)
            }
            guard log.nextPosition.rawValue == s.nextPosition else {
                // Something else appended to the log underneath the store: its state no longer
                // describes the log. Refuse everything until it is reopened.
                s.failure = StoreError(.storage, "the log was appended to outside the store (expected position \(s.nextPosition), the log is at \(log.nextPosition)); reopen the store")
                s.cache.removeAll()
                s.totalsValid = false
                throw s.failure!
            }
            let pending: PendingAppend
            do { pending = try log.write(requests) } catch { throw StoreError.storage(error) }
            guard pending.receipt.firstPosition.rawValue == s.nextPosition else {
                // Something else appended to the log underneath the store: its state no longer
                // describes the log. Refuse everything until it is reopened.
                s.failure = StoreError(.storage, "the log was appended to outside the store (expected position \(s.nextPosition), got \(pending.receipt.firstPosition)); reopen the store")
                s.cache.removeAll()
                s.totalsValid = false
                throw s.failure!
            }
            s.nextPosition += UInt64(requests.count)
            for i in 0..<checked.count {
                if case .stored = results[i], let r = checked.recordedAts[i], r > now { s.aheadUntil = max(s.aheadUntil, r) }
            }
            // Moved, not copied, into the cache: the batch's snapshots leave `working` last
            // first, so reversed first to keep first-seen order (the lists' order).
            working.withUnsafeMutableBufferPointer { $0.reverse() }  // moves; Array.reverse copies each
            var k = 0
            while let snapshot = working.popLast() {
                defer { k += 1 }
                guard snapshot.exists else { continue }
                let h = handles[k] ?? s.table.intern(orders.ids[k], hash: orders.hashes[k])
                s.totals.add(before[k], of: snapshot, sign: -1, handle: h)
                s.totals.add(snapshot, sign: 1, handle: h)
                s.indexes.update(snapshot, handle: h)
                s.cache.insert(snapshot, for: h)
            }
            s.cache.trim()
            return (results, pending)
        }
        guard let (results, pending) = outcome else { return nil }
        return PendingWrite(results: results, pending: pending)
    }

    /// The second half of `append`: returns the batch's results once it is durable.
    public func waitUntilDurable(_ write: PendingWrite) async throws -> [AppendResult] {
        if write.pending == nil, let newest = write.results.map(\.position).max() {
            // Only duplicates: their originals may still be waiting for their fsync. Answer
            // when those are durable (readers see only durable records under `always`).
            guard await log.waitForRecords(after: LogPosition(newest)) else {
                throw StoreError(.storage, "the log closed before the original events were durable")
            }
        }
        if let pending = write.pending {
            do { try await log.waitUntilDurable(pending) } catch {
                // The cache and lists already include this batch, which may not be on disk.
                // Drop the cache (reads then replay what is durable) and refuse appends.
                let failure = StoreError.storage(error)
                state.withLock { s in
                    s.failure = StoreError(.storage, "an append could not be made durable (\(failure.message)); reopen the store", logError: failure.logError)
                    s.cache.removeAll()
                    s.totalsValid = false
                }
                throw failure
            }
        }
        return write.results
    }

    /// The store's clock, µs since the Unix epoch.
    static func clock() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// The recorded time an as-of query at `time` means. Recorded times run ahead of the clock
    /// only after a restore kept one (at most `recordedAtSkewMax` ahead; later records are
    /// raised to it): a time within that skew below it means it, so "as of now" sees
    /// everything stored. Every other time is exact.
    /// Once the clock has passed that time by the skew, every time is exact again (as after
    /// a reopen).
    func effectiveTime(_ time: Int64) -> Int64 {
        let ahead = state.withLock { $0.aheadUntil }
        let skew = configuration.recordedAtSkewMax
        guard ahead != .min, Self.clock() < ahead &+ skew else { return time }
        return time < ahead && time >= ahead &- skew ? ahead : time
    }

    /// The position of the order's newest written event, durable or not; nil: it has none.
    private func head(of id: OrderID) -> UInt64? {
        (try? LogKey(id.value)).flatMap { log.head(forKey: $0)?.position.rawValue }
    }

    /// How many events the reads or the write that `ids` need would replay: 0 when every
    /// order is cached. A server runs the work on a thread pool above
    /// `configuration.replayEventsInline`, so no event loop replays a long order.
    public func replayCost(_ ids: some Sequence<OrderID>, cachedCountsAsFree: Bool = true) -> Int {
        // One look at the cache for the whole batch: this runs before every append a server takes.
        let uncached = cachedCountsAsFree ? state.withLock { s in ids.filter { !(s.table.find($0).map(s.cache.contains) ?? false) } } : Array(ids)
        var cost = 0
        for id in uncached {
            guard let key = try? LogKey(id.value), let head = log.head(forKey: key) else { continue }
            cost += Int(head.sequence.rawValue)
        }
        return cost
    }

    /// Memory held by cached snapshots: (count, estimated bytes).
    public var cacheUsage: (count: Int, bytes: Int) { state.withLock { ($0.cache.count, $0.cache.bytes) } }

    /// Replays `id`'s events whose filter passes into a snapshot.
    /// Replays `id`'s events, oldest first, while `include` (given the event's position and
    /// recorded time) holds, applying each from its stored bytes. A stored event the rules
    /// refuse is logged and skipped (stored events are replayed, not judged); one that does not
    /// read throws, as `history` does.
    func replay(_ id: OrderID, through include: ((_ position: UInt64, _ recordedAt: Int64) -> Bool)?, includingUnsynced: Bool = false) throws -> OrderSnapshot {
        let records: [Record]
        do { records = try log.records(forKey: try LogKey(id.value), includingUnsynced: includingUnsynced) } catch { throw StoreError.storage(error) }
        var snapshot = OrderSnapshot(orderID: id)
        for record in records {
            let position = record.position.rawValue, recordedAt = record.recordedAt.rawValue
            if let include, !include(position, recordedAt) { break }
            guard let type = EventType(code: record.type.rawValue) else {
                throw StoreError.storage(OrderError(.corruptPayload, "record \(position) has unknown event type code \(record.type.rawValue)", orderID: id.value))
            }
            // Outer result: the record reads; inner: the rules' answer.
            let outcome = record.payload.withUnsafeBytes { raw in
                Result { () throws(OrderError) -> OrderError? in
                    let event = try EventView.read(type: type, raw)
                    do throws(OrderError) {
                        try snapshot.apply(event, position: position, time: event.ts?.microseconds ?? recordedAt)
                        return nil
                    } catch { return error }
                }
            }
            switch outcome {
            case .failure(var error):
                error.orderID = id.value
                throw StoreError.storage(error)
            case .success(let refused?):
                logger.error("stored event breaks a rule", metadata: ["position": "\(position)", "error": "\(refused)"])
            case .success(nil):
                break
            }
        }
        return snapshot
    }

    // MARK: - Reads

    /// The order now, or nil if it has no events.
    public func snapshot(_ id: OrderID) throws -> OrderSnapshot? {
        let hash = OrderTable.hash(id)
        if let cached = state.withLock({ s in s.table.find(id, hash: hash).flatMap { s.cache[$0] } }) { return cached }
        let snapshot = try replay(id, through: nil)
        guard snapshot.exists else { return nil }
        state.withLock { s in
            // Cache it only if it holds the order's newest written event: an append since the
            // replay (or one not yet durable, which the replay could not see) makes it stale.
            // Appends hold this lock, so the head cannot move while we look.
            let head = (try? LogKey(id.value)).flatMap { log.head(forKey: $0)?.position.rawValue }
            // A stored order has a handle (every one is given one when its first event is).
            if let h = s.table.find(id, hash: hash), !s.cache.contains(h) && snapshot.lastPosition == head {
                s.cache.insert(snapshot, for: h)
                s.cache.trim()
            }
        }
        return snapshot
    }

    /// The order as of global position `position`: exactly its events at or before it.
    /// The cached snapshot serves when the order's newest event is at or before `position`:
    /// it then holds exactly those events (and the parts of a snapshot read as of the
    /// position the first part gave agree with it).
    public func snapshot(_ id: OrderID, asOfPosition position: UInt64) throws -> OrderSnapshot? {
        let hash = OrderTable.hash(id)
        if let cached = state.withLock({ s in s.table.find(id, hash: hash).flatMap { s.cache[$0] } }), let last = cached.lastPosition, last <= position { return cached }
        // Written events count, durable or not yet, as for the cached snapshot now: the parts
        // of one snapshot must agree whichever path serves them.
        let s = try replay(id, through: { p, _ in p <= position }, includingUnsynced: true)
        return s.exists ? s : nil
    }

    /// The order as it was recorded at time `time` (µs since the Unix epoch): its events
    /// recorded at or before it.
    ///
    /// As of now or later, everything stored counts — whatever recorded times a restore left
    /// slightly ahead of the clock (EVENTS.md §4, "Recorded time").
    public func snapshot(_ id: OrderID, asOfTime time: Int64) throws -> OrderSnapshot? {
        let time = effectiveTime(time)
        let s = try replay(id, through: { _, recorded in recorded <= time })
        return s.exists ? s : nil
    }

    /// The order's timeline: every event, oldest first, with its position and times.
    public func history(_ id: OrderID) throws -> [StoredEvent] {
        try history(id, includingUnsynced: false)
    }

    func history(_ id: OrderID, includingUnsynced: Bool) throws -> [StoredEvent] {
        let key: LogKey
        do { key = try LogKey(id.value) } catch { throw StoreError.storage(error) }
        do {
            return try log.records(forKey: key, includingUnsynced: includingUnsynced).map { try StoredEvent.decode($0) }
        } catch { throw StoreError.storage(error) }
    }

    /// A customer's orders, most recently placed first.
    public func orders(ofCustomer customer: String) -> [OrderID] {
        state.withLock { $0.indexes.orders(ofCustomer: customer, $0.table) }
    }

    /// The orders whose status is `status`, by id.
    public func orders(withStatus status: OrderSnapshot.Status) -> [OrderID] {
        state.withLock { $0.indexes.orders(withStatus: status, $0.table) }
    }

    /// A page of a customer's orders, most recently placed first: at most `limit`, after the
    /// `cursor` a previous page returned (nil: from the newest). Throws `invalidArgument` for
    /// a cursor this list did not give.
    public func orders(ofCustomer customer: String, after cursor: String?, limit: Int) throws -> OrderPage {
        try state.withLock { s throws(StoreError) in try s.indexes.page(ofCustomer: customer, after: cursor, limit: limit, s.table) }
    }

    /// A page of the orders whose status is `status`, by id: at most `limit`, with ids after
    /// `cursor` (nil: from the first).
    public func orders(withStatus status: OrderSnapshot.Status, after cursor: String?, limit: Int) -> OrderPage {
        state.withLock { $0.indexes.page(withStatus: status, after: cursor, limit: limit, $0.table) }
    }

    public var orderCount: Int { state.withLock { $0.indexes.orderCount } }

    /// Stored events in log order from `position`, up to `limit`.
    public func events(from position: UInt64, limit: Int) throws -> [StoredEvent] {
        var result: [StoredEvent] = []
        do {
            try log.scan(from: LogPosition(position)) { view in
                result.append(try StoredEvent.decode(view))
                return result.count < limit
            }
        } catch { throw StoreError.storage(error) }
        return result
    }

    /// Visits every stored event in log order from `position`.
    public func forEachEvent(from position: UInt64 = 0, _ body: (StoredEvent) throws -> Bool) throws {
        do {
            try log.scan(from: LogPosition(position)) { view in try body(try StoredEvent.decode(view)) }
        } catch { throw StoreError.storage(error) }
    }
}

/// One replay worker's orders: found by the bytes of a record's key (no String per record),
/// each snapshot changed in place where it is.
struct ReplayPart: Sendable {
    var table: OrderTable
    var snapshots: [OrderSnapshot] = []

    init(capacity: Int) {
        table = OrderTable(capacity: capacity)
        snapshots.reserveCapacity(capacity)
    }

    /// The index of the record's order, added (with an empty snapshot) if new. Throws
    /// `invalid_order_id` for a key that is not an order id.
    mutating func order(of view: RecordView) throws(OrderError) -> Int {
        let hash = OrderTable.hash(bytes: view.keyBytes)
        if let h = table.find(bytes: view.keyBytes, hash: hash) { return h.index }
        let id = try OrderID(String(decoding: view.keyBytes, as: UTF8.self))
        let h = table.intern(id, hash: hash)
        snapshots.append(OrderSnapshot(orderID: id))
        return h.index
    }
}

extension StoredEvent {
    /// A record's event type, or `corrupt_payload` for a code the catalog does not have.
    static func type(of view: RecordView) throws(OrderError) -> EventType {
        guard let type = EventType(code: view.type.rawValue) else {
            throw OrderError(.corruptPayload, "record \(view.position) has unknown event type code \(view.type.rawValue)")
        }
        return type
    }

    /// Decodes a log record into the event it holds.
    static func decode(_ view: RecordView) throws -> StoredEvent {
        let orderID = try OrderID(String(decoding: view.keyBytes, as: UTF8.self))
        guard let type = EventType(code: view.type.rawValue) else {
            throw OrderError(.corruptPayload, "record \(view.position) has unknown event type code \(view.type.rawValue)", orderID: orderID.value)
        }
        let event = try OrderEvent.decodeBinary(orderID: orderID, type: type, view.payload)
        return StoredEvent(event: event, position: view.position.rawValue, seq: view.sequence.rawValue, recordedAt: view.recordedAt.rawValue)
    }

    static func decode(_ record: Record) throws -> StoredEvent {
        let orderID = try OrderID(record.key.string)
        guard let type = EventType(code: record.type.rawValue) else {
            throw OrderError(.corruptPayload, "record \(record.position) has unknown event type code \(record.type.rawValue)", orderID: orderID.value)
        }
        let event = try record.payload.withUnsafeBytes { try OrderEvent.decodeBinary(orderID: orderID, type: type, $0) }
        return StoredEvent(event: event, position: record.position.rawValue, seq: record.sequence.rawValue, recordedAt: record.recordedAt.rawValue)
    }
}

/// An event as the log holds it: its place and its canonical binary payload (docs/EVENTS.md
/// §5), not decoded — for callers that pass it on as it is (a server's HISTORY).
public struct StoredRecord: Sendable, Equatable {
    public var position: UInt64
    public var seq: UInt32
    /// µs since the Unix epoch.
    public var recordedAt: Int64
    public var orderID: String
    /// The event type code (EVENTS.md §3).
    public var type: UInt16
    public var payload: [UInt8]
}

extension OrderStore {
    /// The order's stored events, oldest first, as their bytes: no decode, no encode. They
    /// are what the store wrote after its checks, so they decode (`history` decodes them).
    public func storedRecords(of id: OrderID) throws -> [StoredRecord] {
        let key: LogKey
        do { key = try LogKey(id.value) } catch { throw StoreError.storage(error) }
        do {
            return try log.records(forKey: key).map {
                StoredRecord(position: $0.position.rawValue, seq: $0.sequence.rawValue, recordedAt: $0.recordedAt.rawValue,
                             orderID: id.value, type: $0.type.rawValue, payload: $0.payload)
            }
        } catch { throw StoreError.storage(error) }
    }
}
