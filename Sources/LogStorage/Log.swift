import Foundation
import Logging
import Synchronization

/// A segmented, append-only log of records, each belonging to one key; durable, checksummed,
/// with a per-key chain for reading one key's records and binary-searchable positions and
/// times. One writer (this object, per directory, per machine: a lock file enforces it),
/// any number of concurrent readers.
///
/// Layout and recovery rules: docs/FORMAT.md.
public final class Log: Sendable {
    public let path: String
    public let configuration: LogConfiguration
    let logger: Logger

    let lockFile: SystemFile
    let blockCache: BlockCache

    /// The writer's state. Held for the whole of an append's encode and write.
    let writer: Locked<WriterState>
    /// Key → newest record. Taken briefly by appends (lookups, then updates) and readers.
    let keys: Locked<KeyDirectory>
    /// The segments, replaced whole on roll and seal.
    let segmentList: Locked<SegmentList>
    /// The published end: readers see positions below it. Stored after the records' bytes and
    /// offsets are in place, loaded with acquire ordering.
    let committed: Atomic<UInt64>
    /// Durability progress, waiters, and the background threads' work queues.
    let commit: CommitState

    struct WriterState: ~Copyable {
        var active: ActiveSegment
        var nextPosition: UInt64
        var lastRecordedAt: Int64
        var scratch: UnsafeMutableRawBufferPointer
        var batchHeads: [KeyHash: KeyDirectory.Entry] = [:]
        var failure: LogError?
        var closed = false

        deinit { scratch.deallocate() }
    }

    init(
        path: String, configuration: LogConfiguration, logger: Logger, lockFile: SystemFile,
        active: ActiveSegment, segments: SegmentList, keys: consuming KeyDirectory, endPosition: UInt64,
        lastRecordedAt: Int64
    ) {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        self.lockFile = lockFile
        self.blockCache = BlockCache(bytesMax: configuration.blockCacheBytesMax)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: configuration.batchBytesMax, alignment: 8)
        self.writer = Locked(WriterState(active: active, nextPosition: endPosition, lastRecordedAt: lastRecordedAt, scratch: scratch))
        self.keys = Locked(keys)
        self.segmentList = Locked(segments)
        self.committed = Atomic(endPosition)
        self.commit = CommitState(endPosition: endPosition, active: active)
    }

    /// Opens the log in `path` (creating the directory and an empty log if needed), recovering
    /// from a crash as docs/FORMAT.md describes.
    public static func open(path: String, configuration: LogConfiguration = LogConfiguration(), logger: Logger? = nil) throws -> Log {
        let logger = logger ?? Logger(label: "orderlog.storage", factory: { _ in SwiftLogNoOpLogHandler() })
        let log = try LogRecovery.open(path: path, configuration: configuration, logger: logger)
        log.startBackgroundThreads()
        return log
    }

    /// The position after the last committed record: readers see `0..<endPosition`.
    public var endPosition: LogPosition { LogPosition(committed.load(ordering: .acquiring)) }

    /// Flushes what is written, stops the background threads (finishing any sealing in
    /// progress), records the durable length, and releases the directory lock. Appends after
    /// close fail with `.closed`; outstanding waits end.
    public func close() throws {
        let state: (ActiveSegment, LogError?)? = writer.withLock { w in
            if w.closed { return nil }
            w.closed = true
            return (w.active, w.failure)
        }
        guard let (active, writerFailure) = state else { return }
        stopBackgroundThreads()
        if let logFailure = writerFailure ?? commit.lock.withLock({ commit.failure }) {
            // A failed log syncs nothing more: a later fsync's success would be a lie, and the
            // commit slot must not claim what may not be on disk.
            commit.finish(durableEnd: nil, error: logFailure)
            lockFile.unlock()
            return
        }
        var failure: LogError?
        do throws(LogError) {
            try active.file.syncData()
            try active.writeCommitSlot(durableBytes: active.writtenBytes)
            try active.file.syncData()
        } catch {
            failure = error
        }
        commit.finish(durableEnd: failure == nil ? active.endPosition : nil, error: LogError(.closed, "the log was closed"))
        lockFile.unlock()
        if let failure { throw failure }
    }

    deinit {
        try? close()
    }

    /// Key directory memory and entry count (benchmarks and `orderlog inspect`).
    public var keyDirectoryStatistics: (keys: Int, bytes: Int) {
        keys.withLock { ($0.count, $0.bytesAllocated) }
    }

    /// The files of the log, in position order, with whether each is sealed.
    public var segmentSummaries: [(base: LogPosition, path: String, sealed: Bool)] {
        segmentList.withLock { list in
            list.segments.map { s in
                if case .sealed = s { return (LogPosition(s.base), s.path, true) }
                return (LogPosition(s.base), s.path, false)
            }
        }
    }
}
