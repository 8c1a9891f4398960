/// A sealed segment: records in independent LZ4 blocks, read through a mapping of the whole
/// file. A random read decompresses one block (or finds it in the block cache).
final class SealedSegment: @unchecked Sendable {
    // @unchecked: everything is immutable after init.
    let base: UInt64
    let recordCount: UInt64
    let file: SystemFile
    let map: MappedRegion
    let blocks: [BlockInfo]
    let dictionary: UnsafeRawBufferPointer

    var path: String { file.path }
    var endPosition: UInt64 { base + recordCount }

    init(file: SystemFile, header: SegmentFile.SegHeader, blocks: [BlockInfo]) throws(LogError) {
        self.file = file
        self.base = header.base
        self.recordCount = header.recordCount
        self.blocks = blocks
        let map = try MappedRegion(file: file, length: Int(try file.size))
        self.map = map
        self.dictionary = try SegmentFile.dictionary(in: map, header: header, path: file.path)
    }

    /// The block holding `position` (binary search over the block table).
    func blockIndex(containing position: UInt64) -> Int {
        precondition(position >= base && position < endPosition)
        var low = 0, high = blocks.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if blocks[mid].firstPosition <= position { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Reads, checks and decompresses block `index`.
    func decodeBlock(_ index: Int) throws(LogError) -> DecodedBlock {
        let info = blocks[index]
        return try DecodedBlock.decode(map: map, at: Int(info.fileOffset), path: path, expected: info, dictionary: dictionary)
    }
}

/// The decompressed records of one block, and where each starts.
final class DecodedBlock: @unchecked Sendable {
    // @unchecked: immutable after `decode` returns.
    let firstPosition: UInt64
    let storage: UnsafeMutableRawBufferPointer
    let offsets: [UInt32]

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(storage) }
    var recordCount: Int { offsets.count }

    private init(firstPosition: UInt64, storage: UnsafeMutableRawBufferPointer, offsets: [UInt32]) {
        self.firstPosition = firstPosition
        self.storage = storage
        self.offsets = offsets
    }

    deinit { storage.deallocate() }

    /// Checks the block header and checksum at `offset` of a sealed segment, decompresses it and
    /// walks its record lengths. When `expected` is given (from the index), the header must agree.
    static func decode(map: MappedRegion, at offset: Int, path: String, expected: BlockInfo?, dictionary: UnsafeRawBufferPointer) throws(LogError) -> DecodedBlock {
        let headerBytes = SegmentFile.blockHeaderBytes
        guard offset + headerBytes <= map.length else {
            throw LogError(.corruption, "block header cut short by the end of the file", file: path, offset: UInt64(offset))
        }
        let header = map.bytes(at: offset, count: headerBytes)
        let compressed = Int(header.u32(4)), raw = Int(header.u32(8)), count = Int(header.u32(12))
        let firstPosition = header.u64(16)
        guard compressed > 0, offset + headerBytes + compressed <= map.length else {
            throw LogError(.corruption, "block of \(compressed) compressed bytes runs past the end of the file", file: path, offset: UInt64(offset))
        }
        let covered = map.bytes(at: offset + 4, count: headerBytes - 4 + compressed)
        let stored = header.u32(0), computed = CRC32C.checksum(covered)
        guard stored == computed else {
            throw LogError(.corruption, "block checksum mismatch: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))", file: path, offset: UInt64(offset))
        }
        if let e = expected {
            guard e.compressedLength == UInt32(compressed), e.rawLength == UInt32(raw), e.recordCount == UInt32(count), e.firstPosition == firstPosition else {
                throw LogError(.corruption, "block header disagrees with the index", file: path, offset: UInt64(offset))
            }
        }
        guard raw >= RecordLayout.minimumBytes, raw <= Int(LogConfiguration.payloadBytesHardLimit) * 2, count >= 1 else {
            throw LogError(.corruption, "block claims \(raw) raw bytes and \(count) records", file: path, offset: UInt64(offset))
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: raw, alignment: 8)
        guard LZ4Block.decompress(map.bytes(at: offset + headerBytes, count: compressed), into: storage, dictionary: dictionary) else {
            storage.deallocate()
            throw LogError(.corruption, "block does not decompress to its \(raw) bytes", file: path, offset: UInt64(offset))
        }
        var offsets: [UInt32] = []
        offsets.reserveCapacity(count)
        var cursor = 0
        let bytes = UnsafeRawBufferPointer(storage)
        while cursor < raw {
            guard raw - cursor >= RecordLayout.headerBytes else { break }
            let length = Int(bytes.u32(cursor + 4))
            guard length >= RecordLayout.minimumBytes, cursor + length <= raw else { break }
            offsets.append(UInt32(cursor))
            cursor += length
        }
        guard cursor == raw, offsets.count == count else {
            storage.deallocate()
            throw LogError(.corruption, "block's records do not add up (\(offsets.count) of \(count) records, \(cursor) of \(raw) bytes)", file: path, offset: UInt64(offset))
        }
        return DecodedBlock(firstPosition: firstPosition, storage: storage, offsets: offsets)
    }

    /// The bytes of the record at `position`, which must be in this block.
    @inline(__always) func recordBytes(at position: UInt64) -> UnsafeRawBufferPointer {
        let i = Int(position - firstPosition)
        let start = Int(offsets[i])
        let end = i + 1 < offsets.count ? Int(offsets[i + 1]) : storage.count
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
