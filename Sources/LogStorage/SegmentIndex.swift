/// One block of a sealed segment, as listed in its index (docs/FORMAT.md, "Index file").
struct BlockInfo: Equatable, Sendable {
    var fileOffset: UInt64
    var firstPosition: UInt64
    var firstRecordedAt: Int64
    var compressedLength: UInt32
    var rawLength: UInt32
    var recordCount: UInt32

    static let encodedBytes = 40
}

/// The index of one sealed segment: its blocks (for position and time lookups) and, for every
/// key with records in the segment, that key's last position and sequence there (to rebuild
/// the key directory at open without reading any record).
///
///     header (64 bytes)
///       0  8 magic "ORDLOG-I"     24 8 record count          44 4 block count
///       8  4 format version       32 8 .seg file length      48 8 key count
///       12 4 zero                 40 4 .seg header crc32c    56 4 zero
///       16 8 base position                                   60 4 crc32c of [0, 60)
///     block table: block count × 40 bytes
///       0 8 file offset of the block header   16 8 first recorded at   28 4 raw length
///       8 8 first position                    24 4 compressed length   32 4 record count  36 4 zero
///     key table: key count × 24 bytes, sorted by (hash high, hash low)
///       0 8 hash high   8 8 hash low   16 8 last position (low 40 bits) | last sequence << 40
///     trailer: 4 bytes, crc32c of [64, trailer)
struct SegmentIndex: Sendable {
    var base: UInt64
    var recordCount: UInt64
    var segFileBytes: UInt64
    var segHeaderChecksum: UInt32
    var blocks: [BlockInfo]
    /// Sorted by hash; packed as in the key directory.
    var keys: [(hash: KeyHash, packed: UInt64)]

    func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + blocks.count * BlockInfo.encodedBytes + keys.count * 24 + 4)
        w.raw(SegmentFile.idxMagic); w.u32(SegmentFile.formatVersion); w.u32(0)
        w.u64(base); w.u64(recordCount); w.u64(segFileBytes); w.u32(segHeaderChecksum); w.u32(UInt32(blocks.count))
        w.u64(UInt64(keys.count)); w.u32(0)
        w.u32(CRC32C.checksum(w.bytes))
        for b in blocks {
            w.u64(b.fileOffset); w.u64(b.firstPosition); w.i64(b.firstRecordedAt)
            w.u32(b.compressedLength); w.u32(b.rawLength); w.u32(b.recordCount); w.u32(0)
        }
        for k in keys { w.u64(k.hash.high); w.u64(k.hash.low); w.u64(k.packed) }
        let crc = w.bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[64...])) }
        w.u32(crc)
        return w.bytes
    }

    /// True when the block table covers the segment exactly: consecutive positions from its
    /// base to its end, blocks in file order inside the file.
    func describesBlocks(of header: SegmentFile.SegHeader, fileBytes: UInt64) -> Bool {
        guard blocks.count == Int(header.blockCount), !blocks.isEmpty else { return false }
        var position = header.base
        var offset = UInt64(header.blocksOffset)
        for b in blocks {
            guard b.firstPosition == position, b.fileOffset == offset, b.recordCount >= 1 else { return false }
            position += UInt64(b.recordCount)
            offset += UInt64(SegmentFile.blockHeaderBytes) + UInt64(b.compressedLength)
        }
        return position == header.base + header.recordCount && offset == fileBytes
    }

    /// Parses and checks an index file.
    static func decode(_ data: UnsafeRawBufferPointer, path: String) throws(LogError) -> SegmentIndex {
        guard data.count >= 68 else { throw LogError(.corruption, "index file cut short (\(data.count) bytes)", file: path, offset: 0) }
        guard Array(data[0..<8]) == SegmentFile.idxMagic else { throw LogError(.corruption, "not an index file (bad magic)", file: path, offset: 0) }
        guard data.u32(60) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: data[0..<60])) else {
            throw LogError(.corruption, "index header checksum mismatch", file: path, offset: 60)
        }
        guard data.u32(8) == SegmentFile.formatVersion else {
            throw LogError(.unsupportedVersion, "index format version \(data.u32(8)); this build reads version \(SegmentFile.formatVersion)", file: path, offset: 8)
        }
        let blockCount = Int(data.u32(44))
        let keyCount = data.u64(48)
        guard keyCount <= UInt64(data.count / 24) else {
            throw LogError(.corruption, "index claims \(keyCount) keys, more than its \(data.count) bytes can hold", file: path, offset: 48)
        }
        let expected = 64 + UInt64(blockCount) * UInt64(BlockInfo.encodedBytes) + keyCount * 24 + 4
        guard UInt64(data.count) == expected else {
            throw LogError(.corruption, "index file is \(data.count) bytes; its header implies \(expected)", file: path, offset: 0)
        }
        let trailer = data.count - 4
        guard data.u32(trailer) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: data[64..<trailer])) else {
            throw LogError(.corruption, "index body checksum mismatch", file: path, offset: UInt64(trailer))
        }
        var blocks: [BlockInfo] = []
        blocks.reserveCapacity(blockCount)
        for i in 0..<blockCount {
            let o = 64 + i * BlockInfo.encodedBytes
            blocks.append(BlockInfo(
                fileOffset: data.u64(o), firstPosition: data.u64(o + 8), firstRecordedAt: data.i64(o + 16),
                compressedLength: data.u32(o + 24), rawLength: data.u32(o + 28), recordCount: data.u32(o + 32)))
        }
        let keyStart = 64 + blockCount * BlockInfo.encodedBytes
        var keys: [(hash: KeyHash, packed: UInt64)] = []
        keys.reserveCapacity(Int(keyCount))
        for i in 0..<Int(keyCount) {
            let o = keyStart + i * 24
            keys.append((KeyHash(high: data.u64(o), low: data.u64(o + 8)), data.u64(o + 16)))
        }
        return SegmentIndex(
            base: data.u64(16), recordCount: data.u64(24), segFileBytes: data.u64(32),
            segHeaderChecksum: data.u32(40), blocks: blocks, keys: keys)
    }
}

/// Collects, while records stream past, each key's last position and sequence.
struct KeyTableBuilder {
    private var table: [KeyHash: UInt64] = [:]

    mutating func add(_ record: RecordView) {
        let hash = KeyHash(bytes: record.keyBytes)
        table[hash] = KeyDirectory.Entry(position: record.position.rawValue, sequence: record.sequence.rawValue).packed
    }

    func sorted() -> [(hash: KeyHash, packed: UInt64)] {
        table.map { (hash: $0.key, packed: $0.value) }
            .sorted { ($0.hash.high, $0.hash.low) < ($1.hash.high, $1.hash.low) }
    }
}
