/// Writes Kafka's primitive types, big-endian, into a growing byte array (a response).
public struct KafkaWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func int8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    public mutating func int16(_ v: Int16) { let u = UInt16(bitPattern: v); bytes.append(UInt8(u >> 8)); bytes.append(UInt8(u & 0xFF)) }
    public mutating func int32(_ v: Int32) { uint32(UInt32(bitPattern: v)) }
    public mutating func uint32(_ u: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((u >> UInt32(s)) & 0xFF)) } }
    public mutating func int64(_ v: Int64) { let u = UInt64(bitPattern: v); for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((u >> UInt64(s)) & 0xFF)) } }

    public mutating func unsignedVarint(_ v: UInt32) {
        var u = v
        while u >= 0x80 { bytes.append(UInt8(u & 0x7F) | 0x80); u >>= 7 }
        bytes.append(UInt8(u))
    }

    public mutating func varint(_ v: Int32) { unsignedVarint(UInt32(bitPattern: (v << 1) ^ (v >> 31))) }

    public mutating func varlong(_ v: Int64) {
        var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while u >= 0x80 { bytes.append(UInt8(u & 0x7F) | 0x80); u >>= 7 }
        bytes.append(UInt8(u))
    }

    public mutating func string(_ s: String, compact: Bool = false) { nullableString(s, compact: compact) }

    public mutating func nullableString(_ s: String?, compact: Bool = false) {
        guard let s else { if compact { unsignedVarint(0) } else { int16(-1) }; return }
        let u = Array(s.utf8)
        if compact { unsignedVarint(UInt32(u.count + 1)) } else { int16(Int16(clamping: u.count)) }
        bytes.append(contentsOf: u)
    }

    public mutating func nullableBytes<C: Collection<UInt8>>(_ b: C?, compact: Bool = false) {
        guard let b else { if compact { unsignedVarint(0) } else { int32(-1) }; return }
        if compact { unsignedVarint(UInt32(b.count + 1)) } else { int32(Int32(clamping: b.count)) }
        bytes.append(contentsOf: b)
    }

    public mutating func arrayCount(_ n: Int?, compact: Bool = false) {
        guard let n else { if compact { unsignedVarint(0) } else { int32(-1) }; return }
        if compact { unsignedVarint(UInt32(n + 1)) } else { int32(Int32(n)) }
    }

    /// No tagged fields (a flexible version's empty tagged-field section).
    public mutating func emptyTaggedFields() { bytes.append(0) }

    /// Overwrites 4 bytes at `at` with `v` (a size known only after what follows it).
    public mutating func patchInt32(_ v: Int32, at: Int) {
        let u = UInt32(bitPattern: v)
        for k in 0..<4 { bytes[at + k] = UInt8((u >> UInt32(24 - 8 * k)) & 0xFF) }
    }
}
