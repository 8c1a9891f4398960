/// The 128-bit hash that identifies a key in indexes: MurmurHash3_x64_128 with seed 0 over the
/// key's bytes (docs/FORMAT.md). 128 bits make an accidental collision among even billions of
/// keys vanishingly unlikely (~1e-20); reads still compare the stored key and report a
/// collision as corruption rather than return another key's records.
struct KeyHash: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        // (0, 0) marks an empty slot in the in-memory directory; no real key may hash to it.
        self.low = (high == 0 && low == 0) ? 1 : low
    }

    init(_ key: LogKey) { self = key.bytes.withUnsafeBytes { KeyHash(bytes: $0) } }

    init(bytes: UnsafeRawBufferPointer) {
        let (h1, h2) = KeyHash.murmur3x64_128(bytes, seed: 0)
        self.init(high: h1, low: h2)
    }

    static func murmur3x64_128(_ data: UnsafeRawBufferPointer, seed: UInt64) -> (UInt64, UInt64) {
        let c1: UInt64 = 0x87c3_7b91_1142_53d5
        let c2: UInt64 = 0x4cf5_ad43_2745_937f
        var h1 = seed, h2 = seed
        let blocks = data.count / 16
        for i in 0..<blocks {
            var k1 = data.u64(i * 16), k2 = data.u64(i * 16 + 8)
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
            h1 = rotl(h1, 27); h1 &+= h2; h1 = h1 &* 5 &+ 0x52dc_e729
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
            h2 = rotl(h2, 31); h2 &+= h1; h2 = h2 &* 5 &+ 0x3849_5ab5
        }
        let tail = blocks * 16
        var k1: UInt64 = 0, k2: UInt64 = 0
        let rest = data.count & 15
        if rest > 8 {
            for i in stride(from: rest - 1, through: 8, by: -1) { k2 ^= UInt64(data[tail + i]) << (UInt64(i - 8) * 8) }
            k2 &*= c2; k2 = rotl(k2, 33); k2 &*= c1; h2 ^= k2
        }
        if rest > 0 {
            for i in stride(from: min(rest, 8) - 1, through: 0, by: -1) { k1 ^= UInt64(data[tail + i]) << (UInt64(i) * 8) }
            k1 &*= c1; k1 = rotl(k1, 31); k1 &*= c2; h1 ^= k1
        }
        h1 ^= UInt64(data.count); h2 ^= UInt64(data.count)
        h1 &+= h2; h2 &+= h1
        h1 = fmix(h1); h2 = fmix(h2)
        h1 &+= h2; h2 &+= h1
        return (h1, h2)
    }

    @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }
    @inline(__always) private static func fmix(_ k: UInt64) -> UInt64 {
        var k = k
        k ^= k >> 33; k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33; k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
