import Testing
@testable import KafkaProtocol

@Suite("Kafka primitives")
struct KafkaPrimitivesTests {
    @Test("murmur2 gives the values Kafka's own tests give (UtilsTest.testMurmur2), so keyed records land where Java clients put them")
    func murmur2MatchesKafka() {
        let cases: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107),
        ]
        for (key, expected) in cases { #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == expected, "\(key)") }
        #expect((0..<100).allSatisfy { KafkaPartitioner.partition(of: Array("ORD-\($0)".utf8), partitions: 7) < 7 })
    }

    @Test("varints, varlongs, strings and arrays read back what was written, in both plain and compact forms")
    func roundTrips() throws {
        var w = KafkaWriter()
        let ints: [Int32] = [0, 1, -1, 63, -64, 64, 300, Int32.max, Int32.min]
        let longs: [Int64] = [0, -1, 1 << 40, Int64.max, Int64.min]
        for v in ints { w.varint(v) }
        for v in longs { w.varlong(v) }
        w.string("orders"); w.string("héllo", compact: true); w.nullableString(nil); w.nullableString(nil, compact: true)
        w.nullableBytes([1, 2, 3] as [UInt8]); w.nullableBytes(nil as [UInt8]?, compact: true)
        w.arrayCount(1, compact: true); w.int16(-2); w.int64(-3)
        w.emptyTaggedFields()
        var r = KafkaReader(w.bytes)
        for v in ints { #expect(try r.varint() == v) }
        for v in longs { #expect(try r.varlong() == v) }
        #expect(try r.string() == "orders")
        #expect(try r.string(compact: true) == "héllo")
        #expect(try r.nullableString() == nil)
        #expect(try r.nullableString(compact: true) == nil)
        #expect(try r.nullableBytes().map(Array.init) == [1, 2, 3])
        #expect(try r.nullableBytes(compact: true) == nil)
        #expect(try r.array(compact: true, minimumBytes: 2) { (r: inout KafkaReader) throws(KafkaError) in try r.int16() } == [-2])
        #expect(try r.int64() == -3)
        try r.skipTaggedFields()
        #expect(r.isAtEnd)
    }

    @Test("a length, count or varint a stranger sends that the bytes cannot hold is refused with the offset, before anything is allocated")
    func hostileLengthsAreRefused() {
        var r = KafkaReader([0x7F, 0xFF, 0xFF, 0xFF])  // an array of 2^31 − 1 elements in 0 bytes
        #expect(throws: KafkaError.self) { _ = try r.arrayCount() }
        r = KafkaReader([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])  // a 6-byte varint
        #expect(throws: KafkaError.self) { _ = try r.varint() }
        r = KafkaReader([0x00, 0x05, 0x61])  // a string of 5 bytes with 1 left
        #expect(throws: KafkaError.self) { _ = try r.string() }
        r = KafkaReader([0x00, 0x02, 0xC3, 0x28])  // not UTF-8
        #expect(throws: KafkaError.self) { _ = try r.string() }
        r = KafkaReader([0x02, 0x01, 0x7F])  // a tagged field of 127 bytes in 0
        #expect(throws: KafkaError.self) { try r.skipTaggedFields() }
    }

    @Test("a record batch written and read back is the same; a flipped bit fails its CRC32C; a truncated one and a magic-1 one are refused by name")
    func recordBatchRoundTrip() throws {
        let records: [KafkaRecord] = (0..<5).map { (k: Int) -> KafkaRecord in
            let key: [UInt8] = Array("ORD-\(k)".utf8)
            let value: [UInt8]? = k == 2 ? nil : Array("{\"k\":\(k)}".utf8)
            let headers: [(key: String, value: [UInt8]?)] = [("type", Array("order_placed".utf8)), ("seq", nil)]
            return KafkaRecord(offsetDelta: Int32(k * 3), timestampDelta: Int64(k), key: key, value: value, headers: headers)
        }
        let batch = RecordBatch(baseOffset: 1000, lastOffsetDelta: 12, baseTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_004, records: records)
        let bytes = batch.encoded()
        let none: RecordBatch.Decompressor = { c, _, _ throws(KafkaError) in throw KafkaError(.unsupportedFormat, "\(c)") }
        let back = try RecordBatch.decodeAll(bytes[...], decompress: none)
        #expect(back == [batch])
        let doubled: [UInt8] = bytes + bytes
        let two = try RecordBatch.decodeAll(doubled[...], decompress: none)
        #expect(two.count == 2)
        for i in [21, 40, bytes.count - 1] {
            var damaged = bytes
            damaged[i] ^= 0x10
            #expect(throws: KafkaError.self) { _ = try RecordBatch.decodeAll(damaged[...], decompress: none) }
        }
        #expect(throws: KafkaError.self) { _ = try RecordBatch.decodeAll(bytes.dropLast(3), decompress: none) }
        var magic1 = bytes
        magic1[16] = 1
        #expect {
            _ = try RecordBatch.decodeAll(magic1[...], decompress: none)
        } throws: { ($0 as? KafkaError)?.code == .unsupportedFormat }
    }

    @Test("records whose lengths need a 1-, 2-, 3- or 4-byte varint (empty, 63, 64, 8191, 8192 and 1 MiB values; a record just past 8,191 bytes) read back exactly")
    func recordLengthsAcrossVarintWidths() throws {
        let sizes = [0, 1, 63, 64, 8_000, 8_191, 8_192, 8_150, 1 << 20, 2_097_152]
        let records: [KafkaRecord] = sizes.enumerated().map { (k, n) in
            KafkaRecord(offsetDelta: Int32(k), timestampDelta: Int64(k) - 3, key: k == 1 ? nil : Array("K\(k)".utf8),
                        value: (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ k) }, headers: k % 2 == 0 ? [("h", [UInt8](repeating: 7, count: k * 50))] : [])
        }
        let batch = RecordBatch(baseOffset: 5, lastOffsetDelta: Int32(sizes.count - 1), baseTimestamp: 1, maxTimestamp: 9, records: records)
        let none: RecordBatch.Decompressor = { c, _, _ throws(KafkaError) in throw KafkaError(.unsupportedFormat, "\(c)") }
        #expect(try RecordBatch.decodeAll(batch.encoded()[...], decompress: none) == [batch])
    }

    @Test("a record appended with two headers as arguments is byte for byte the record appended with them as an array, and both read back with every delta, key, value and header, at the deltas' extremes")
    func twoHeaderAppendMatchesArray() throws {
        let key = Array("ORD-9".utf8), value = Array(String(repeating: "v", count: 9_000).utf8), type = Array("shipped".utf8), seq = Array("12".utf8)
        let deltas: [(offset: Int32, timestamp: Int64)] = [(0, -5), (1, 0), (-1, .min), (.max, .max), (.min, 70_000), (63, -64), (64, 63)]
        var a = RecordBatchBuilder(), b = RecordBatchBuilder()
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in type.withUnsafeBytes { t in seq.withUnsafeBytes { s in
            for d in deltas {
                a.append(offsetDelta: d.offset, timestampDelta: d.timestamp, key: k, value: v, headers: [(k, t), (s, nil)])
                b.append(offsetDelta: d.offset, timestampDelta: d.timestamp, key: k, value: v, (k, t), (s, nil))
            }
        } } } }
        let header = RecordBatch(baseOffset: 1, lastOffsetDelta: 70_000, baseTimestamp: 0, maxTimestamp: 0, records: [])
        let bytes = b.finish(header)
        #expect(a.finish(header) == bytes)
        let none: RecordBatch.Decompressor = { c, _, _ throws(KafkaError) in throw KafkaError(.unsupportedFormat, "\(c)") }
        let back = try #require(try RecordBatch.decodeAll(bytes[...], decompress: none).first)
        #expect(back.records == deltas.map { d in
            KafkaRecord(offsetDelta: d.offset, timestampDelta: d.timestamp, key: key, value: value, headers: [("ORD-9", type), ("12", nil)])
        })
    }
}
