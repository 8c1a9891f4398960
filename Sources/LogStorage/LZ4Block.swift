import CLZ4

/// LZ4 block format (not the frame format): the block header in the segment file carries the
/// sizes and the checksum, so the frame's own would be redundant (docs/FORMAT.md).
enum LZ4Block {
    /// The most bytes LZ4 can compress `count` bytes into.
    static func compressBound(_ count: Int) -> Int { Int(LZ4_compressBound(Int32(clamping: count))) }

    /// Decompresses exactly `destination.count` bytes or returns false (malformed input or
    /// wrong size). `dictionary` is the segment's dictionary (may be empty).
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer, dictionary: UnsafeRawBufferPointer) -> Bool {
        guard source.count > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return destination.isEmpty }
        let n = LZ4_decompress_safe_usingDict(
            src.assumingMemoryBound(to: CChar.self),
            dst.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count),
            dictionary.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(dictionary.count))
        return n == Int32(destination.count)
    }
}

/// Compresses blocks that may all refer back into one shared dictionary, so small blocks
/// (cheap to decompress for a random read) compress almost as well as large ones.
///
/// LZ4_loadDict hashes the whole dictionary; doing that per block would cost more than the
/// block. Instead the stream state is prepared once and copied per block: LZ4_stream_t holds
/// no pointers into itself, only to the dictionary, which this object keeps alive.
final class LZ4DictionaryCompressor {
    private let dictionary: UnsafeMutableRawBufferPointer
    private let prepared: UnsafeMutablePointer<LZ4_stream_t>
    private let working: UnsafeMutablePointer<LZ4_stream_t>

    init(dictionary bytes: [UInt8]) {
        let dictionary = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { dictionary.copyMemory(from: $0) }
        self.dictionary = dictionary
        prepared = .allocate(capacity: 1)
        working = .allocate(capacity: 1)
        LZ4_resetStream(prepared)
        if !bytes.isEmpty {
            _ = LZ4_loadDict(prepared, dictionary.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        }
    }

    deinit {
        dictionary.deallocate()
        prepared.deallocate()
        working.deallocate()
    }

    func compress(_ source: UnsafeRawBufferPointer, into destination: inout [UInt8]) -> Int {
        let bound = Int(LZ4_compressBound(Int32(source.count)))
        if destination.count < bound { destination = [UInt8](repeating: 0, count: bound) }
        working.update(from: prepared, count: 1)
        let written = destination.withUnsafeMutableBytes { dst in
            LZ4_compress_fast_continue(
                working,
                source.baseAddress!.assumingMemoryBound(to: CChar.self),
                dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(source.count), Int32(bound), 1)
        }
        precondition(written > 0, "LZ4_compress_fast_continue cannot fail with a bound-sized destination")
        return Int(written)
    }
}
