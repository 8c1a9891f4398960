import KafkaProtocol
import Synchronization

/// A produce request's partitions read and checked on a Dispatch worker as soon as its frame
/// has arrived, while the connection's earlier requests are still being answered: a producer
/// with several requests in flight keeps both cores busy — one reading JSON, one storing.
///
/// What it reads is what `KafkaBroker` would read on answering (the same `readPartition`);
/// the answer still comes in order, stored by the broker when the request's turn comes.
public final class PreparedProduce: Sendable {
    /// Whether its records were read as a role that may set `recorded_at` (a session that
    /// answers otherwise reads the request again).
    let keepRecordedTime: Bool
    private let reads: WorkerResult<[KafkaBroker.ReadPartition?]?>

    init(keepRecordedTime: Bool, read: @escaping @Sendable () -> [KafkaBroker.ReadPartition?]?) {
        self.keepRecordedTime = keepRecordedTime
        reads = WorkerResult(read)
    }

    /// Each partition's records as read (nil: the frame was not a produce request that reads),
    /// once they are.
    func take() async -> [KafkaBroker.ReadPartition?]? { await reads.value }
}

extension KafkaBroker {
    /// Starts reading `frame`'s partitions on a worker when it is a produce request this
    /// connection may make (`mayAppend`); nil for every other frame. `handle(_:session:prepared:)`
    /// then stores what it read.
    public func prepare(_ frame: [UInt8], mayAppend: Bool, keepRecordedTime: Bool) -> PreparedProduce? {
        // The API key is the frame's first two bytes (0: Produce).
        guard mayAppend, frame.count >= 2, frame[0] == 0, frame[1] == KafkaAPI.produce.rawValue else { return nil }
        return PreparedProduce(keepRecordedTime: keepRecordedTime) {
            guard case .request(_, .produce(let produce))? = try? KafkaRequest.decode(frame) else { return nil }
            return self.readPartitions(produce, keepRecordedTime: keepRecordedTime)
        }
    }
}
