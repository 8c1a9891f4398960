/// A sealed segment: records in LZ4 blocks (independent of each other, sharing the segment's
/// dictionary), read through a mapping of the whole
/// file. A random read decompresses one block (or finds it in the block cache).
final class SealedSegment: @unchecked Sendable {
    // @unchecked: everything is immutable after init.
    let base: UInt64
    let recordCount: UInt64
    let file: SystemFile
    let map: MappedRegion
    let blocks: [BlockInfo]
    /// A copy of the segment's dictionary: every decompression reads it, and a copy keeps the
    /// mapping's pages out of the resident set.
    private let dictionaryStorage: UnsafeMutableRawBufferPointer
    var dictionary: UnsafeRawBufferPointer { UnsafeRawBufferPointer(dictionaryStorage) }

    var path: String { file.path }
    var endPosition: UInt64 { base + recordCount }

    init(file: SystemFile, header: SegmentFile.SegHeader, blocks: [BlockInfo]) throws(LogError) {
        self.file = file
        self.base = header.base
        self.recordCount = header.recordCount
        self.blocks = blocks
        let map = try MappedRegion(file: file, length: Int(try file.size))
        self.map = map
        let dictionary = try SegmentFile.dictionary(in: map, header: header, path: file.path)
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(dictionary.count, 1), alignment: 8)
        storage.copyMemory(from: dictionary)
        dictionaryStorage = UnsafeMutableRawBufferPointer(rebasing: storage[0..<dictionary.count])
        map.dropResidentPages()
    }

    deinit { UnsafeMutableRawBufferPointer(start: dictionaryStorage.baseAddress, count: max(dictionaryStorage.count, 1)).deallocate() }

    /// The block holding `position`. Blocks hold about the same number of records, so the
    /// search starts where the average puts it and walks a step or two; a binary search
    /// over a segment's thousands of blocks would take a cache miss per probe.
    func blockIndex(containing position: UInt64) -> Int {
        precondition(position >= base && position < endPosition)
        return blocks.withUnsafeBufferPointer { blocks in
            let count = blocks.count
            var i = min(count - 1, Int((position - base) * UInt64(count) / recordCount))
            for _ in 0..<8 {
                if blocks[i].firstPosition > position { i -= 1; continue }
                if i + 1 < count && blocks[i + 1].firstPosition <= position { i += 1; continue }
                return i
            }
            var low = 0, high = count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                if blocks[mid].firstPosition <= position { low = mid } else { high = mid - 1 }
            }
            return low
        }
    }

    /// Reads block `index` with pread, checks and decompresses it: the path of point reads.
    ///
    /// Not through the mapping: a page fault on a file mapping maps a whole window of the
    /// page cache (fault-around, and on file systems with large folios up to 2 MiB at once),
    /// and those pages stay in the resident set. Random reads over a large log would then
    /// grow RSS towards the size of the log. pread copies only the block.
    func readBlock(_ index: Int) throws(LogError) -> DecodedBlock {
        let info = blocks[index]
        let bytes = try file.read(count: SegmentFile.blockHeaderBytes + Int(info.compressedLength), at: info.fileOffset)
        return try bytes.withUnsafeBytes { buffer in
            Result { () throws(LogError) in
                try DecodedBlock.decode(buffer, at: 0, fileOffset: info.fileOffset, path: path, expected: info, dictionary: dictionary)
            }
        }.get()
    }

    /// Checks and decompresses block `index` through the mapping: the path of sequential
    /// scans, which drop the segment's pages when they leave it.
    func scanBlock(_ index: Int) throws(LogError) -> DecodedBlock {
        let info = blocks[index]
        return try DecodedBlock.decode(
            map.bytes(at: 0, count: map.length), at: Int(info.fileOffset), fileOffset: info.fileOffset,
            path: path, expected: info, dictionary: dictionary)
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
    static func decode(
        _ data: UnsafeRawBufferPointer, at offset: Int, fileOffset: UInt64, path: String,
        expected: BlockInfo?, dictionary: UnsafeRawBufferPointer
    ) throws(LogError) -> DecodedBlock {
        let headerBytes = SegmentFile.blockHeaderBytes
        guard offset + headerBytes <= data.count else {
            throw LogError(.corruption, "block header cut short by the end of the file", file: path, offset: fileOffset)
        }
        let header = UnsafeRawBufferPointer(rebasing: data[offset..<(offset + headerBytes)])
        let compressed = Int(header.u32(4)), raw = Int(header.u32(8)), count = Int(header.u32(12))
        let firstPosition = header.u64(16)
        guard compressed > 0, offset + headerBytes + compressed <= data.count else {
            throw LogError(.corruption, "block of \(compressed) compressed bytes runs past the end of the file", file: path, offset: fileOffset)
        }
        let covered = UnsafeRawBufferPointer(rebasing: data[(offset + 4)..<(offset + headerBytes + compressed)])
        let stored = header.u32(0), computed = CRC32C.checksum(covered)
        guard stored == computed else {
            throw LogError(.corruption, "block checksum mismatch: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))", file: path, offset: fileOffset)
        }
        if let e = expected {
            guard e.compressedLength == UInt32(compressed), e.rawLength == UInt32(raw), e.recordCount == UInt32(count), e.firstPosition == firstPosition else {
                throw LogError(.corruption, "block header disagrees with the index", file: path, offset: fileOffset)
            }
        }
        guard raw >= RecordLayout.minimumBytes, raw <= Int(LogConfiguration.payloadBytesHardLimit) * 2,
              count >= 1, count <= raw / RecordLayout.minimumBytes, compressed <= LZ4Block.compressBound(raw) else {
            throw LogError(.corruption, "block claims \(raw) raw bytes, \(compressed) compressed bytes and \(count) records", file: path, offset: fileOffset)
        }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: raw, alignment: 8)
        guard LZ4Block.decompress(UnsafeRawBufferPointer(rebasing: data[(offset + headerBytes)..<(offset + headerBytes + compressed)]), into: storage, dictionary: dictionary) else {
            storage.deallocate()
            throw LogError(.corruption, "block does not decompress to its \(raw) bytes", file: path, offset: fileOffset)
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
            throw LogError(.corruption, "block's records do not add up (\(offsets.count) of \(count) records, \(cursor) of \(raw) bytes)", file: path, offset: fileOffset)
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
