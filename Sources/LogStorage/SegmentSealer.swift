/// Turns a rolled segment into a sealed one: LZ4 blocks of about `blockBytesTarget` raw bytes
/// (whole records only), plus its index. Runs off the append path.
///
/// Crash safety: the `.seg` and `.idx` are each written under `.tmp`, fsynced and renamed; the
/// directory is fsynced; only then is the `.log` removed. When open finds a `.log` with a `.seg`
/// beside it, it keeps the `.seg` only if every block checks out (else it keeps the `.log`), so
/// a crash at any point leaves one complete copy.
enum SegmentSealer {
    static func seal(_ segment: ActiveSegment, directory: String, blockBytesTarget: Int, dictionaryBytesTarget: Int) throws(LogError) -> SealedSegment {
        let count = segment.count
        precondition(count > 0, "an empty segment is never rolled")
        let base = segment.base
        let segPath = directory + "/" + SegmentFile.name(base: base, .seg)
        let tmpPath = segPath + ".tmp"
        try SystemFile.remove(tmpPath)
        let out = try SystemFile(path: tmpPath, mode: .createExclusive)

        let dictionary = makeDictionary(segment, bytesTarget: dictionaryBytesTarget)
        let compressor = LZ4DictionaryCompressor(dictionary: dictionary)
        try out.write(dictionary, at: UInt64(SegmentFile.headerBytes))
        var blocks: [BlockInfo] = []
        var keys = KeyTableBuilder()
        var pending = ByteWriter(capacity: 4 << 20)
        var fileOffset = UInt64(SegmentFile.headerBytes + dictionary.count)
        var written = fileOffset
        var compressed: [UInt8] = []
        var rawTotal: UInt64 = 0

        var first = base
        let end = base + UInt64(count)
        while first < end {
            // Gather whole records up to the block target; they are contiguous in the file.
            var last = first
            var rawBytes = 0
            while last < end {
                let record = segment.recordBytes(at: last)
                if rawBytes > 0 && rawBytes + record.count > blockBytesTarget { break }
                rawBytes += record.count
                let view = RecordView(bytes: record)
                keys.add(view)
                last += 1
            }
            let area = segment.recordArea(from: first, to: last)
            precondition(area.count == rawBytes)
            let n = compressor.compress(area, into: &compressed)
            var header = ByteWriter(capacity: SegmentFile.blockHeaderBytes)
            header.u32(0); header.u32(UInt32(n)); header.u32(UInt32(rawBytes)); header.u32(UInt32(last - first))
            header.u64(first); header.i64(segment.recordedAt(of: first))
            let crc = header.bytes.withUnsafeBytes { h in
                compressed.withUnsafeBytes { c in
                    orderlogCRC(UnsafeRawBufferPointer(rebasing: h[4...]), then: UnsafeRawBufferPointer(rebasing: c[0..<n]))
                }
            }
            header.bytes.withUnsafeMutableBytes { $0.put(crc, at: 0) }
            blocks.append(BlockInfo(
                fileOffset: fileOffset, firstPosition: first, firstRecordedAt: segment.recordedAt(of: first),
                compressedLength: UInt32(n), rawLength: UInt32(rawBytes), recordCount: UInt32(last - first)))
            pending.raw(header.bytes)
            pending.raw(compressed[0..<n])
            fileOffset += UInt64(SegmentFile.blockHeaderBytes + n)
            rawTotal += UInt64(rawBytes)
            if pending.bytes.count >= 4 << 20 {
                try out.write(pending.bytes, at: written)
                written += UInt64(pending.bytes.count)
                pending.bytes.removeAll(keepingCapacity: true)
            }
            first = last
        }
        try out.write(pending.bytes, at: written)
        let header = SegmentFile.SegHeader(
            base: base, recordCount: UInt64(count), rawBytes: rawTotal,
            blockCount: UInt32(blocks.count), blockBytesTarget: UInt32(blockBytesTarget),
            dictionaryBytes: UInt32(dictionary.count), dictionaryChecksum: CRC32C.checksum(dictionary))
        let headerBytes = SegmentFile.encodeSegHeader(header)
        try out.write(headerBytes, at: 0)
        try out.syncData()
        try SystemFile.rename(tmpPath, to: segPath)

        let index = SegmentIndex(
            base: base, recordCount: UInt64(count), segFileBytes: fileOffset,
            segHeaderChecksum: headerBytes.withUnsafeBytes { $0.u32(60) }, blocks: blocks, keys: keys.sorted())
        try writeIndex(index, directory: directory)
        try SystemFile.syncDirectory(directory)

        let file = try SystemFile(path: segPath, mode: .readOnly)
        var finalHeader = header
        finalHeader.checksum = index.segHeaderChecksum
        return try SealedSegment(file: file, header: finalHeader, blocks: blocks)
    }

