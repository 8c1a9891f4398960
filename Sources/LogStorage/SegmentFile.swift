/// Names and fixed headers of the files in a log directory (docs/FORMAT.md, "Files").
///
/// Every segment is named by its base position, the position of its first record, as 20
/// zero-padded decimal digits, so `ls` lists segments in log order (as Kafka does):
///
///     00000000000000000000.log   active or rolled segment, records uncompressed
///     00000000000000000000.seg   sealed segment, records in LZ4 blocks
///     00000000000000000000.idx   index of a sealed segment
///     LOCK                       holds the writer's pid under an exclusive flock
///
/// Files are written under `<name>.tmp`, fsynced, renamed into place, and the directory is
/// fsynced, so a name never refers to a half-written file.
enum SegmentFile {
    enum Kind: String, CaseIterable { case log, seg, idx }

    static let headerBytes = 64
    static let formatVersion: UInt32 = 1

    static let logMagic: [UInt8] = Array("ORDLOG-A".utf8)
    static let segMagic: [UInt8] = Array("ORDLOG-Z".utf8)
    static let idxMagic: [UInt8] = Array("ORDLOG-I".utf8)

    static func name(base: UInt64, _ kind: Kind) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + kind.rawValue
    }

    static func parse(_ name: String) -> (base: UInt64, kind: Kind)? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 20, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
              let base = UInt64(parts[0]), let kind = Kind(rawValue: String(parts[1])) else { return nil }
        return (base, kind)
    }

    // MARK: - Active segment header
    //
    //   0  8  magic "ORDLOG-A"      16 8  base position      32 4 crc32c of [0, 32)
    //   8  4  format version (1)    24 8  created at (µs)    36 12 zero
    //   12 4  flags (0)
    //   48 8  durable bytes: the file length known to be fsynced (the commit slot)
    //   56 4  crc32c of [48, 56)    60 4  zero

    static func encodeLogHeader(base: UInt64, createdAt: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: headerBytes)
        w.raw(logMagic); w.u32(formatVersion); w.u32(0); w.u64(base); w.i64(createdAt)
        w.u32(CRC32C.checksum(w.bytes))
        w.pad(to: 48)
        w.raw(encodeCommitSlot(durableBytes: UInt64(headerBytes)))
        return w.bytes
    }

    static func encodeCommitSlot(durableBytes: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        w.u64(durableBytes)
        w.u32(CRC32C.checksum(w.bytes)); w.u32(0)
        return w.bytes
    }

    struct LogHeader { var base: UInt64; var durableBytes: UInt64? }

    /// Nil durableBytes: the commit slot is damaged, so recovery knows of no durable point.
    static func decodeLogHeader(_ h: UnsafeRawBufferPointer, path: String) throws(LogError) -> LogHeader {
        guard h.count >= headerBytes else {
            throw LogError(.corruption, "segment header cut short (\(h.count) of \(headerBytes) bytes)", file: path, offset: 0)
        }
        guard Array(h[0..<8]) == logMagic else { throw LogError(.corruption, "not an active segment (bad magic)", file: path, offset: 0) }
        let stored = h.u32(32), computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[0..<32]))
        guard stored == computed else { throw LogError(.corruption, "segment header checksum mismatch", file: path, offset: 32) }
        let version = h.u32(8)
        guard version == formatVersion else {
            throw LogError(.unsupportedVersion, "segment format version \(version); this build reads version \(formatVersion)", file: path, offset: 8)
        }
        let slotOK = h.u32(56) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[48..<56]))
        guard h.u64(16) < LogPosition.limit.rawValue else {
            throw LogError(.corruption, "segment base \(h.u64(16)) is beyond the log's limit", file: path, offset: 16)
        }
        return LogHeader(base: h.u64(16), durableBytes: slotOK ? h.u64(48) : nil)
    }

    // MARK: - Sealed segment header
    //
    //   0  8 magic "ORDLOG-Z"   16 8 base position     40 4 block count          52 4 crc32c of the dictionary
    //   8  4 format version     24 8 record count      44 4 block bytes target   56 4 zero
    //   12 4 codec (1 = LZ4)    32 8 raw record bytes  48 4 dictionary bytes     60 4 crc32c of [0, 60)
    // The dictionary (raw records sampled from the segment) follows the header; blocks follow it.

    struct SegHeader: Equatable {
        var base: UInt64
        var recordCount: UInt64
        var rawBytes: UInt64
        var blockCount: UInt32
        var blockBytesTarget: UInt32
        var dictionaryBytes: UInt32 = 0
        var dictionaryChecksum: UInt32 = 0
        var checksum: UInt32 = 0

        /// Where the first block starts.
        var blocksOffset: Int { SegmentFile.headerBytes + Int(dictionaryBytes) }
    }

    /// LZ4 matches reach back at most 64 KiB, so a longer dictionary would be dead weight.
    static let dictionaryBytesMax = 64 << 10

    static let codecLZ4: UInt32 = 1

    static func encodeSegHeader(_ s: SegHeader) -> [UInt8] {
        var w = ByteWriter(capacity: headerBytes)
        w.raw(segMagic); w.u32(formatVersion); w.u32(codecLZ4)
        w.u64(s.base); w.u64(s.recordCount); w.u64(s.rawBytes); w.u32(s.blockCount); w.u32(s.blockBytesTarget)
        w.u32(s.dictionaryBytes); w.u32(s.dictionaryChecksum)
        w.pad(to: 60)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    static func decodeSegHeader(_ h: UnsafeRawBufferPointer, path: String) throws(LogError) -> SegHeader {
        guard h.count >= headerBytes else { throw LogError(.corruption, "sealed segment header cut short", file: path, offset: 0) }
        guard Array(h[0..<8]) == segMagic else { throw LogError(.corruption, "not a sealed segment (bad magic)", file: path, offset: 0) }
        let stored = h.u32(60)
        guard stored == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[0..<60])) else {
            throw LogError(.corruption, "sealed segment header checksum mismatch", file: path, offset: 60)
        }
        guard h.u32(8) == formatVersion else {
            throw LogError(.unsupportedVersion, "sealed segment format version \(h.u32(8)); this build reads version \(formatVersion)", file: path, offset: 8)
        }
        guard h.u32(12) == codecLZ4 else { throw LogError(.unsupportedVersion, "unknown codec \(h.u32(12))", file: path, offset: 12) }
        guard h.u64(16) < LogPosition.limit.rawValue, h.u64(24) >= 1, h.u64(24) <= LogPosition.limit.rawValue - h.u64(16) else {
            throw LogError(.corruption, "sealed segment claims base \(h.u64(16)) and \(h.u64(24)) records, outside the log's limits", file: path, offset: 16)
        }
        guard h.u32(48) <= UInt32(dictionaryBytesMax) else {
            throw LogError(.corruption, "dictionary of \(h.u32(48)) bytes exceeds \(dictionaryBytesMax)", file: path, offset: 48)
        }
        return SegHeader(
            base: h.u64(16), recordCount: h.u64(24), rawBytes: h.u64(32), blockCount: h.u32(40), blockBytesTarget: h.u32(44),
            dictionaryBytes: h.u32(48), dictionaryChecksum: h.u32(52), checksum: stored)
    }

    /// The segment's compression dictionary, checked against its checksum.
    static func dictionary(in map: MappedRegion, header: SegHeader, path: String) throws(LogError) -> UnsafeRawBufferPointer {
        let count = Int(header.dictionaryBytes)
        guard headerBytes + count <= map.length else {
            throw LogError(.corruption, "dictionary runs past the end of the file", file: path, offset: UInt64(headerBytes))
        }
        let bytes = map.bytes(at: headerBytes, count: count)
        guard CRC32C.checksum(bytes) == header.dictionaryChecksum else {
            throw LogError(.corruption, "dictionary checksum mismatch", file: path, offset: UInt64(headerBytes))
        }
        return bytes
    }

    // MARK: - Block header (in a sealed segment, 32 bytes, followed by the LZ4 bytes)
    //
    //   0  4 crc32c of [4, 32 + compressed length)   16 8 first position
    //   4  4 compressed length                        24 8 first recorded at (µs)
    //   8  4 raw length
    //   12 4 record count
    static let blockHeaderBytes = 32
}
