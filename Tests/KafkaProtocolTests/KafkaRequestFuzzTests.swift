import Testing
@testable import KafkaProtocol

/// Mutations of well-formed requests: whatever bytes a stranger sends, reading them either
/// gives a request or throws `KafkaError` — it never traps, loops or allocates what the bytes
/// cannot hold.
@Suite("Kafka request decoding under mutation")
struct KafkaRequestFuzzTests {
    /// A well-formed request of every API this broker reads.
    static var seeds: [[UInt8]] {
        func header(_ api: KafkaAPI, _ v: Int16) -> KafkaWriter {
            var w = KafkaWriter()
            w.int16(api.rawValue); w.int16(v); w.int32(1); w.nullableString("fuzz")
            return w
        }
        var out: [[UInt8]] = []
        var a = header(.apiVersions, 3); a.emptyTaggedFields(); a.string("x", compact: true); a.string("1", compact: true); a.emptyTaggedFields(); out.append(a.bytes)
        var m = header(.metadata, 8); m.arrayCount(1); m.string("orders"); m.bool(true); m.bool(false); m.bool(false); out.append(m.bytes)
        let batch = RecordBatch(baseOffset: 0, lastOffsetDelta: 1, baseTimestamp: 0, maxTimestamp: 0, records: [
            KafkaRecord(offsetDelta: 0, timestampDelta: 0, key: Array("ORD-1".utf8), value: Array("{}".utf8), headers: [("h", [1])]),
            KafkaRecord(offsetDelta: 1, timestampDelta: 0, key: nil, value: nil),
        ]).encoded()
        var p = header(.produce, 8); p.nullableString(nil); p.int16(-1); p.int32(1000); p.arrayCount(1); p.string("orders"); p.arrayCount(1); p.int32(0); p.nullableBytes(batch); out.append(p.bytes)
        var f = header(.fetch, 11); f.int32(-1); f.int32(0); f.int32(1); f.int32(1 << 20); f.int8(0); f.int32(0); f.int32(-1)
        f.arrayCount(1); f.string("orders"); f.arrayCount(1); f.int32(0); f.int32(-1); f.int64(0); f.int64(-1); f.int32(1 << 20); f.arrayCount(0); f.string(""); out.append(f.bytes)
        var l = header(.listOffsets, 5); l.int32(-1); l.int8(0); l.arrayCount(1); l.string("orders"); l.arrayCount(1); l.int32(0); l.int32(-1); l.int64(-2); out.append(l.bytes)
        var j = header(.joinGroup, 5); j.string("g"); j.int32(10_000); j.int32(30_000); j.string(""); j.nullableString(nil); j.string("consumer")
        j.arrayCount(1); j.string("range"); j.nullableBytes([0, 1, 2] as [UInt8]); out.append(j.bytes)
        var s = header(.syncGroup, 3); s.string("g"); s.int32(1); s.string("m"); s.nullableString(nil); s.arrayCount(1); s.string("m"); s.nullableBytes([9] as [UInt8]); out.append(s.bytes)
        var c = header(.offsetCommit, 7); c.string("g"); c.int32(1); c.string("m"); c.nullableString(nil); c.arrayCount(1); c.string("orders"); c.arrayCount(1)
        c.int32(0); c.int64(5); c.int32(-1); c.nullableString("meta"); out.append(c.bytes)
        var o = header(.offsetFetch, 5); o.string("g"); o.arrayCount(1); o.string("orders"); o.arrayCount(1); o.int32(0); out.append(o.bytes)
        var h = header(.saslHandshake, 1); h.string("PLAIN"); out.append(h.bytes)
        return out
    }

    @Test("every seed reads as the request it is")
    func seedsRead() throws {
        for seed in Self.seeds {
            guard case .request = try KafkaRequest.decode(seed) else { Issue.record("seed \(seed.prefix(4)) did not read"); continue }
        }
    }

    @Test("50,000 mutations (bit flips, bytes set to extremes, cuts, insertions) each read or throw KafkaError, never trap")
    func mutationsNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        let extremes: [UInt8] = [0x00, 0x7F, 0x80, 0xFF]
        var thrown = 0
        for k in 0..<50_000 {
            var bytes = Self.seeds[k % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
                case 1: bytes[i] = extremes.randomElement(using: &rng)!
                case 2: bytes.removeSubrange(i...)
                default: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: i)
                }
            }
            do {
                if case .request(_, .produce(let p)) = try KafkaRequest.decode(bytes) {
                    // The records a produce carries are read later, by the same rules.
                    for t in p.topics { for part in t.partitions { _ = try? RecordBatch.decodeAll(part.records ?? [], decompress: { c, b, limit throws(KafkaError) in
                        try KafkaCompression.decompress(c, b, limit: limit) }) } }
                }
            } catch {
                thrown += 1
            }
        }
        #expect(thrown > 1000)
    }
}

import FuzzCorpusSupport

/// The kafka-request fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness.
@Suite("Kafka request fuzz corpus")
struct KafkaRequestFuzzCorpusTests {
    static let target = "kafka-request"

    @Test("the seed corpus is there, and every request seed reads")
    func corpusPresent() throws {
        let seeds = FuzzCorpus.inputs(Self.target, "corpus")
        #expect(seeds.count >= 10)
        for path in seeds where !path.hasSuffix("record-batch") && !path.hasSuffix("gzip-payload") {
            guard case .request = try KafkaRequest.decode(try FuzzCorpus.bytes(path)) else { Issue.record("\(path) did not read"); continue }
        }
    }

    @Test("every seed and regression input reads or is refused, never traps",
          arguments: FuzzCorpus.inputs(target, "corpus") + FuzzCorpus.inputs(target, "regressions"))
    func noTrap(path: String) throws {
        KafkaRequestFuzzHarness.run(try FuzzCorpus.bytes(path))
    }
}
