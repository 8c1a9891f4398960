import Foundation
import Synchronization
import LogStorage
import OrderModel

/// The write path: `check` (every check that needs no order state, on any thread), `write`
/// (under the store's lock: the rules against each order's state, the log write, then cache,
/// lists and totals), `waitUntilDurable` (the log's group commit).
extension OrderStore {
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
                if written.pending != nil {
                    persistTotalsMarks()
                    checkpointIfDue()
                }
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
                    do { working.append(try replay(id, through: nil, includingUnsynced: true, underLock: s)) } catch { throw StoreError.storage(error) }
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
                s.pendingMarks = []
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
                s.pendingMarks = []
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
                s.indexes.update(snapshot, handle: h, s.table)
                s.checkpoint.mark(h)
                s.cache.insert(snapshot, for: h)
            }
            s.cache.trim()
            if Self.takeTotalsMarkIfDue(&s, interval: configuration.totalsMarkEvents) { marksPending.store(true, ordering: .relaxed) }
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
                    s.pendingMarks = []
                }
                throw failure
            }
        }
        return write.results
    }
}
