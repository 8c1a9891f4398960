import CKafkaCompression

/// The compression codecs of record batches (docs/KAFKA.md §3), over Debian's C libraries:
/// gzip (zlib; concatenated members too), snappy (a raw block, as librdkafka writes it, or the
/// xerial-framed stream the Java client and the Python clients write), lz4 (the LZ4 frame
/// format) and zstd (frames, with or without a content size). Every decompression is bounded:
/// past `limit` bytes out it stops with `limitExceeded` — a small batch must not expand
/// without bound.
public enum KafkaCompression {
    public static func decompress(_ codec: RecordBatch.Compression, _ input: ArraySlice<UInt8>, limit: Int) throws(KafkaError) -> [UInt8] {
        let data = Array(input)
        switch codec {
        case .none: return data
        case .gzip: return try gunzip(data, limit: limit)
        case .snappy: return try unsnappy(data, limit: limit)
        case .lz4: return try unlz4(data, limit: limit)
        case .zstd: return try unzstd(data, limit: limit)
        }
    }

    static func tooLarge(_ codec: String, _ limit: Int) -> KafkaError {
        KafkaError(.limitExceeded, "\(codec) records expand past \(limit) bytes")
    }

    static func gunzip(_ data: [UInt8], limit: Int) throws(KafkaError) -> [UInt8] {
        var stream = z_stream()
        // 15 + 32: a gzip or zlib header, detected.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw KafkaError(.malformed, "gzip: the decompressor does not start")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var input = data
        let result: Result<Void, KafkaError> = input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = UInt32(inp.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { c -> Int32 in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                out.append(contentsOf: chunk[0..<produced])
                if out.count > limit { return .failure(tooLarge("gzip", limit)) }
                switch status {
                case Z_STREAM_END:
                    // Another member may follow (GZIPInputStream reads them too).
                    if stream.avail_in == 0 { return .success(()) }
                    guard inflateReset(&stream) == Z_OK else { return .failure(KafkaError(.malformed, "gzip: a member after the first does not start")) }
                case Z_OK:
                    if stream.avail_in == 0 && produced == 0 { return .failure(KafkaError(.malformed, "gzip: the stream ends before its end")) }
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 { return .failure(KafkaError(.malformed, "gzip: the stream ends before its end")) }
                default:
                    let why = stream.msg.map { String(cString: $0) } ?? String(cString: zError(status))
                    return .failure(KafkaError(.malformed, "gzip: \(why)"))
                }
            }
        }
        try result.get()
        return out
    }

    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]

    static func unsnappy(_ data: [UInt8], limit: Int) throws(KafkaError) -> [UInt8] {
        guard data.count >= 16, Array(data[0..<8]) == xerialMagic else { return try snappyBlock(data[...], limit: limit) }
        // xerial: magic, version, compatible version, then (int32 big-endian length, raw block)…
        var out: [UInt8] = []
        var at = 16
        while at < data.count {
            guard at + 4 <= data.count else { throw KafkaError(.malformed, "snappy (xerial): a chunk's length is cut short", offset: at) }
            let n = Int(UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3]))
            at += 4
            guard n <= data.count - at else { throw KafkaError(.malformed, "snappy (xerial): a chunk of \(n) bytes with \(data.count - at) left", offset: at) }
            out += try snappyBlock(data[at..<(at + n)], limit: limit - out.count)
            at += n
        }
        return out
    }

    static func snappyBlock(_ block: ArraySlice<UInt8>, limit: Int) throws(KafkaError) -> [UInt8] {
        let input = Array(block)
        var length = 0
        let sized = input.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { snappy_uncompressed_length($0.baseAddress, p.count, &length) }
        }
        guard sized == SNAPPY_OK else { throw KafkaError(.malformed, "snappy: not a snappy block") }
        guard length <= limit else { throw tooLarge("snappy", limit) }
        var out = [UInt8](repeating: 0, count: length)
        var outLength = length
        let status = input.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                p.withMemoryRebound(to: CChar.self) { src in
                    o.withMemoryRebound(to: CChar.self) { dst in snappy_uncompress(src.baseAddress, p.count, dst.baseAddress, &outLength) }
                }
            }
        }
        guard status == SNAPPY_OK, outLength == length else { throw KafkaError(.malformed, "snappy: the block does not decompress") }
        return out
    }

    static func unlz4(_ data: [UInt8], limit: Int) throws(KafkaError) -> [UInt8] {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw KafkaError(.malformed, "lz4: the decompressor does not start")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var at = 0
        var complete = false
        while at < data.count {
            var inSize = data.count - at
            var outSize = chunk.count
            let hint = data.withUnsafeBytes { src in
                chunk.withUnsafeMutableBytes { dst in LZ4F_decompress(context, dst.baseAddress, &outSize, src.baseAddress! + at, &inSize, nil) }
            }
            if LZ4F_isError(hint) != 0 { throw KafkaError(.malformed, "lz4: \(String(cString: LZ4F_getErrorName(hint)))", offset: at) }
            out.append(contentsOf: chunk[0..<outSize])
            if out.count > limit { throw tooLarge("lz4", limit) }
            at += inSize
            if hint == 0 { complete = true; break }  // the frame is complete
            if inSize == 0 && outSize == 0 { break }
        }
        guard complete else { throw KafkaError(.malformed, "lz4: the frame ends before its end", offset: at) }
        return out
    }

    static func unzstd(_ data: [UInt8], limit: Int) throws(KafkaError) -> [UInt8] {
        guard let stream = ZSTD_createDStream() else { throw KafkaError(.malformed, "zstd: the decompressor does not start") }
        defer { ZSTD_freeDStream(stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var finished = false
        let failure: KafkaError? = data.withUnsafeBytes { (src: UnsafeRawBufferPointer) -> KafkaError? in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while input.pos < input.size {
                let r: Int = chunk.withUnsafeMutableBytes { dst in
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let hint = ZSTD_decompressStream(stream, &output, &input)
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: dst[0..<output.pos]))
                    return ZSTD_isError(hint) != 0 ? -1 : hint
                }
                if r < 0 { return KafkaError(.malformed, "zstd: the frame does not decompress") }
                if out.count > limit { return tooLarge("zstd", limit) }
                finished = r == 0
            }
            return nil
        }
        if let failure { throw failure }
        guard finished else { throw KafkaError(.malformed, "zstd: the frame ends before its end") }
        return out
    }

    /// Compresses `data` as a producer would (what the tests send; fetches answer uncompressed).
    public static func compress(_ codec: RecordBatch.Compression, _ data: [UInt8]) -> [UInt8] {
        switch codec {
        case .none: return data
        case .gzip:
            var stream = z_stream()
            _ = deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            defer { deflateEnd(&stream) }
            var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 32)
            var input = data
            let n = input.withUnsafeMutableBufferPointer { i in
                out.withUnsafeMutableBufferPointer { o -> Int in
                    stream.next_in = i.baseAddress; stream.avail_in = UInt32(i.count)
                    stream.next_out = o.baseAddress; stream.avail_out = UInt32(o.count)
                    _ = deflate(&stream, Z_FINISH)
                    return o.count - Int(stream.avail_out)
                }
            }
            return Array(out[0..<n])
        case .snappy:
            var length = snappy_max_compressed_length(data.count)
            var block = [UInt8](repeating: 0, count: length)
            _ = data.withUnsafeBufferPointer { i in
                block.withUnsafeMutableBufferPointer { o in
                    i.withMemoryRebound(to: CChar.self) { src in o.withMemoryRebound(to: CChar.self) { dst in snappy_compress(src.baseAddress, i.count, dst.baseAddress, &length) } }
                }
            }
            // xerial framing, as the Java client writes it: one chunk.
            var out = xerialMagic + [0, 0, 0, 1, 0, 0, 0, 1]
            out += [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            return out + block[0..<length]
        case .lz4:
            var out = [UInt8](repeating: 0, count: LZ4F_compressFrameBound(data.count, nil))
            let n = data.withUnsafeBytes { i in out.withUnsafeMutableBytes { o in LZ4F_compressFrame(o.baseAddress, o.count, i.baseAddress, i.count, nil) } }
            return Array(out[0..<n])
        case .zstd:
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(data.count))
            let n = data.withUnsafeBytes { i in out.withUnsafeMutableBytes { o in ZSTD_compress(o.baseAddress, o.count, i.baseAddress, i.count, 3) } }
            return Array(out[0..<n])
        }
    }
}
