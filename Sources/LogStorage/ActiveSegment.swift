import Synchronization

/// A segment whose records are stored uncompressed: the one being appended to, or a rolled one
/// waiting to be sealed. Written with pwrite by the single writer; read through one shared
/// mapping of its whole capacity by any number of readers.
///
/// Readers find a record through `ends` (where each record ends; the previous one's end is
/// where it starts), filled by the writer before it publishes the record (`published`, with
/// release ordering), so a reader that sees a position also sees its bounds and its bytes.
/// Bounds come from what the writer wrote, never from length fields on disk: a damaged
/// length cannot send a reader past the end of the file.
final class ActiveSegment: @unchecked Sendable {
    // @unchecked: `ends` slots below `published` are immutable; the writer-only fields are
    // touched under `Log`'s writer lock (or by recovery before the log is shared).
    let base: UInt64
    let file: SystemFile
    let map: MappedRegion
    let capacityBytes: Int
    private let ends: UnsafeMutablePointer<UInt32>
    private let endsCapacity: Int
    /// How many records readers may read.
    private let published = Atomic<Int>(0)

    // Writer-only state.
    private(set) var writtenBytes: Int
    private(set) var count: Int = 0
    private(set) var lastRecordedAt: Int64 = .min

    var path: String { file.path }
    var endPosition: UInt64 { base + UInt64(count) }

    /// `capacityBytes` bounds the mapping; appends never go past it.
    init(base: UInt64, file: SystemFile, capacityBytes: Int, writtenBytes: Int) throws(LogError) {
        self.base = base
        self.file = file
        self.capacityBytes = capacityBytes
        self.writtenBytes = writtenBytes
        self.map = try MappedRegion(file: file, length: capacityBytes)
        // Untouched pages of this allocation are never made resident, so sizing it for the
        // worst case (every record minimal) costs address space, not memory.
        endsCapacity = (capacityBytes - SegmentFile.headerBytes) / RecordLayout.minimumBytes + 1
        ends = .allocate(capacity: endsCapacity)
    }

    deinit { ends.deallocate() }

    /// Creates a new empty segment file at `directory` under a temporary name, fsyncs it,
    /// renames it into place and fsyncs the directory.
    static func create(directory: String, base: UInt64, capacityBytes: Int, now: Int64) throws(LogError) -> ActiveSegment {
        let name = SegmentFile.name(base: base, .log)
        let finalPath = directory + "/" + name
        let tmpPath = finalPath + ".tmp"
        try SystemFile.remove(tmpPath)
        let tmp = try SystemFile(path: tmpPath, mode: .createExclusive)
        try tmp.write(SegmentFile.encodeLogHeader(base: base, createdAt: now), at: 0)
        try tmp.syncData()
        try SystemFile.rename(tmpPath, to: finalPath)
        try SystemFile.syncDirectory(directory)
        let file = try SystemFile(path: finalPath, mode: .readWrite)
        return try ActiveSegment(base: base, file: file, capacityBytes: capacityBytes, writtenBytes: SegmentFile.headerBytes)
    }

    // MARK: Writer

    /// Bytes still free before the segment reaches its capacity.
    var freeBytes: Int { capacityBytes - writtenBytes }

    /// Appends `bytes` (whole encoded records, `recordOffsets` relative to `bytes`) to the file.
    /// On failure nothing is kept: the file is cut back to its previous length.
    func append(_ bytes: UnsafeRawBufferPointer, recordOffsets: [Int], lastRecordedAt: Int64) throws(LogError) {
        precondition(bytes.count <= freeBytes && count + recordOffsets.count <= endsCapacity)
        do throws(LogError) {
            try file.write(bytes, at: UInt64(writtenBytes))
        } catch {
            // A partial write must not stay behind a later, successful one.
            try file.truncate(to: UInt64(writtenBytes))
            throw error
        }
        for (i, r) in recordOffsets.enumerated() {
            let end = i + 1 < recordOffsets.count ? recordOffsets[i + 1] : bytes.count
            precondition(end > r)
            ends[count] = UInt32(writtenBytes + end)
            count += 1
        }
        writtenBytes += bytes.count
        self.lastRecordedAt = lastRecordedAt
        published.store(count, ordering: .releasing)
    }

    /// Registers a record found in the file by recovery.
    func adoptRecovered(offset: Int, length: Int, recordedAt: Int64) {
        precondition(offset == writtenBytes && count < endsCapacity)
        ends[count] = UInt32(offset + length)
        count += 1
        writtenBytes = offset + length
        lastRecordedAt = recordedAt
        published.store(count, ordering: .releasing)
    }

    func writeCommitSlot(durableBytes: Int) throws(LogError) {
        try file.write(SegmentFile.encodeCommitSlot(durableBytes: UInt64(durableBytes)), at: 48)
    }

    // MARK: Readers

    /// True when `position` is a record of this segment that readers may read.
    @inline(__always) func holds(_ position: UInt64) -> Bool {
        position >= base && position - base < UInt64(published.load(ordering: .acquiring))
    }

    /// Where the record at `position` starts. `holds(position)` must be true.
    @inline(__always) func offset(of position: UInt64) -> Int {
        let i = Int(position - base)
        return i == 0 ? SegmentFile.headerBytes : Int(ends[i - 1])
    }

    /// The bytes of the record at `position`, bounded by what the writer wrote.
    @inline(__always) func recordBytes(at position: UInt64) -> UnsafeRawBufferPointer {
        let start = offset(of: position)
        return map.bytes(at: start, count: Int(ends[Int(position - base)]) - start)
    }

    /// The records `position..<end`, contiguous in the file, for sequential scans.
    func recordArea(from position: UInt64, to end: UInt64) -> UnsafeRawBufferPointer {
        precondition(position < end)
        let start = offset(of: position)
        return map.bytes(at: start, count: Int(ends[Int(end - 1 - base)]) - start)
    }

    func recordedAt(of position: UInt64) -> Int64 {
        map.bytes(at: offset(of: position) + 24, count: 8).i64(0)
    }
}
