/// Big-endian writes of the protocol's field types (docs/PROTOCOL.md §1).
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    public mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    public mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(s)) & 0xFF)) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// A string of at most 65,535 UTF-8 bytes. A longer one (an error message quoting a
    /// client's oversized value, say) is cut at a character boundary rather than trapping:
    /// nothing a client sends may crash the server.
    public mutating func str(_ s: String) {
        var utf8 = Array(s.utf8)
        if utf8.count > Int(UInt16.max) {
            var end = Int(UInt16.max)
            while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a character
            utf8 = Array(utf8[0..<end])
        }
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    public mutating func blob(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes.append(contentsOf: b)
    }

    mutating func patchU32(_ v: UInt32, at offset: Int) {
        for (k, s) in stride(from: 24, through: 0, by: -8).enumerated() { bytes[offset + k] = UInt8((v >> UInt32(s)) & 0xFF) }
    }
}

/// Big-endian reads that never run past the end: every overrun is a `malformed_frame` error
/// naming the field.
public struct WireReader {
    let bytes: ArraySlice<UInt8>
    var i: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.i = bytes.startIndex
    }

    public var remaining: Int { bytes.endIndex - i }

    func fail(_ what: String) -> WireError {
        WireError(.malformedFrame, "\(what) at payload byte \(i - bytes.startIndex)")
    }

    // Field names are autoclosures: a label like "event 17 payload" is built only when the
    // field is wrong, not for every field of every frame that decodes.

    mutating func take(_ n: Int, _ field: @autoclosure () -> String) throws(WireError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw fail("\(field()) needs \(n) bytes, \(remaining) left") }
        defer { i += n }
        return bytes[i..<(i + n)]
    }

    public mutating func u8(_ field: @autoclosure () -> String) throws(WireError) -> UInt8 { try take(1, field()).first! }
    public mutating func u16(_ field: @autoclosure () -> String) throws(WireError) -> UInt16 {
        try take(2, field()).reduce(0) { $0 << 8 | UInt16($1) }
    }
    public mutating func u32(_ field: @autoclosure () -> String) throws(WireError) -> UInt32 {
        try take(4, field()).reduce(0) { $0 << 8 | UInt32($1) }
    }
    public mutating func u64(_ field: @autoclosure () -> String) throws(WireError) -> UInt64 {
        try take(8, field()).reduce(0) { $0 << 8 | UInt64($1) }
    }
    public mutating func i64(_ field: @autoclosure () -> String) throws(WireError) -> Int64 { Int64(bitPattern: try u64(field())) }

    public mutating func str(_ field: @autoclosure () -> String) throws(WireError) -> String {
        let n = Int(try u16(field() + " length"))
        let raw = try take(n, field())
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("\(field()) is not valid UTF-8") }
        return s
    }

    public mutating func blob(_ field: @autoclosure () -> String) throws(WireError) -> [UInt8] {
        let n = Int(try u32(field() + " length"))
        return Array(try take(n, field()))
    }

    /// A count of items each at least `itemBytesMin` long: refused before anything is
    /// allocated when the rest of the payload could not hold them.
    public mutating func count(_ field: @autoclosure () -> String, itemBytesMin: Int, wide: Bool = true) throws(WireError) -> Int {
        let n = wide ? Int(try u32(field() + " count")) : Int(try u16(field() + " count"))
        guard n <= remaining / max(1, itemBytesMin) else { throw fail("\(field()) count \(n) cannot fit in \(remaining) bytes") }
        return n
    }

    public func finish(_ message: String) throws(WireError) {
        guard remaining == 0 else { throw fail("\(remaining) bytes left over after \(message)") }
    }
}
