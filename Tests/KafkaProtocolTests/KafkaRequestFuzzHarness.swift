import KafkaProtocol

/// What the `kafka-request` fuzz target (Fuzz/, tools/fuzz) does with one input; it lives here,
/// and Fuzz/ links it in, so `swift test` replays every corpus and regression file through
/// exactly the code the fuzzer ran. Errors are the codec's answer to bad bytes and are fine; a
/// trap is a finding.
enum KafkaRequestFuzzHarness {
    static let decompress: RecordBatch.Decompressor = { codec, bytes, limit throws(KafkaError) in
        try KafkaCompression.decompress(codec, bytes, limit: limit)
    }

    /// Reads `bytes` as a request frame's payload (and a produce's records as batches), as
    /// record batches, and as each codec's compressed payload.
    static func run(_ bytes: [UInt8]) {
        if case .request(_, .produce(let p))? = try? KafkaRequest.decode(bytes) {
            for t in p.topics { for part in t.partitions { _ = try? RecordBatch.decodeAll(part.records ?? [], decompress: decompress) } }
        }
        _ = try? RecordBatch.decodeAll(bytes[...], decompress: decompress)
        for codec in [RecordBatch.Compression.gzip, .snappy, .lz4, .zstd] {
            _ = try? KafkaCompression.decompress(codec, bytes[...], limit: 1 << 20)
        }
        _ = SaslPlain.parse(bytes)
    }
}