    /// A dictionary of whole records sampled evenly across the segment: the field names, ids
    /// and values its blocks repeat. Blocks compressed against it may be small (a random
    /// read decompresses little) and still compress well.
    static func makeDictionary(_ segment: ActiveSegment, bytesTarget: Int) -> [UInt8] {
        // A dictionary pays for itself across many blocks; in a small segment it would not.
        let target = min(bytesTarget, SegmentFile.dictionaryBytesMax, (segment.writtenBytes - SegmentFile.headerBytes) / 8)
        guard target > 0, segment.count > 0 else { return [] }
        let average = max(1, (segment.writtenBytes - SegmentFile.headerBytes) / segment.count)
        let wanted = max(1, target / average)
        let step = max(1, segment.count / wanted)
        var dictionary: [UInt8] = []
        dictionary.reserveCapacity(target)
        var i = 0
        while i < segment.count {
            let record = segment.recordBytes(at: segment.base + UInt64(i))
            if dictionary.count + record.count > target { break }
            dictionary.append(contentsOf: record)
            i += step
        }
        return dictionary
    }

    static func writeIndex(_ index: SegmentIndex, directory: String) throws(LogError) {
        let path = directory + "/" + SegmentFile.name(base: index.base, .idx)
        let tmp = path + ".tmp"
        try SystemFile.remove(tmp)
        let file = try SystemFile(path: tmp, mode: .createExclusive)
        try file.write(index.encode(), at: 0)
        try file.syncData()
        try SystemFile.rename(tmp, to: path)
    }

    /// Rebuilds a sealed segment's index by reading every block (when the `.idx` is missing,
    /// damaged or belongs to another version of the `.seg`). Any damage in the `.seg` itself
    /// is a corruption error.
    static func rebuildIndex(segPath: String, header: SegmentFile.SegHeader, map: MappedRegion) throws(LogError) -> SegmentIndex {
        var blocks: [BlockInfo] = []
        var keys = KeyTableBuilder()
        let dictionary = try SegmentFile.dictionary(in: map, header: header, path: segPath)
        var offset = header.blocksOffset
        var expected = header.base
        for _ in 0..<header.blockCount {
            let block = try DecodedBlock.decode(map.bytes(at: 0, count: map.length), at: offset, fileOffset: UInt64(offset), path: segPath, expected: nil, dictionary: dictionary)
            guard block.firstPosition == expected else {
                throw LogError(.corruption, "block starts at position \(block.firstPosition) where \(expected) was expected", file: segPath, offset: UInt64(offset))
            }
            // Checked before the records, not only in the total after the last block: the
            // header keeps base + count within the log's limit, and a block holding more than
            // that would give its records positions past 2^40, which the key table traps on.
            guard UInt64(block.recordCount) <= header.base + header.recordCount - expected else {
                throw LogError(.corruption, "blocks hold more than the header's \(header.recordCount) records", file: segPath, offset: UInt64(offset))
            }
            var firstRecordedAt: Int64 = 0
            for i in 0..<block.recordCount {
                let position = expected + UInt64(i)
                let bytes = block.recordBytes(at: position)
                if case .failure(let problem) = RecordLayout.validate(bytes, at: 0, expectedPosition: position) {
                    throw LogError(.corruption, "record \(position) in block: \(problem.message)", file: segPath, offset: UInt64(offset))
                }
                let view = RecordView(bytes: bytes)
                if i == 0 { firstRecordedAt = view.recordedAt.rawValue }
                keys.add(view)
            }
            let header = map.bytes(at: offset, count: SegmentFile.blockHeaderBytes)
            blocks.append(BlockInfo(
                fileOffset: UInt64(offset), firstPosition: expected, firstRecordedAt: firstRecordedAt,
                compressedLength: header.u32(4), rawLength: header.u32(8), recordCount: UInt32(block.recordCount)))
            offset += SegmentFile.blockHeaderBytes + Int(header.u32(4))
            expected += UInt64(block.recordCount)
        }
        guard expected == header.base + header.recordCount else {
            throw LogError(.corruption, "blocks hold \(expected - header.base) records; the header says \(header.recordCount)", file: segPath, offset: UInt64(offset))
        }
        guard offset == map.length else {
            throw LogError(.corruption, "\(map.length - offset) unexpected bytes after the last block", file: segPath, offset: UInt64(offset))
        }
        return SegmentIndex(
            base: header.base, recordCount: header.recordCount, segFileBytes: UInt64(offset),
            segHeaderChecksum: header.checksum, blocks: blocks, keys: keys.sorted())
    }
}

/// CRC32C over two buffers as if they were one.
func orderlogCRC(_ a: UnsafeRawBufferPointer, then b: UnsafeRawBufferPointer) -> UInt32 {
    CRC32C.extend(CRC32C.checksum(a), b)
}
