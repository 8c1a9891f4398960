/// Big-endian writes of the protocol's field types (docs/PROTOCOL.md §1).
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Room for `n` more bytes: one allocation for a frame whose size is known.
    public mutating func reserve(_ n: Int) {
        // Geometric: reserving exactly `count + n` for every item would copy the buffer each time.
        let needed = bytes.count + n
        if bytes.capacity < needed { bytes.reserveCapacity(max(needed, 2 * bytes.capacity)) }
    }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    // One append of the big-endian bytes, not one per byte (each append checks capacity and
    // uniqueness: a frame of 1,000 events has tens of thousands of these fields).
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { raw($0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { raw($0) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// A string of at most 65,535 UTF-8 bytes. A longer one (an error message quoting a
    /// client's oversized value, say) is cut at a character boundary rather than trapping:
    /// nothing a client sends may crash the server.
    public mutating func str(_ s: String) {
        let count = s.utf8.count
        guard count > Int(UInt16.max) else {
            // The common case, without an intermediate array.
            u16(UInt16(count))
            bytes.append(contentsOf: s.utf8)
            return
        }
        let utf8 = Array(s.utf8)
        var end = Int(UInt16.max)
        while end > 0 && utf8[end] & 0xC0 == 0x80 { end -= 1 }  // not inside a character
        u16(UInt16(end))
        bytes.append(contentsOf: utf8[0..<end])
    }

    /// Bytes as they are (no length).
    public mutating func raw(_ b: UnsafeRawBufferPointer) {
        // As typed bytes: Array's append of a raw buffer goes element by element.
        bytes.append(contentsOf: UnsafeBufferPointer(start: b.baseAddress?.assumingMemoryBound(to: UInt8.self), count: b.count))
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
        UInt16(bigEndian: try load(UInt16.self, field()))
    }
    public mutating func u32(_ field: @autoclosure () -> String) throws(WireError) -> UInt32 {
        UInt32(bigEndian: try load(UInt32.self, field()))
    }
    public mutating func u64(_ field: @autoclosure () -> String) throws(WireError) -> UInt64 {
        UInt64(bigEndian: try load(UInt64.self, field()))
    }

    /// An integer's bytes as they are, read in place (no slice per field).
    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws(WireError) -> T {
        let n = MemoryLayout<T>.size
        guard n <= remaining else { throw fail("\(field()) needs \(n) bytes, \(remaining) left") }
        let offset = i - bytes.startIndex
        i += n
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
    public mutating func i64(_ field: @autoclosure () -> String) throws(WireError) -> Int64 { Int64(bitPattern: try u64(field())) }

    public mutating func str(_ field: @autoclosure () -> String) throws(WireError) -> String {
        let n = Int(try u16(field() + " length"))
        let raw = try take(n, field())
        // ASCII (ids, codes: nearly every string) needs no validation; `String(validating:)`
        // over a slice also looks up generic metadata on every call.
        let s: String? = raw.withUnsafeBufferPointer { b in
            for x in b where x >= 0x80 { return String(validating: b, as: UTF8.self) }
            return String(decoding: b, as: UTF8.self)
        }
        guard let s else { throw fail("\(field()) is not valid UTF-8") }
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
