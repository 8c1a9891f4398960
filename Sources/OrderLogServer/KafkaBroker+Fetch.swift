import Dispatch
import KafkaProtocol
import OrderModel
import OrderStore

/// Fetch (docs/KAFKA.md §4): every partition asked for read from the one log — by two scans at
/// once when there is enough — each event's export line written from its stored bytes into
/// its partition's record batch; long polling until `min_bytes` or `max_wait_ms`.
extension KafkaBroker {
    /// A fetch's answer as it is built: the response's topics, and the record bytes in them
    /// (what `min_bytes` is held to).
    private struct FetchAnswer: Sendable {
        var topics: [(name: String, partitions: [KafkaResponse.FetchPartition])]
        var bytes: Int
    }

    func fetch(_ request: FetchRequest) async -> [(name: String, partitions: [KafkaResponse.FetchPartition])] {
        let deadline = ContinuousClock.now + min(.milliseconds(Int(max(0, request.maxWaitMs))), configuration.fetchWaitMax)
        while true {
            let end = store.endPosition
            let answer = fetchOnce(request)
            if answer.bytes >= Int(request.minBytes) || answer.bytes > 0 && request.minBytes <= 0 || ContinuousClock.now >= deadline { return answer.topics }
            // Nothing (or too little) yet: wait for a new durable event, or the deadline.
            let woke = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await self.store.waitForRecords(after: end) }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !woke { return fetchOnce(request).topics }
        }
    }

    /// The record headers' names (static text: valid for the process's life).
    private static var typeHeader: UnsafeRawBufferPointer { staticBytes("type") }
    private static var seqHeader: UnsafeRawBufferPointer { staticBytes("seq") }
    private static func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) }

    /// One partition's part of a fetch, as a scan fills it.
    private struct FetchPart: Sendable {
        var from: Int64
        var limit: Int
        var records = RecordBatchBuilder()
        var lastOffsetDelta: Int32 = 0
        var base: (offset: Int64, timestamp: Int64)?
        var size = 0
        var maxTimestamp: Int64 = -1
        /// Where this partition's read stopped (the first record not taken); nil: still reading.
        var stoppedAt: Int64?
    }

    /// Every partition asked for, from scans of the log: the partitions' offsets all index
    /// the one log, so a scan starts at the smallest and hands each record to its key's
    /// partition when that partition's fetch has reached it (a scan a partition cost the whole
    /// log's reading once per partition). With more than one partition and enough to read,
    /// the partitions are split in two halves read by two scans at once — a consumer's fetch
    /// uses both cores — each with its share of the response's byte budget.
    private func fetchOnce(_ request: FetchRequest) -> FetchAnswer {
        let end = Int64(store.endPosition)
        let n = configuration.partitions
        let budget = min(Int(max(0, request.maxBytes)), configuration.fetchBytesMax)
        // By partition, mutated in place (a copy out and back would copy each record list
        // on every record).
        var parts = [FetchPart?](repeating: nil, count: n)
        var answers: [(name: String, partitions: [KafkaResponse.FetchPartition])] = []
        for topic in request.topics {
            for p in topic.partitions where knownPartition(topic.name, p.index) && p.fetchOffset >= 0 && p.fetchOffset <= end && parts[Int(p.index)] == nil {
                parts[Int(p.index)] = FetchPart(from: p.fetchOffset, limit: Int(max(0, p.partitionMaxBytes)))
            }
        }
        var failed = false
        // The partitions with records ahead of them (one at the end has nothing to read and
        // takes no share of the budget).
        let reading = parts.indices.filter { parts[$0].map { $0.from < end } ?? false }
        if let start = parts.compactMap({ $0?.from }).min(), start < end {
            if reading.count > 1 && end - start >= configuration.parallelFetchRecords {
                // Halves by alternate partition, so each half's share of the records is alike.
                let halves = [reading.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), reading.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)]
                // Two threads, this one and a worker: with NIO as Swift's global executor a
                // child task would be queued on this same event loop and run after, not beside.
                var results = [(parts: [FetchPart?], failed: Bool)](repeating: ([], false), count: 2)
                results.withUnsafeMutableBufferPointer { slots in
                    // Each iteration writes its own slot only; concurrentPerform returns once both have.
                    nonisolated(unsafe) let slots = slots
                    let initial = parts
                    DispatchQueue.concurrentPerform(iterations: 2) { h in
                        var mine = [FetchPart?](repeating: nil, count: n)  // this half's partitions only
                        for k in halves[h] { mine[k] = initial[k] }
                        let failed = scan(&mine, end: end, budget: budget * halves[h].count / reading.count)
                        slots[h] = (mine, failed)
                    }
                }
                // A damaged record met by either half fails the fetch, as one scan meeting it would.
                for r in results {
                    failed = failed || r.failed
                    for k in r.parts.indices where r.parts[k] != nil { parts[k] = r.parts[k] }
                }
            } else {
                failed = scan(&parts, end: end, budget: budget)
            }
        }
        // A partition asked for twice is answered once with records (a repeat must not
        // multiply the response).
        var answered = Set<Int32>()
        for topic in request.topics {
            answers.append((topic.name, topic.partitions.map { p in
                guard knownPartition(topic.name, p.index) else { return .init(index: p.index, error: .unknownTopicOrPartition, highWatermark: -1, records: []) }
                guard answered.insert(p.index).inserted else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                guard p.fetchOffset >= 0, p.fetchOffset <= end else { return .init(index: p.index, error: .offsetOutOfRange, highWatermark: end, records: []) }
                if failed { return .init(index: p.index, error: .corruptMessage, highWatermark: end, records: []) }
                guard let part = parts[Int(p.index)] else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                // The batch's last offset is where this partition's read stopped, less one —
                // past its last record when it has no more records before that — so the
                // consumer's next fetch starts there, not again at the gap (offsets are the
                // log's positions, shared by all partitions; Kafka batches may end past their
                // last record, as compacted ones do). With no record at all: an empty batch
                // over the gap.
                let scannedTo = part.stoppedAt ?? end
                let first = part.base ?? (part.from, 0)
                guard scannedTo > first.offset else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                let lastDelta = Int32(clamping: scannedTo - 1 - first.offset)
                let header = RecordBatch(baseOffset: first.offset, lastOffsetDelta: max(lastDelta, part.lastOffsetDelta), baseTimestamp: first.timestamp,
                                         maxTimestamp: part.base == nil ? 0 : part.maxTimestamp, records: [])
                return .init(index: p.index, error: .none, highWatermark: end, records: part.records.finish(header))
            }))
        }
        return FetchAnswer(topics: answers, bytes: answers.reduce(0) { $0 + $1.partitions.reduce(0) { $0 + $1.records.count } })
    }

    /// Reads the log from the smallest offset `parts` asks for to `end`, adding each record to
    /// its partition's batch while that partition is under its limit and the response under
    /// `budget` bytes; every part ends with where its read stopped. Returns whether the log
    /// could not be read (a damaged record).
    private func scan(_ parts: inout [FetchPart?], end: Int64, budget: Int) -> Bool {
        guard let start = parts.compactMap({ $0?.from }).min(), start < end else { return false }
        let n = parts.count
        var budget = budget
        var failed = false
        var wanted = parts.map { $0 != nil }
        var open = parts.count { $0 != nil }
        var stopAll: Int64?
        do {
            // The export line and the seq header are written into buffers reused for
            // every record, then copied into the partition's batch: no String, array or
            // `OrderEvent` a record.
            var line = JSONBytes(capacity: 1024)
            var seqText = JSONBytes(capacity: 16)
            // The key's partition, computed once: `keyMatches` sees each record just
            // before `body` does.
            var k = 0
            try store.forEachEventView(from: UInt64(start), to: UInt64(end), keyMatches: { key in
                k = KafkaPartitioner.partition(of: key, partitions: n)
                return wanted[k]
            }) { e in
                let position = Int64(e.stored.position)
                // Fields read, not the part copied: a copy alive while its records grow would
                // copy them on every record.
                guard parts[k] != nil, parts[k]!.stoppedAt == nil, position >= parts[k]!.from else { return true }
                let empty = parts[k]!.records.count == 0, size = parts[k]!.size, limit = parts[k]!.limit
                line.removeAll()
                try e.writeExportLine(to: &line)
                let bytes = line.count + e.orderID.count + 48
                let timestamp = e.stored.recordedAt / 1000
                let first = parts[k]!.base ?? (position, timestamp)
                // At least one record a partition, whatever the limits (so a large one is
                // never stuck); offsets in one batch are 32-bit deltas from its base.
                if !empty && (size + bytes > limit || position - first.offset >= Int64(Int32.max) - 1) {
                    parts[k]!.stoppedAt = position
                    open -= 1
                    wanted[k] = false
                    return open > 0
                }
                if !empty && bytes > budget {
                    stopAll = position
                    return false
                }
                parts[k]!.base = first
                seqText.removeAll()
                seqText.unsigned(UInt64(e.stored.seq))
                let delta = Int32(position - first.offset)
                var type = e.event.type.rawValue
                type.withUTF8 { typeBytes in
                    line.withUnsafeBytes { value in
                        seqText.withUnsafeBytes { seq in
                            parts[k]!.records.append(offsetDelta: delta, timestampDelta: timestamp - first.timestamp, key: e.orderID, value: value,
                                                     (Self.typeHeader, UnsafeRawBufferPointer(typeBytes)), (Self.seqHeader, seq))
                        }
                    }
                }
                parts[k]!.lastOffsetDelta = delta
                parts[k]!.size += bytes
                parts[k]!.maxTimestamp = max(parts[k]!.maxTimestamp, timestamp)
                budget -= min(budget, bytes)
                return true
            }
        } catch {
            failed = true
        }
        for k in parts.indices where parts[k] != nil && parts[k]!.stoppedAt == nil { parts[k]!.stoppedAt = stopAll ?? end }
        return failed
    }
}
