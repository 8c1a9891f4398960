import Dispatch
import KafkaProtocol
import OrderModel
import OrderStore
import Synchronization

/// Produce (docs/KAFKA.md §3): a request's partitions read and checked first — on a worker
/// ahead of their turn (`prepare`), or here, on two threads when there are several — then
/// stored one partition after another, each all or nothing.
extension KafkaBroker {
    /// Bytes a request's batches may expand to, in all (each batch alone is bounded too).
    /// The bytes one request's batches may decompress to, all partitions together (they may
    /// be read at once: each decompresses within what is left, then is charged what it took).
    final class DecompressionBudget: Sendable {
        private let left = Mutex(RecordBatch.decompressedBytesMax)
        var remaining: Int { left.withLock { $0 } }
        /// Charges `n` bytes; false (nothing charged) when fewer are left.
        func charge(_ n: Int) -> Bool { left.withLock { l in guard n <= l else { return false }; l -= n; return true } }
    }

    /// One partition's records as read, before any of them is stored: its batches, and each
    /// record read and checked as an order event (the first refusal names its record — its
    /// index among the partition's records — and the rule). Pure: the partitions of a
    /// request are read at once.
    public enum ReadPartition: Sendable {
        case refused(KafkaResponse.ProducePartition)
        case read(batches: [RecordBatch], appends: [AppendRecord], problems: [(index: Int32, message: String)])
    }

    /// Requests whose partitions' record bytes add up to at least this many are read on two
    /// threads, partitions shared between them (below it a worker costs more than it saves).
    static let parallelReadBytes = 64 << 10

    func produce(_ request: ProduceRequest, keepRecordedTime: Bool, reads: [ReadPartition?]? = nil) async -> [(name: String, partitions: [KafkaResponse.ProducePartition])] {
        // Every partition's records read and checked first (here, or already by `prepare`),
        // then stored one partition after another.
        let read = reads ?? readPartitions(request, keepRecordedTime: keepRecordedTime)
        var answer: [(name: String, partitions: [KafkaResponse.ProducePartition])] = []
        var k = 0
        for topic in request.topics {
            var partitions: [KafkaResponse.ProducePartition] = []
            for p in topic.partitions {
                defer { k += 1 }
                guard k < read.count, let r = read[k] else {
                    partitions.append(.init(index: p.index, error: .unknownTopicOrPartition, baseOffset: -1, errorMessage: "no topic \(topic.name) partition \(p.index)"))
                    continue
                }
                partitions.append(await producePartition(p.index, r, acks: request.acks))
            }
            answer.append((topic.name, partitions))
        }
        return answer
    }

    /// Every partition of `request` read and checked (nil: not a partition of the topic), in
    /// the request's order — on both cores when there is enough. Pure: it stores nothing.
    func readPartitions(_ request: ProduceRequest, keepRecordedTime: Bool) -> [ReadPartition?] {
        let budget = DecompressionBudget()
        let asked = request.topics.flatMap { t in t.partitions.map { (topic: t.name, index: $0.index, records: $0.records) } }
        var read = [ReadPartition?](repeating: nil, count: asked.count)
        let known = asked.indices.filter { knownPartition(asked[$0].topic, asked[$0].index) }
        if known.count > 1 && known.reduce(0, { $0 + (asked[$1].records?.count ?? 0) }) >= Self.parallelReadBytes {
            read.withUnsafeMutableBufferPointer { slots in
                // Each iteration writes its own slots only; concurrentPerform returns once all have.
                nonisolated(unsafe) let slots = slots
                DispatchQueue.concurrentPerform(iterations: 2) { h in
                    for (n, k) in known.enumerated() where n % 2 == h {
                        slots[k] = readPartition(asked[k].index, asked[k].records, keepRecordedTime: keepRecordedTime, budget: budget)
                    }
                }
            }
        } else {
            for k in known { read[k] = readPartition(asked[k].index, asked[k].records, keepRecordedTime: keepRecordedTime, budget: budget) }
        }
        return read
    }

