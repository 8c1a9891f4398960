/// Reads Kafka's primitive types (big-endian integers, varints, strings, bytes, arrays; the
/// "compact" forms of flexible versions; tagged fields) from a request's bytes. Every read is
/// bounds-checked and throws `KafkaError` with the offset: a request's bytes are a stranger's.
public struct KafkaReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Where reading must stop (a nested structure's end), never past `bytes.count`.
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = min(end ?? bytes.count, bytes.count)
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always)
    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(KafkaError) {
        guard n >= 0, n <= end - offset else { throw KafkaError(.truncated, "\(what()) needs \(n) bytes, \(end - offset) left", offset: offset) }
    }

    public mutating func int8(_ what: @autoclosure () -> String = "int8") throws(KafkaError) -> Int8 {
        try need(1, what())
        defer { offset += 1 }
        return Int8(bitPattern: bytes[offset])
    }

    public mutating func bool(_ what: @autoclosure () -> String = "boolean") throws(KafkaError) -> Bool { try int8(what()) != 0 }

    public mutating func int16(_ what: @autoclosure () -> String = "int16") throws(KafkaError) -> Int16 {
        try need(2, what())
        defer { offset += 2 }
        return Int16(bitPattern: UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]))
    }

    public mutating func int32(_ what: @autoclosure () -> String = "int32") throws(KafkaError) -> Int32 {
        Int32(bitPattern: try uint32(what()))
    }

    public mutating func uint32(_ what: @autoclosure () -> String = "uint32") throws(KafkaError) -> UInt32 {
        try need(4, what())
        defer { offset += 4 }
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(bytes[offset + k]) }
        return v
    }

    public mutating func int64(_ what: @autoclosure () -> String = "int64") throws(KafkaError) -> Int64 {
        try need(8, what())
        defer { offset += 8 }
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(bytes[offset + k]) }
        return Int64(bitPattern: v)
    }

    /// An unsigned varint of at most 5 bytes (32 bits).
    public mutating func unsignedVarint(_ what: @autoclosure () -> String = "varint") throws(KafkaError) -> UInt32 {
        var v: UInt32 = 0
        for shift in stride(from: 0, through: 28, by: 7) {
            try need(1, what())
            let b = bytes[offset]
            offset += 1
            v |= UInt32(b & 0x7F) << UInt32(shift)
            if b & 0x80 == 0 { return v }
        }
        throw KafkaError(.malformed, "\(what()) is longer than 5 bytes", offset: offset)
    }

    /// A zigzag varint of at most 5 bytes.
    public mutating func varint(_ what: @autoclosure () -> String = "varint") throws(KafkaError) -> Int32 {
        let u = try unsignedVarint(what())
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A zigzag varlong of at most 10 bytes.
    public mutating func varlong(_ what: @autoclosure () -> String = "varlong") throws(KafkaError) -> Int64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, through: 63, by: 7) {
            try need(1, what())
            let b = bytes[offset]
            offset += 1
            v |= UInt64(b & 0x7F) << UInt64(shift)
            if b & 0x80 == 0 { return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))) }
        }
        throw KafkaError(.malformed, "\(what()) is longer than 10 bytes", offset: offset)
    }

    mutating func utf8(_ n: Int, _ what: @autoclosure () -> String) throws(KafkaError) -> String {
        try need(n, what())
        let start = offset
        offset += n
        guard let s = String(validating: bytes[start..<(start + n)], as: UTF8.self) else {
            throw KafkaError(.malformed, "\(what()) is not UTF-8", offset: start)
        }
        return s
    }

    /// STRING (int16 length) or, `compact`, COMPACT_STRING (unsigned varint length + 1).
    public mutating func string(_ what: @autoclosure () -> String = "string", compact: Bool = false) throws(KafkaError) -> String {
        guard let s = try nullableString(what(), compact: compact) else { throw KafkaError(.malformed, "\(what()) is null", offset: offset) }
        return s
    }

    public mutating func nullableString(_ what: @autoclosure () -> String = "string", compact: Bool = false) throws(KafkaError) -> String? {
        guard let n = try lengthPrefix(what(), compact: compact, wide: false) else { return nil }
        return try utf8(n, what())
    }

    /// A length (or count) prefix: int16 (`wide` false: strings) or int32 (bytes, arrays),
    /// −1 for null; or, `compact`, an unsigned varint of the length + 1, 0 for null.
    mutating func lengthPrefix(_ what: @autoclosure () -> String, compact: Bool, wide: Bool) throws(KafkaError) -> Int? {
        if compact {
            let u = try unsignedVarint(what())
            return u == 0 ? nil : Int(u) - 1
        }
        let l = wide ? Int(try int32(what())) : Int(try int16(what()))
        if l == -1 { return nil }
        guard l >= 0 else { throw KafkaError(.invalidLength, "\(what()) has length \(l)", offset: offset - (wide ? 4 : 2)) }
        return l
    }

    /// BYTES (int32 length) or COMPACT_BYTES; nil for a null (length −1 / 0).
    public mutating func nullableBytes(_ what: @autoclosure () -> String = "bytes", compact: Bool = false) throws(KafkaError) -> ArraySlice<UInt8>? {
        guard let n = try lengthPrefix(what(), compact: compact, wide: true) else { return nil }
        try need(n, what())
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func bytes(_ what: @autoclosure () -> String = "bytes", compact: Bool = false) throws(KafkaError) -> ArraySlice<UInt8> {
        try nullableBytes(what(), compact: compact) ?? []
    }

    /// An array's element count (ARRAY: int32, −1 null; COMPACT_ARRAY: unsigned varint,
    /// count + 1, 0 null) — nil for null. Each element takes at least `minimumBytes`, so a
    /// count the remaining bytes cannot hold is refused before anything is allocated.
    public mutating func arrayCount(_ what: @autoclosure () -> String = "array", compact: Bool = false, minimumBytes: Int = 1) throws(KafkaError) -> Int? {
        guard let n = try lengthPrefix(what(), compact: compact, wide: true) else { return nil }
        guard n <= remaining / max(1, minimumBytes) else {
            throw KafkaError(.invalidLength, "\(what()) claims \(n) elements; \(remaining) bytes are left", offset: offset)
        }
        return n
    }

    /// Reads `count` elements with `element` (an array already counted).
    public mutating func array<T>(_ what: @autoclosure () -> String = "array", compact: Bool = false, minimumBytes: Int = 1,
                                  _ element: (inout KafkaReader) throws(KafkaError) -> T) throws(KafkaError) -> [T] {
        guard let n = try arrayCount(what(), compact: compact, minimumBytes: minimumBytes) else { return [] }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    /// A flexible version's tagged fields: skipped (none of the fields this broker reads is
    /// tagged), each checked to fit.
    public mutating func skipTaggedFields() throws(KafkaError) {
        let count = try unsignedVarint("tagged field count")
        guard Int(count) <= remaining else { throw KafkaError(.invalidLength, "\(count) tagged fields in \(remaining) bytes", offset: offset) }
        for _ in 0..<count {
            _ = try unsignedVarint("tag")
            let size = Int(try unsignedVarint("tagged field size"))
            try need(size, "tagged field")
            offset += size
        }
    }

    public mutating func skip(_ n: Int, _ what: @autoclosure () -> String = "bytes") throws(KafkaError) {
        try need(n, what())
        offset += n
    }
}
