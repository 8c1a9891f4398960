import CLZ4

/// LZ4 block format (not the frame format): the block header in the segment file carries the
/// sizes and the checksum, so the frame's own would be redundant (docs/FORMAT.md).
enum LZ4Block {
    static func compress(_ source: UnsafeRawBufferPointer, into destination: inout [UInt8]) -> Int {
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        if destination.count < bound { destination = [UInt8](repeating: 0, count: bound) }
        let written = destination.withUnsafeMutableBytes { dst in
            LZ4_compress_default(
                source.baseAddress!.assumingMemoryBound(to: CChar.self),
                dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(bound))
        }
        precondition(written > 0, "LZ4_compress_default cannot fail with a bound-sized destination")
        return Int(written)
    }

    /// Decompresses exactly `rawCount` bytes or returns false (malformed input or wrong size).
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard source.count > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return destination.isEmpty }
        let n = LZ4_decompress_safe(
            src.assumingMemoryBound(to: CChar.self),
            dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return n == Int32(destination.count)
    }
}
