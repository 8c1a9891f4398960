import CCRC32C

/// Builds a record batch (magic 2, docs/KAFKA.md §4) record by record in one growing buffer:
/// what a fetch answers with. Each record's key, value and headers are copied once, from
/// wherever they are (an export line written from a stored event's bytes), into a record
/// sized before it is written — no `KafkaRecord` and no array a record.
/// `RecordBatch.encoded` builds through it too: one writer of the format.
public struct RecordBatchBuilder: Sendable {
    /// The batch: 61 bytes of header (filled in by `finish`) and the records so far (each:
    /// varint length, attributes, deltas, key, value, headers).
    private var batch: KafkaWriter
    public private(set) var count = 0

    public init(capacity: Int = 4096) {
        batch = KafkaWriter(capacity: RecordBatch.headerBytes + capacity)
        batch.bytes.append(contentsOf: repeatElement(0, count: RecordBatch.headerBytes))
    }

    /// A record header: its name and value bytes (a nil value is Kafka's null).
    public typealias Header = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)

    /// Appends one record, its key, value and headers copied from wherever they are (a nil
    /// key or value is Kafka's null).
    public mutating func append(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                headers: [Header] = []) {
        headers.withUnsafeBufferPointer { appendRecord(offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, value: value, headers: $0) }
    }

    /// Appends one record with exactly two headers (what a fetch sends: no array a record).
    public mutating func append(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                _ header0: Header, _ header1: Header) {
        withUnsafeTemporaryAllocation(of: Header.self, capacity: 2) { h in
            h.initializeElement(at: 0, to: header0)
            h.initializeElement(at: 1, to: header1)
            appendRecord(offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, value: value, headers: UnsafeBufferPointer(h))
        }
    }

    /// The one writer of a record. Every length is known before a byte is written, so the
    /// record is sized once, appended as zeros and filled in place.
    private mutating func appendRecord(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                       headers: UnsafeBufferPointer<Header>) {
        func bytesSize(_ b: UnsafeRawBufferPointer?) -> Int { b.map { Self.varintSize(Int64($0.count)) + $0.count } ?? 1 }
        var body = 1 + Self.varintSize(timestampDelta) + Self.varintSize(Int64(offsetDelta)) + bytesSize(key) + bytesSize(value)
            + Self.varintSize(Int64(headers.count))
        for h in headers { body += bytesSize(h.key) + bytesSize(h.value) }
        let at = batch.bytes.count
        batch.bytes.append(contentsOf: repeatElement(0, count: Self.varintSize(Int64(body)) + body))
        batch.bytes.withUnsafeMutableBytes { out in
            var o = at
            func varint(_ v: Int64) {
                var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
                while u >= 0x80 { out[o] = UInt8(truncatingIfNeeded: u) | 0x80; o += 1; u >>= 7 }
                out[o] = UInt8(u); o += 1
            }
            func bytes(_ b: UnsafeRawBufferPointer?) {
                guard let b else { varint(-1); return }
                varint(Int64(b.count))
                if b.count > 0 { (out.baseAddress! + o).copyMemory(from: b.baseAddress!, byteCount: b.count) }
                o += b.count
            }
            varint(Int64(body))
            o += 1  // attributes: 0
            varint(timestampDelta)
            varint(Int64(offsetDelta))
            bytes(key)
            bytes(value)
            varint(Int64(headers.count))
            for h in headers { bytes(h.key); bytes(h.value) }
            // Sized above field by field: a mismatch would have written out of bounds.
            precondition(o == out.count, "a record written to a size other than its own")
        }
        count += 1
    }

    /// Bytes of `v`'s zigzag varint.
    @inline(__always)
    private static func varintSize(_ v: Int64) -> Int {
        let u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        return u == 0 ? 1 : (64 - u.leadingZeroBitCount + 6) / 7
    }

    /// The batch: `header`'s fields (its `records` are not read: this builder's are the
    /// batch's), the records compressed with `compression`, the length and CRC32C computed.
    /// Uncompressed, the builder's own buffer is the batch (no copy).
    public consuming func finish(_ header: RecordBatch, compression: RecordBatch.Compression = .none) -> [UInt8] {
        var w = KafkaWriter(capacity: 0)
        if compression == .none {
            swap(&w.bytes, &batch.bytes)  // w holds the only reference: patched in place
        } else {
            let records = batch.bytes.withUnsafeBufferPointer { Array($0[RecordBatch.headerBytes...]) }
            w.bytes.append(contentsOf: repeatElement(0, count: RecordBatch.headerBytes))
            w.bytes.append(contentsOf: KafkaCompression.compress(compression, records))
        }
        var h = KafkaWriter(capacity: RecordBatch.headerBytes)
        h.int64(header.baseOffset)
        h.int32(Int32(w.bytes.count - 12))
        h.int32(header.partitionLeaderEpoch)
        h.int8(2)
        h.uint32(0)  // CRC, set below
        h.int16((header.attributes & ~0x7) | compression.rawValue)
        h.int32(header.lastOffsetDelta)
        h.int64(header.baseTimestamp)
        h.int64(header.maxTimestamp)
        h.int64(header.producerID)
        h.int16(header.producerEpoch)
        h.int32(header.baseSequence)
        h.int32(Int32(count))
        for k in 0..<RecordBatch.headerBytes { w.bytes[k] = h.bytes[k] }
        // The CRC covers everything after itself: from attributes (byte 21) to the end.
        let crc = w.bytes.withUnsafeBytes { b in orderlog_crc32c_extend(0, b.baseAddress! + 21, b.count - 21) }
        for k in 0..<4 { w.bytes[17 + k] = UInt8((crc >> UInt32(24 - 8 * k)) & 0xFF) }
        return w.bytes
    }
}
