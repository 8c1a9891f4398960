import Dispatch
import KafkaProtocol
import Synchronization

/// A fetch's answer as the broker builds it: the response's topics, the fetch a consumer
/// makes next (each partition from where this one stopped; nil when every partition has
/// reached the log's end), and the record bytes in it.
struct FetchAnswer: Sendable {
    var topics: [(name: String, partitions: [KafkaResponse.FetchPartition])]
    var next: FetchRequest?
    var bytes: Int
}

/// The answer to a fetch a consumer has not made yet, computed on a Dispatch worker while the
/// consumer reads the answer before it: a consumer reading history spends as long taking in a
/// response as the broker spends building one, and each waited for the other.
///
/// One a connection; dropped (its work finished and thrown away) when the next fetch is not
/// the one it read for. All connections' together hold at most `KafkaConfiguration.readAheadBytesMax`.
final class FetchReadAhead: Sendable {
    /// The fetch it answers.
    let request: FetchRequest
    private let answer: WorkerResult<FetchAnswer>
    /// Its room in the budget: given back once it is dropped and its worker is done.
    private let reservation: Reservation

    /// The bytes all connections' answers read ahead may hold at once: a read ahead is not
    /// started while it has not room for one more answer of its fetch's size.
    final class Budget: Sendable {
        private let left: Mutex<Int>
        init(bytes: Int) { left = Mutex(bytes) }
        func reserve(_ n: Int) -> Bool { left.withLock { l in guard l >= n else { return false }; l -= n; return true } }
        func release(_ n: Int) { left.withLock { $0 += n } }
    }

    /// Bytes of a `Budget` held until the last holder lets go.
    final class Reservation: Sendable {
        let bytes: Int
        let budget: Budget
        init(_ bytes: Int, of budget: Budget) { self.bytes = bytes; self.budget = budget }
        deinit { budget.release(bytes) }
    }

    /// Starts reading `request` ahead, when `budget` has room for `bytes` (the most its answer
    /// holds); nil when it has not.
    init?(_ request: FetchRequest, bytes: Int, budget: Budget, read: @escaping @Sendable () -> FetchAnswer) {
        guard budget.reserve(bytes) else { return nil }
        self.request = request
        let reservation = Reservation(bytes, of: budget)
        self.reservation = reservation
        answer = WorkerResult {
            withExtendedLifetime(reservation) { read() }
        }
    }

    /// The answer, once read (as long as reading it now would take, or less).
    func take() async -> FetchAnswer { await answer.value }
}

extension FetchRequest {
    /// Whether `other` asks for the same records: the same byte limits and the same
    /// partitions from the same offsets with the same limits, in any order (librdkafka rotates
    /// its partitions from one fetch to the next). How long a fetch may wait and how little
    /// it takes do not change what is read.
    func readsTheSame(as other: FetchRequest) -> Bool {
        guard maxBytes == other.maxBytes, isolationLevel == other.isolationLevel, topics.count == other.topics.count else { return false }
        for (a, b) in zip(topics, other.topics) {
            guard a.name == b.name, a.partitions.count == b.partitions.count else { return false }
            func key(_ p: Partition) -> [Int64] { [Int64(p.index), p.fetchOffset, Int64(p.partitionMaxBytes)] }
            guard a.partitions.map(key).sorted(by: { $0.lexicographicallyPrecedes($1) }) == b.partitions.map(key).sorted(by: { $0.lexicographicallyPrecedes($1) }) else { return false }
        }
        return true
    }
}

extension FetchAnswer {
    /// The answer with each topic's partitions in the order `request` names them (an answer
    /// read ahead was read for the same partitions, perhaps named in another order).
    func ordered(as request: FetchRequest) -> FetchAnswer {
        var a = self
        for t in a.topics.indices where t < request.topics.count {
            var byIndex: [Int32: [KafkaResponse.FetchPartition]] = [:]
            for p in a.topics[t].partitions { byIndex[p.index, default: []].append(p) }
            a.topics[t].partitions = request.topics[t].partitions.map { p in byIndex[p.index]!.removeFirst() }
        }
        return a
    }
}