    /// Reads one partition's record bytes: its batches (CRC32C checked, decompressed within
    /// `budget`), each record's value as an order event in the JSON form of EVENTS.md, its key
    /// the order id (or none).
    private func readPartition(_ index: Int32, _ records: ArraySlice<UInt8>?, keepRecordedTime: Bool, budget: DecompressionBudget) -> ReadPartition {
        func refuse(_ error: KafkaErrorCode, _ message: String) -> ReadPartition {
            .refused(.init(index: index, error: error, baseOffset: -1, recordErrors: [], errorMessage: message))
        }
        guard let records, !records.isEmpty else { return refuse(.invalidRecord, "no records") }
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.decodeAll(records) { codec, bytes, limit throws(KafkaError) in
                let allowed = min(limit, budget.remaining)
                let out = try KafkaCompression.decompress(codec, bytes, limit: allowed)
                guard budget.charge(out.count) else { throw KafkaError(.limitExceeded, "\(codec) records expand past \(RecordBatch.decompressedBytesMax) bytes in all") }
                return out
            }
        } catch {
            switch error.code {
            case .unsupportedFormat: return refuse(error.message.contains("compression") ? .unsupportedCompressionType : .invalidRecord, error.description)
            case .corruptBatch: return refuse(.corruptMessage, error.description)
            default: return refuse(.invalidRecord, error.description)
            }
        }
        var appends: [AppendRecord] = []
        var problems: [(index: Int32, message: String)] = []
        for batch in batches where !(batch.isTransactional || batch.isControl) {
            for record in batch.records {
                let k = Int32(appends.count + problems.count)
                guard let value = record.value else { problems.append((k, "invalid_field: a record's value must be an order event (docs/EVENTS.md), not null")); continue }
                do {
                    let decoded = try OrderEvent.decodeJSONRecord(value)
                    if decoded.recordedAt != nil && !keepRecordedTime {
                        problems.append((k, "unauthorized: only role admin may set recorded_at (it says when the log learned of an event)"))
                        continue
                    }
                    if let key = record.key, !key.elementsEqual(decoded.orderID.value.utf8) {
                        problems.append((k, "invalid_order_id: the record's key \"\(String(decoding: key, as: UTF8.self))\" is not its event's order_id \"\(decoded.orderID.value)\""))
                        continue
                    }
                    appends.append(AppendRecord(orderID: decoded.orderID, type: decoded.type, payload: decoded.payload,
                                                expectedVersion: decoded.expectedVersion, recordedAt: decoded.recordedAt))
                } catch {
                    problems.append((k, "\(error.code.rawValue): \(error.detail)"))
                }
            }
        }
        return .read(batches: batches, appends: appends, problems: problems)
    }

    /// One partition's records, as read: all of them stored, in one atomic append, or none.
    private func producePartition(_ index: Int32, _ read: ReadPartition, acks: Int16) async -> KafkaResponse.ProducePartition {
        let (batches, appends, problems): ([RecordBatch], [AppendRecord], [(index: Int32, message: String)])
        switch read {
        case .refused(let answer): return answer
        case .read(let b, let a, let p): (batches, appends, problems) = (b, a, p)
        }
        // An idempotent producer's batches to one partition are taken one at a time (as a
        // Kafka broker does under the partition's lock): a retry sent on a new connection
        // while its first try is still being stored waits for it, then gets its answer.
        guard let first = batches.first, first.producerID >= 0 else { return await produceDecoded(index, batches, appends, problems, acks: acks) }
        let key = ProducerPartition(producer: first.producerID, partition: index)
        await idempotentTurns.acquire(key)
        let answer = await produceDecoded(index, batches, appends, problems, acks: acks)
        await idempotentTurns.release(key)
        return answer
    }

    private func produceDecoded(_ index: Int32, _ batches: [RecordBatch], _ appends: [AppendRecord], _ problems: [(index: Int32, message: String)], acks: Int16) async -> KafkaResponse.ProducePartition {
        func refuse(_ error: KafkaErrorCode, _ message: String, records: [(index: Int32, message: String)] = []) -> KafkaResponse.ProducePartition {
            .init(index: index, error: error, baseOffset: -1, recordErrors: records, errorMessage: message)
        }
        // An idempotent producer's batch: a retry of one already stored gets its first answer;
        // one out of order is refused (nothing stored).
        var idempotent: (producer: Int64, epoch: Int16, base: Int32, count: Int)?
        if let first = batches.first, first.producerID >= 0 {
            let count = batches.reduce(0) { $0 + $1.records.count }
            switch producers.verdict(producer: first.producerID, epoch: first.producerEpoch, partition: index, base: first.baseSequence, count: count) {
            case .new: idempotent = (first.producerID, first.producerEpoch, first.baseSequence, count)
            case .duplicate(let offset):
                // A retry: its first answer (a batch the rules refused stays refused).
                if offset < 0 { return refuse(.invalidRecord, "this batch (sequence \(first.baseSequence)) was refused before; see its first answer") }
                return .init(index: index, error: .none, baseOffset: offset)
            case .outOfOrder(let expected): return refuse(.outOfOrderSequenceNumber, "sequence \(first.baseSequence), expected \(expected)")
            case .staleSequence: return refuse(.duplicateSequenceNumber, "sequence \(first.baseSequence) is older than the batches kept")
            case .fencedEpoch: return refuse(.invalidProducerEpoch, "producer epoch \(first.producerEpoch) is not the producer's")
            case .unknownProducer: return refuse(.unknownProducerID, "producer id \(first.producerID) is unknown here")
            }
        }
        if batches.contains(where: { $0.isTransactional || $0.isControl }) { return refuse(.invalidRecord, "transactional and control batches are not supported (docs/KAFKA.md §6)") }
        // Its sequence numbers are used up once it is answered, stored or refused by the rules.
        func used(_ baseOffset: Int64) {
            guard let i = idempotent else { return }
            try? producers.record(producer: i.producer, epoch: i.epoch, partition: index, base: i.base, count: i.count, baseOffset: baseOffset)
        }
        if let first = problems.first {
            used(-1)
            return refuse(.invalidRecord, "record \(first.index): \(first.message)", records: problems)
        }
        let results: [AppendResult]
        do {
            let checked = try store.check(appends)
            let pending = try store.write(checked)
            results = acks == 0 ? pending.results : try await store.waitUntilDurable(pending)
        } catch let error as StoreError {
            if error.code == .rejected, let e = error.orderError {
                used(-1)
                let k = Int32(error.eventIndex ?? 0)
                return refuse(.invalidRecord, "record \(k): \(e.code.rawValue): \(e.detail)", records: [(k, "\(e.code.rawValue): \(e.detail)")])
            }
            return refuse(.invalidRecord, error.message)
        } catch {
            return refuse(.invalidRecord, "\(error)")
        }
        let base = Int64(results.first?.position ?? 0)
        used(base)
        return .init(index: index, error: .none, baseOffset: base)
    }
}
