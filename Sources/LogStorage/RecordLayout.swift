/// The byte layout of one record, the same in an active segment file and inside a decompressed
/// block (docs/FORMAT.md, "Record"):
///
///     offset size field
///     0      4    crc32c of bytes [4, length)
///     4      4    length: the whole record, header included
///     8      8    position
///     16     8    previous position of the same key (0xFFFF_FFFF_FFFF_FFFF: none)
///     24     8    recorded at, µs since the Unix epoch
///     32     4    sequence of this record within its key (1, 2, …)
///     36     2    type code
///     38     1    key length k (1…64)
///     39     1    flags (bit 0: last record of its batch)
///     40     k    key
///     40+k   n    payload
enum RecordLayout {
    static let headerBytes = 40
    static let noPrevious = UInt64.max
    static let flagBatchEnd: UInt8 = 0x01
    /// Smallest possible record: a 1-byte key and no payload.
    static let minimumBytes = headerBytes + 1

    @inline(__always) static func encodedBytes(keyCount: Int, payloadCount: Int) -> Int {
        headerBytes + keyCount + payloadCount
    }

    /// Writes one record at `offset` of `buffer` and returns its length.
    @inline(__always)
    static func encode(
        into buffer: UnsafeMutableRawBufferPointer, at offset: Int,
        position: UInt64, previous: UInt64, recordedAt: Int64, sequence: UInt32,
        type: UInt16, key: [UInt8], payload: UnsafeRawBufferPointer, batchEnd: Bool
    ) -> Int {
        let length = headerBytes + key.count + payload.count
        let record = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + length)])
        record.put(UInt32(length), at: 4)
        record.put(position, at: 8)
        record.put(previous, at: 16)
        record.put(recordedAt, at: 24)
        record.put(sequence, at: 32)
        record.put(type, at: 36)
        record[38] = UInt8(key.count)
        record[39] = batchEnd ? flagBatchEnd : 0
        key.withUnsafeBytes { record.baseAddress!.advanced(by: headerBytes).copyMemory(from: $0.baseAddress!, byteCount: key.count) }
        if payload.count > 0 {
            record.baseAddress!.advanced(by: headerBytes + key.count).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        }
        record.put(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: record[4...])), at: 0)
        return length
    }

    enum Problem: Error, Equatable, Sendable {
        case truncatedHeader
        case badLength(UInt32)
        case truncatedRecord(length: UInt32)
        case checksumMismatch(stored: UInt32, computed: UInt32)
        case badKeyLength(UInt8)
        case badKeyByte
        case unexpectedPosition(found: UInt64, expected: UInt64)
        case badSequence(UInt32)

        var kind: String {
            switch self {
            case .truncatedHeader: "truncated_header"
            case .badLength: "bad_length"
            case .truncatedRecord: "truncated_record"
            case .checksumMismatch: "checksum_mismatch"
            case .badKeyLength: "bad_key_length"
            case .badKeyByte: "bad_key_byte"
            case .unexpectedPosition: "unexpected_position"
            case .badSequence: "bad_sequence"
            }
        }

        var message: String {
            switch self {
            case .truncatedHeader: "record header cut short by the end of the data"
            case .badLength(let n): "record length \(n) is impossible"
            case .truncatedRecord(let n): "record of \(n) bytes cut short by the end of the data"
            case .checksumMismatch(let s, let c): "record checksum mismatch: stored 0x\(String(s, radix: 16)), computed 0x\(String(c, radix: 16))"
            case .badKeyLength(let n): "key length \(n) outside 1…\(LogKey.bytesMax)"
            case .badKeyByte: "key holds a byte outside visible ASCII"
            case .unexpectedPosition(let f, let e): "record holds position \(f) where \(e) was expected"
            case .badSequence(let s): "sequence \(s) outside 1…\(RecordSequence.limit)"
            }
        }
    }

    /// Checks the record that starts at `offset`: its bounds, checksum, key and (when given)
    /// position. Returns its length.
    @inline(__always)
    static func validate(_ data: UnsafeRawBufferPointer, at offset: Int, expectedPosition: UInt64?) -> Result<Int, Problem> {
        let available = data.count - offset
        guard available >= headerBytes else { return .failure(.truncatedHeader) }
        let length = data.u32(offset + 4)
        guard length >= UInt32(minimumBytes), length <= UInt32(headerBytes + LogKey.bytesMax) + LogConfiguration.payloadBytesHardLimit else {
            return .failure(.badLength(length))
        }
        guard Int(length) <= available else { return .failure(.truncatedRecord(length: length)) }
        let stored = data.u32(offset)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: data[(offset + 4)..<(offset + Int(length))]))
        guard stored == computed else { return .failure(.checksumMismatch(stored: stored, computed: computed)) }
        let keyLength = data[offset + 38]
        guard keyLength >= 1, Int(keyLength) <= LogKey.bytesMax, headerBytes + Int(keyLength) <= Int(length) else {
            return .failure(.badKeyLength(keyLength))
        }
        for i in 0..<Int(keyLength) {
            let byte = data[offset + headerBytes + i]
            guard byte >= 0x21 && byte <= 0x7E else { return .failure(.badKeyByte) }
        }
        let sequence = data.u32(offset + 32)
        guard sequence >= 1 && sequence <= RecordSequence.limit else { return .failure(.badSequence(sequence)) }
        if let expectedPosition {
            let found = data.u64(offset + 8)
            guard found == expectedPosition else { return .failure(.unexpectedPosition(found: found, expected: expectedPosition)) }
        }
        return .success(Int(length))
    }
}

/// A record read in place: valid only inside the closure that received it (it points into a
/// mapping or a block buffer). `Record` is the owning copy.
public struct RecordView {
    let bytes: UnsafeRawBufferPointer

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The record's stored CRC32C (§3 of docs/FORMAT.md): a fingerprint of the whole record.
    public var checksum: UInt32 { bytes.u32(0) }
    public var position: LogPosition { LogPosition(bytes.u64(8)) }
    public var previousPosition: LogPosition? {
        let p = bytes.u64(16)
        return p == RecordLayout.noPrevious ? nil : LogPosition(p)
    }
    public var recordedAt: RecordTimestamp { RecordTimestamp(rawValue: bytes.i64(24)) }
    public var sequence: RecordSequence { RecordSequence(bytes.u32(32)) }
    public var type: RecordType { RecordType(bytes.u16(36)) }
    public var isBatchEnd: Bool { bytes[39] & RecordLayout.flagBatchEnd != 0 }
    var keyCount: Int { Int(bytes[38]) }
    public var keyBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[RecordLayout.headerBytes..<(RecordLayout.headerBytes + keyCount)]) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[(RecordLayout.headerBytes + keyCount)...]) }
    public var encodedByteCount: Int { bytes.count }

    public func copy() -> Record {
        copy(key: LogKey(trusted: Array(keyBytes)))
    }

    /// A copy that shares `key` (already known equal to this record's) instead of copying it.
    func copy(key: LogKey) -> Record {
        Record(
            position: position, previousPosition: previousPosition, key: key,
            sequence: sequence, recordedAt: recordedAt, type: type, payload: Array(payload))
    }
}

/// One stored record, owned.
public struct Record: Hashable, Sendable {
    public var position: LogPosition
    /// The position of the previous record of the same key, nil for a key's first record.
    public var previousPosition: LogPosition?
    public var key: LogKey
    public var sequence: RecordSequence
    public var recordedAt: RecordTimestamp
    public var type: RecordType
    public var payload: [UInt8]
}
