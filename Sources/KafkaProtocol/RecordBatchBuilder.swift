import CCRC32C

/// Builds a record batch (magic 2, docs/KAFKA.md §4) record by record in one growing buffer:
/// what a fetch answers with. Each record's value is written in place by the caller (an export
/// line straight from a stored event's bytes), its key and headers copied from wherever they
/// are — no `KafkaRecord`, array or copy of the value a record. `RecordBatch.encoded` builds
/// through it too: one writer of the format.
public struct RecordBatchBuilder {
    /// The batch: 61 bytes of header (filled in by `finish`) and the records so far (each:
    /// varint length, attributes, deltas, key, value, headers).
    private var batch: KafkaWriter
    public private(set) var count = 0

    public init(capacity: Int = 4096) {
        batch = KafkaWriter(capacity: RecordBatch.headerBytes + capacity)
        batch.bytes.append(contentsOf: repeatElement(0, count: RecordBatch.headerBytes))
    }

    /// Appends one record whose value `writeValue` appends to the array it is lent (the
    /// batch's own buffer: the value is written once, where it stays). `headers` are (name,
    /// value) byte pairs; a nil key is Kafka's null.
    public mutating func append(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?,
                                headers: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)] = [],
                                writeValue: (inout [UInt8]) -> Void) {
        withoutActuallyEscaping(writeValue) { w in
            appendRecord(offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, headers: headers, writeValue: w)
        }
    }

    /// Appends one record with its value copied from `value` (nil: Kafka's null).
    public mutating func append(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                                headers: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)] = []) {
        appendRecord(offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, headers: headers,
                     writeValue: value.map { v in { $0.append(contentsOf: v) } })
    }

    /// The one writer of a record: a nil `writeValue` is a null value (length -1).
    private mutating func appendRecord(offsetDelta: Int32, timestampDelta: Int64, key: UnsafeRawBufferPointer?,
                                       headers: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)], writeValue: ((inout [UInt8]) -> Void)?) {
        let recordLength = reserveVarint()
        batch.int8(0)
        batch.varlong(timestampDelta)
        batch.varint(offsetDelta)
        Self.bytes(&batch, key)
        if let writeValue {
            let valueLength = reserveVarint()
            writeValue(&batch.bytes)
            fillVarint(at: valueLength)
        } else {
            batch.varint(-1)
        }
        batch.varint(Int32(headers.count))
        for h in headers {
            Self.bytes(&batch, h.key)
            Self.bytes(&batch, h.value)
        }
        fillVarint(at: recordLength)
        count += 1
    }

    /// Room for a length that is known only once what follows is written: two bytes, the
    /// varint of any length below 8,192 (most records); `fillVarint` widens or narrows it.
    private mutating func reserveVarint() -> Int {
        let at = batch.bytes.count
        batch.bytes.append(0)
        batch.bytes.append(0)
        return at
    }

    /// Writes at `at` the zigzag varint of the bytes written after its two reserved bytes,
    /// moving them when the varint is not two bytes long.
    private mutating func fillVarint(at: Int) {
        let length = batch.bytes.count - at - 2
        var v = KafkaWriter(capacity: 5)
        v.varint(Int32(length))
        if v.bytes.count == 2 {
            batch.bytes[at] = v.bytes[0]
            batch.bytes[at + 1] = v.bytes[1]
        } else {
            batch.bytes.replaceSubrange(at..<(at + 2), with: v.bytes)
        }
    }

    private static func bytes(_ w: inout KafkaWriter, _ b: UnsafeRawBufferPointer?) {
        guard let b else { w.varint(-1); return }
        w.varint(Int32(b.count))
        w.bytes.append(contentsOf: b)
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
