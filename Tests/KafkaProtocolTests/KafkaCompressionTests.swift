import Testing
@testable import KafkaProtocol

@Suite("Kafka compression codecs")
struct KafkaCompressionTests {
    let records = (0..<200).map { k in
        KafkaRecord(offsetDelta: Int32(k), timestampDelta: Int64(k), key: Array("ORD-\(k % 17)".utf8),
                    value: Array("{\"order_id\":\"ORD-\(k % 17)\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"note \(k)\"}}".utf8))
    }

    @Test("a batch compressed with each of Kafka's codecs reads back as the same records", arguments: [RecordBatch.Compression.gzip, .snappy, .lz4, .zstd])
    func roundTrip(codec: RecordBatch.Compression) throws {
        let batch = RecordBatch(baseOffset: 0, lastOffsetDelta: 199, baseTimestamp: 1, maxTimestamp: 200, records: records)
        let bytes = batch.encoded(compression: codec)
        #expect(bytes.count < batch.encoded().count)
        let back = try RecordBatch.decodeAll(bytes[...]) { c, b, limit throws(KafkaError) in try KafkaCompression.decompress(c, b, limit: limit) }
        #expect(back.count == 1)
        #expect(back[0].records == records)
        #expect(back[0].compression == codec)
    }

    @Test("snappy reads both the raw block librdkafka writes and the xerial stream of several chunks the Java client writes")
    func snappyBothFramings() throws {
        let data = Array(String(repeating: "order events ", count: 5000).utf8)
        let xerial = KafkaCompression.compress(.snappy, data)
        let raw = Array(xerial[20...])  // one chunk: magic 8, versions 8, length 4, then the block
        #expect(try KafkaCompression.decompress(.snappy, raw[...], limit: 1 << 20) == data)
        // Two chunks, as a stream of 32 KiB blocks would be.
        let half = KafkaCompression.compress(.snappy, Array(data[..<30000]))
        let rest = KafkaCompression.compress(.snappy, Array(data[30000...]))
        let twoChunks = half + rest[16...]
        #expect(try KafkaCompression.decompress(.snappy, twoChunks[...], limit: 1 << 20) == data)
    }

    @Test("a compressed payload that is cut short or damaged is an error, and one that expands past the limit stops there", arguments: [RecordBatch.Compression.gzip, .snappy, .lz4, .zstd])
    func hostilePayloads(codec: RecordBatch.Compression) {
        let zeros = [UInt8](repeating: 0, count: 4 << 20)
        let bomb = KafkaCompression.compress(codec, zeros)
        #expect(bomb.count < zeros.count / 10)
        #expect { _ = try KafkaCompression.decompress(codec, bomb[...], limit: 1 << 20) } throws: { ($0 as? KafkaError)?.code == .limitExceeded }
        let small = KafkaCompression.compress(codec, Array("hello, orders".utf8))
        #expect(throws: KafkaError.self) { _ = try KafkaCompression.decompress(codec, small.dropLast(3), limit: 1 << 20) }
        var garbage = small
        for k in stride(from: 0, to: garbage.count, by: 3) { garbage[k] ^= 0x5A }
        // Damage may still decode to something (no checksum in some framings) but never traps.
        _ = try? KafkaCompression.decompress(codec, garbage[...], limit: 1 << 20)
    }
}
