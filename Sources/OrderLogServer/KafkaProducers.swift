import Foundation
import NIOConcurrencyHelpers

/// Idempotent producers' state (docs/KAFKA.md §3): the ids given out and, per producer and
/// partition, the last five batches' sequence numbers and offsets, so a batch sent again (a
/// retry after a lost answer) is answered with its first answer instead of being stored twice —
/// across restarts too. `kafka/producers.json`, rewritten whole (temporary name, fsync, rename,
/// directory fsync) before a produce is answered.
final class KafkaProducers: Sendable {
    struct Batch: Sendable, Codable, Equatable {
        var baseSequence: Int32
        var lastSequence: Int32
        var baseOffset: Int64
    }

    struct Producer: Sendable, Codable {
        var epoch: Int16
        /// By partition: the last batches, oldest first (at most `batchesKept`).
        var partitions: [String: [Batch]] = [:]
        /// When it was given out or last stored a batch, ms since the epoch (nil in files
        /// written before producers expired: taken as the time the file is read).
        var lastUsed: Int64?
    }

    struct State: Sendable, Codable {
        var next: Int64 = 1
        var producers: [String: Producer] = [:]
    }

    enum Verdict: Equatable {
        /// In order: store it.
        case new
        /// Already stored: its first answer.
        case duplicate(baseOffset: Int64)
        case outOfOrder(expected: Int32)
        case staleSequence
        case fencedEpoch
        case unknownProducer
    }

    static let batchesKept = 5
    /// Producers kept at most; past it the least recently used is forgotten for a new one.
    let producersMax: Int
    /// A producer silent this long is forgotten (Kafka's `producer.id.expiration.ms`, one
    /// day): its next batch is answered UNKNOWN_PRODUCER_ID, and clients start over with a
    /// new id — what a Kafka broker does too.
    static let expiration: Int64 = 86_400_000
    let path: String
    private let state: NIOLockedValueBox<State>
    let problem: String?

    init(directory: String, producersMax: Int = 100_000) {
        self.producersMax = producersMax
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/producers.json"
        var loaded = State()
        var problem: String?
        if let data = FileManager.default.contents(atPath: path) {
            if let s = try? JSONDecoder().decode(State.self, from: data) { loaded = s } else {
                problem = "\(path) does not read as producer state; set aside as \(path).bad"
                _ = rename(path, path + ".bad")
            }
        }
        self.problem = problem
        state = NIOLockedValueBox(loaded)
    }

    /// A new producer id, epoch 0, durable before it is given out.
    func newProducer(now: Int64 = KafkaProducers.now()) throws -> (id: Int64, epoch: Int16) {
        try state.withLockedValue { s in
            var next = s
            next.producers = next.producers.filter { now - ($0.value.lastUsed ?? now) < Self.expiration }
            while next.producers.count >= producersMax, let oldest = next.producers.min(by: { ($0.value.lastUsed ?? now) < ($1.value.lastUsed ?? now) }) {
                next.producers[oldest.key] = nil
            }
            let id = next.next
            next.next += 1
            next.producers[String(id)] = Producer(epoch: 0, lastUsed: now)
            try write(next)
            s = next
            return (id, 0)
        }
    }

    /// What to do with a batch of `count` records from `producer`, epoch `epoch`, first
    /// sequence `base`, to `partition`.
    func verdict(producer: Int64, epoch: Int16, partition: Int32, base: Int32, count: Int, now: Int64 = KafkaProducers.now()) -> Verdict {
        state.withLockedValue { s in
            guard let p = s.producers[String(producer)], now - (p.lastUsed ?? now) < Self.expiration else { return .unknownProducer }
            // A higher epoch starting again at sequence 0 is the producer resetting itself
            // (the Java client does after a timeout): its history starts over (`record`).
            if epoch > p.epoch && base == 0 { return .new }
            guard epoch == p.epoch else { return .fencedEpoch }
            let batches = p.partitions[String(partition)] ?? []
            if let same = batches.first(where: { $0.baseSequence == base && Int($0.lastSequence) - Int($0.baseSequence) + 1 == count }) {
                return .duplicate(baseOffset: same.baseOffset)
            }
            guard let last = batches.last else { return base == 0 ? .new : .outOfOrder(expected: 0) }
            // Sequences wrap from Int32.max to 0.
            if base == (last.lastSequence == Int32.max ? 0 : last.lastSequence + 1) { return .new }
            return base <= last.lastSequence ? .staleSequence : .outOfOrder(expected: last.lastSequence &+ 1)
        }
    }

    /// Records a batch stored (or refused by the rules: its sequence numbers are used up
    /// either way, so the producer's next batch is in order), durable before the answer.
    func record(producer: Int64, epoch: Int16, partition: Int32, base: Int32, count: Int, baseOffset: Int64, now: Int64 = KafkaProducers.now()) throws {
        try state.withLockedValue { s in
            var next = s
            guard var p = next.producers[String(producer)] else { return }
            p.lastUsed = now
            if epoch > p.epoch {
                p.epoch = epoch
                p.partitions = [:]
            }
            var batches = p.partitions[String(partition)] ?? []
            batches.append(Batch(baseSequence: base, lastSequence: base &+ Int32(truncatingIfNeeded: max(count, 1) - 1), baseOffset: baseOffset))
            if batches.count > Self.batchesKept { batches.removeFirst(batches.count - Self.batchesKept) }
            p.partitions[String(partition)] = batches
            next.producers[String(producer)] = p
            try write(next)
            s = next
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func write(_ s: State) throws {
        try DurableFile.replace(path, with: try JSONEncoder().encode(s))
    }
}
