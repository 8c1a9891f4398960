/// When an append counts as done.
public enum DurabilityPolicy: Sendable, Equatable, CustomStringConvertible {
    /// An append returns only after its records are fsynced. Concurrent appends share one
    /// fsync (group commit). Nothing acknowledged is lost, even on power loss.
    case always
    /// Appends return once written to the OS; a background fsync runs at most every
    /// `milliseconds`. A power loss can lose up to that much acknowledged data; a process
    /// crash loses nothing (the OS still holds it).
    case interval(milliseconds: Int)
    /// Appends return once written to the OS; fsync only at segment roll and close.
    case none

    public var description: String {
        switch self {
        case .always: "always"
        case .interval(let ms): "interval(\(ms)ms)"
        case .none: "none"
        }
    }
}

/// Every tunable of a log, each with its default. Values are checked by `validate()` when a
/// log opens.
public struct LogConfiguration: Sendable {
    /// The active segment rolls before an append would take it past this size. Default 64 MiB.
    public var segmentBytesMax: Int = 64 << 20
    /// Sealed segments are compressed in blocks of at most this many raw bytes (a block holds
    /// whole records; only a single record larger than this makes a larger block). Small
    /// blocks make random reads cheap; the segment dictionary keeps them compact. Default 4 KiB.
    public var blockBytesTarget: Int = 4 << 10
    /// Bytes of records sampled into each sealed segment's compression dictionary (0: none;
    /// at most 64 KiB, LZ4's reach). Default 32 KiB.
    public var dictionaryBytesTarget: Int = 32 << 10
    /// Largest payload of one record. Default 64 KiB; never above `payloadBytesHardLimit`.
    public var payloadBytesMax: Int = 64 << 10
    /// Most records in one atomic batch. Default 10,000.
    public var batchRecordsMax: Int = 10_000
    /// Most encoded bytes in one atomic batch. Default 16 MiB, and never above a segment.
    public var batchBytesMax: Int = 16 << 20
    /// Default `.always`.
    public var durability: DurabilityPolicy = .always
    /// Decompressed blocks of sealed segments kept for random reads. Default 64 MiB.
    public var blockCacheBytesMax: Int = 64 << 20
    /// Seal (compress) rolled segments on a background thread. Tests may turn it off and call
    /// `Log.sealPendingSegments()` to make sealing deterministic. Default true.
    public var sealsInBackground: Bool = true

    /// Called with the duration of every fsync of a segment (group commit, roll), from the
    /// thread that made it: how a server reports fsync latency without the log knowing of
    /// metrics. Must be quick. Default nil.
    public var syncObserver: (@Sendable (Duration) -> Void)?

    /// The payload ceiling the format allows whatever the configuration (16 MiB): a record
    /// length above it is treated as damage, not as a record.
    public static let payloadBytesHardLimit: UInt32 = 16 << 20

    public init() {}

    func validate() throws(LogError) {
        func check(_ ok: Bool, _ message: String) throws(LogError) {
            if !ok { throw LogError(.invalidArgument, "configuration: \(message)") }
        }
        try check(segmentBytesMax >= 4096 && segmentBytesMax <= 1 << 32, "segmentBytesMax must be 4 KiB…4 GiB, got \(segmentBytesMax)")
        try check(blockBytesTarget >= 512 && blockBytesTarget <= 16 << 20, "blockBytesTarget must be 512 B…16 MiB, got \(blockBytesTarget)")
        try check(dictionaryBytesTarget >= 0 && dictionaryBytesTarget <= SegmentFile.dictionaryBytesMax, "dictionaryBytesTarget must be 0…64 KiB, got \(dictionaryBytesTarget)")
        try check(payloadBytesMax >= 0 && payloadBytesMax <= Int(LogConfiguration.payloadBytesHardLimit), "payloadBytesMax must be 0…16 MiB, got \(payloadBytesMax)")
        try check(batchRecordsMax >= 1, "batchRecordsMax must be at least 1")
        let largestRecord = RecordLayout.headerBytes + LogKey.bytesMax + payloadBytesMax
        try check(batchBytesMax >= largestRecord, "batchBytesMax (\(batchBytesMax)) must hold the largest record (\(largestRecord))")
        try check(batchBytesMax <= segmentBytesMax - SegmentFile.headerBytes, "batchBytesMax (\(batchBytesMax)) must fit in a segment (\(segmentBytesMax - SegmentFile.headerBytes))")
        if case .interval(let ms) = durability { try check(ms >= 1 && ms <= 60_000, "interval must be 1…60000 ms, got \(ms)") }
        try check(blockCacheBytesMax >= 0, "blockCacheBytesMax must not be negative")
    }
}
