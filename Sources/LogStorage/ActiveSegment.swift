/// A segment whose records are stored uncompressed: the one being appended to, or a rolled one
/// waiting to be sealed. Written with pwrite by the single writer; read through one shared
/// mapping of its whole capacity by any number of readers.
///
/// Readers find a record through `offsets`, filled by the writer before it publishes the new
/// end position (with release ordering, through `Log`'s commit state), so a reader that sees a
/// position also sees its offset and its bytes.
final class ActiveSegment: @unchecked Sendable {
    // @unchecked: `offsets` slots below the published count are immutable; the writer-only
    // fields are touched under `Log`'s writer lock.
    let base: UInt64
    let file: SystemFile
    let map: MappedRegion
    let capacityBytes: Int
    private let offsets: UnsafeMutablePointer<UInt32>
    private let offsetsCapacity: Int

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
        offsetsCapacity = (capacityBytes - SegmentFile.headerBytes) / RecordLayout.minimumBytes + 1
        offsets = .allocate(capacity: offsetsCapacity)
    }

    deinit { offsets.deallocate() }

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
        precondition(bytes.count <= freeBytes && count + recordOffsets.count <= offsetsCapacity)
        do throws(LogError) {
            try file.write(bytes, at: UInt64(writtenBytes))
        } catch {
            // A partial write must not stay behind a later, successful one.
            try file.truncate(to: UInt64(writtenBytes))
            throw error
        }
        for r in recordOffsets { offsets[count] = UInt32(writtenBytes + r); count += 1 }
        writtenBytes += bytes.count
        self.lastRecordedAt = lastRecordedAt
    }

    /// Registers a record found in the file by recovery.
    func adoptRecovered(offset: Int, length: Int, recordedAt: Int64) {
        precondition(offset == writtenBytes && count < offsetsCapacity)
        offsets[count] = UInt32(offset)
        count += 1
        writtenBytes = offset + length
        lastRecordedAt = recordedAt
    }

    func writeCommitSlot(durableBytes: Int) throws(LogError) {
        try file.write(SegmentFile.encodeCommitSlot(durableBytes: UInt64(durableBytes)), at: 48)
    }

    // MARK: Readers (positions below the published end only)

    @inline(__always) func offset(of position: UInt64) -> Int {
        Int(offsets[Int(position - base)])
    }

    /// The bytes of the record at `position`.
    @inline(__always) func recordBytes(at position: UInt64) -> UnsafeRawBufferPointer {
        let start = offset(of: position)
        let length = Int(map.bytes(at: start + 4, count: 4).u32(0))
        return map.bytes(at: start, count: length)
    }

    /// The whole record area up to `end` (exclusive position), for sequential scans.
    func recordArea(from position: UInt64, to end: UInt64) -> UnsafeRawBufferPointer {
        precondition(position < end)
        let start = offset(of: position)
        let last = recordBytes(at: end - 1)
        let stop = offset(of: end - 1) + last.count
        return map.bytes(at: start, count: stop - start)
    }

    func recordedAt(of position: UInt64) -> Int64 {
        map.bytes(at: offset(of: position) + 24, count: 8).i64(0)
    }
}
