import CCRC32C

// Little-endian loads and stores on raw memory: every multi-byte integer in every OrderLog
// file is little-endian (docs/FORMAT.md). Unaligned access is fine: records are not padded.

extension UnsafeRawBufferPointer {
    @inline(__always) func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always) func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    @inline(__always) func i64(_ offset: Int) -> Int64 { Int64(littleEndian: loadUnaligned(fromByteOffset: offset, as: Int64.self)) }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always) func put(_ value: UInt16, at offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self) }
    @inline(__always) func put(_ value: UInt32, at offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self) }
    @inline(__always) func put(_ value: UInt64, at offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) }
    @inline(__always) func put(_ value: Int64, at offset: Int) { storeBytes(of: value.littleEndian, toByteOffset: offset, as: Int64.self) }
}

/// A growable little-endian byte writer for building headers and index files.
struct ByteWriter {
    var bytes: [UInt8] = []
    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func raw(_ v: some Sequence<UInt8>) { bytes.append(contentsOf: v) }
    mutating func pad(to count: Int) { if bytes.count < count { bytes.append(contentsOf: repeatElement(0, count: count - bytes.count)) } }
}

/// CRC32C (Castagnoli), hardware-accelerated where the CPU has it.
enum CRC32C {
    @inline(__always) static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        orderlog_crc32c_extend(0, bytes.baseAddress, bytes.count)
    }
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
    static var isHardwareAccelerated: Bool { orderlog_crc32c_is_hardware() == 1 }
}

extension CRC32C {
    /// Continues `crc` (a finished checksum of earlier bytes) over `bytes`.
    static func extend(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        orderlog_crc32c_extend(crc, bytes.baseAddress, bytes.count)
    }
}
