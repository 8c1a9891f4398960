/// Little-endian fields appended to bytes.
struct ByteWriter {
    var bytes: [UInt8]
    init(_ start: [UInt8] = []) { bytes = start }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// A text of at most 255 bytes (an order id).
    mutating func text8(_ s: String) { bytes.append(UInt8(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
    mutating func text32(_ s: String) { u32(UInt32(s.utf8.count)); bytes.append(contentsOf: s.utf8) }
}

/// Little-endian fields read from bytes; a read past the end sets `failed` and gives 0.
struct ByteReader {
    let b: UnsafeRawBufferPointer
    var i = 0
    var failed = false
    init(_ b: UnsafeRawBufferPointer) { self.b = b }
    var atEnd: Bool { i == b.count }
    mutating func u32() -> UInt32 {
        guard i + 4 <= b.count else { failed = true; return 0 }
        defer { i += 4 }
        return b.u32(i)
    }
    mutating func u64() -> UInt64 {
        guard i + 8 <= b.count else { failed = true; return 0 }
        defer { i += 8 }
        return b.u64(i)
    }
    mutating func u64Checked() -> UInt64? { let v = u64(); return failed ? nil : v }
    mutating func text(_ n: Int) -> String? {
        guard !failed, n <= b.count - i else { failed = true; return nil }
        defer { i += n }
        let raw = UnsafeRawBufferPointer(rebasing: b[i..<(i + n)])
        return String(validating: raw, as: UTF8.self)
    }
    mutating func text8() -> String? {
        guard i < b.count else { failed = true; return nil }
        let n = Int(b[i])
        i += 1
        return text(n)
    }
    mutating func text32() -> String? {
        let n = Int(u32())
        return failed ? nil : text(n)
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    @inline(__always) func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}
