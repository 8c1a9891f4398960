import CCRC32C

/// One record of a record batch (docs/KAFKA.md §4): key, value and headers as sent; the
/// offset and timestamp are the batch's base plus the record's deltas.
public struct KafkaRecord: Sendable, Equatable {
    public var offsetDelta: Int32
    public var timestampDelta: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [(key: String, value: [UInt8]?)]

    public init(offsetDelta: Int32, timestampDelta: Int64, key: [UInt8]?, value: [UInt8]?, headers: [(key: String, value: [UInt8]?)] = []) {
        self.offsetDelta = offsetDelta
        self.timestampDelta = timestampDelta
        self.key = key
        self.value = value
        self.headers = headers
    }

    public static func == (a: KafkaRecord, b: KafkaRecord) -> Bool {
        a.offsetDelta == b.offsetDelta && a.timestampDelta == b.timestampDelta && a.key == b.key && a.value == b.value
            && a.headers.count == b.headers.count && zip(a.headers, b.headers).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A record batch, magic 2 (the only format this broker reads or writes): the header's fields
/// and its records, decompressed.
public struct RecordBatch: Sendable, Equatable {
    public enum Compression: Int16, Sendable { case none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 }

    public var baseOffset: Int64
    public var partitionLeaderEpoch: Int32 = -1
    public var attributes: Int16 = 0
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerID: Int64 = -1
    public var producerEpoch: Int16 = -1
    public var baseSequence: Int32 = -1
    public var records: [KafkaRecord]

    public var compression: Compression? { Compression(rawValue: attributes & 0x7) }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var isControl: Bool { attributes & 0x20 != 0 }
    /// Timestamps are the broker's append time (bit 3) rather than the producer's create time.
    public var isLogAppendTime: Bool { attributes & 0x08 != 0 }

    public init(baseOffset: Int64, lastOffsetDelta: Int32, baseTimestamp: Int64, maxTimestamp: Int64, records: [KafkaRecord]) {
        self.baseOffset = baseOffset
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.records = records
    }

    /// Bytes of the header before the records (offset 61 holds the record count's end).
    public static let headerBytes = 61
    /// Limits on what a batch may hold once decompressed (a producer's batch is bounded by the
    /// request size; a compressed one must not expand without bound).
    public static let recordsMax = 1_000_000
    public static let decompressedBytesMax = 64 << 20

    /// Decompresses a batch's records section; the broker supplies the codecs it links
    /// (`KafkaCodecs`). nil for `.none`.
    public typealias Decompressor = @Sendable (Compression, ArraySlice<UInt8>, Int) throws(KafkaError) -> [UInt8]

    /// Reads every batch of `bytes` (a produce request's records for one partition, or a
    /// fetched set): checks each batch's length, magic and CRC32C, decompresses its records
    /// with `decompress`, and reads them. Throws at the first batch that fails, naming it.
    public static func decodeAll(_ bytes: ArraySlice<UInt8>, decompress: Decompressor) throws(KafkaError) -> [RecordBatch] {
        let data = Array(bytes)
        var at = 0
        var batches: [RecordBatch] = []
        while at < data.count {
            var r = KafkaReader(data, offset: at)
            let baseOffset = try r.int64("batch base offset")
            let length = Int(try r.int32("batch length"))
            guard length >= headerBytes - 12, length <= data.count - at - 12 else {
                throw KafkaError(.invalidLength, "batch at byte \(at) claims \(length) bytes; \(data.count - at - 12) follow", offset: at + 8)
            }
            let end = at + 12 + length
            r = KafkaReader(data, offset: at + 12, end: end)
            let epoch = try r.int32("partition leader epoch")
            let magic = try r.int8("magic")
            guard magic == 2 else { throw KafkaError(.unsupportedFormat, "batch at byte \(at) has magic \(magic); this broker reads record batches of magic 2 only", offset: at + 16) }
            let crc = try r.uint32("batch crc")
            let computed = data.withUnsafeBytes { b in orderlog_crc32c_extend(0, b.baseAddress! + at + 21, end - (at + 21)) }
            guard crc == computed else { throw KafkaError(.corruptBatch, "batch at byte \(at): CRC32C \(crc) stored, \(computed) computed", offset: at + 17) }
            var batch = RecordBatch(baseOffset: baseOffset, lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0, records: [])
            batch.partitionLeaderEpoch = epoch
            batch.attributes = try r.int16("attributes")
            batch.lastOffsetDelta = try r.int32("last offset delta")
            batch.baseTimestamp = try r.int64("base timestamp")
            batch.maxTimestamp = try r.int64("max timestamp")
            batch.producerID = try r.int64("producer id")
            batch.producerEpoch = try r.int16("producer epoch")
            batch.baseSequence = try r.int32("base sequence")
            let count = Int(try r.int32("record count"))
            guard count >= 0, count <= recordsMax else { throw KafkaError(.limitExceeded, "batch at byte \(at) claims \(count) records", offset: at + 57) }
            guard let compression = batch.compression else { throw KafkaError(.unsupportedFormat, "batch at byte \(at): compression codec \(batch.attributes & 7) is not one of Kafka's", offset: at + 21) }
            let recordBytes: [UInt8]
            let recordsStart: Int
            if compression == .none {
                recordBytes = data
                recordsStart = r.offset
            } else {
                recordBytes = try decompress(compression, data[r.offset..<end], decompressedBytesMax)
                recordsStart = 0
            }
            var rr = KafkaReader(recordBytes, offset: recordsStart, end: compression == .none ? end : recordBytes.count)
            guard count <= rr.remaining / 7 + 1 else { throw KafkaError(.invalidLength, "batch at byte \(at) claims \(count) records in \(rr.remaining) bytes", offset: at + 57) }
            batch.records.reserveCapacity(count)
            for k in 0..<count {
                let length = Int(try rr.varint("record \(k) length"))
                guard length >= 0, length <= rr.remaining else { throw KafkaError(.invalidLength, "record \(k) of the batch at byte \(at) claims \(length) bytes", offset: at) }
                var rec = KafkaReader(recordBytes, offset: rr.offset, end: rr.offset + length)
                _ = try rec.int8("record attributes")
                let timestampDelta = try rec.varlong("timestamp delta")
                let offsetDelta = try rec.varint("offset delta")
                let key = try Self.varBytes(&rec, "record key")
                let value = try Self.varBytes(&rec, "record value")
                let headerCount = Int(try rec.varint("header count"))
                guard headerCount >= 0, headerCount <= rec.remaining else { throw KafkaError(.invalidLength, "record \(k) claims \(headerCount) headers", offset: at) }
                var headers: [(key: String, value: [UInt8]?)] = []
                for _ in 0..<headerCount {
                    guard let keyBytes = try Self.varBytes(&rec, "header key"), let name = String(validating: keyBytes, as: UTF8.self) else {
                        throw KafkaError(.malformed, "record \(k) has a header whose key is null or not UTF-8", offset: at)
                    }
                    headers.append((name, try Self.varBytes(&rec, "header value")))
                }
                guard rec.isAtEnd else { throw KafkaError(.invalidLength, "record \(k) of the batch at byte \(at) has \(rec.remaining) bytes after its headers", offset: at) }
                batch.records.append(KafkaRecord(offsetDelta: offsetDelta, timestampDelta: timestampDelta, key: key, value: value, headers: headers))
                try rr.skip(length)
            }
            guard rr.isAtEnd else { throw KafkaError(.invalidLength, "batch at byte \(at) has \(rr.remaining) bytes after its \(count) records", offset: at) }
            batches.append(batch)
            at = end
        }
        return batches
    }

    private static func varBytes(_ r: inout KafkaReader, _ what: String) throws(KafkaError) -> [UInt8]? {
        let n = Int(try r.varint(what + " length"))
        if n < 0 { return nil }
        try r.need(n, what)
        let start = r.offset
        try r.skip(n)
        return Array(r.bytes[start..<(start + n)])
    }

    /// This batch's bytes, its records compressed with `compression` (a fetch answers `.none`;
    /// tests produce with each codec), its CRC32C computed.
    public func encoded(compression: Compression = .none) -> [UInt8] {
        var builder = RecordBatchBuilder(capacity: records.count * 64)
        for r in records {
            let headerBytes = r.headers.map { (Array($0.key.utf8), $0.value) }
            withOptionalBytes(r.key) { key in
                withOptionalBytes(r.value) { value in
                    withHeaderBytes(headerBytes[...]) { headers in
                        builder.append(offsetDelta: r.offsetDelta, timestampDelta: r.timestampDelta, key: key, value: value, headers: headers)
                    }
                }
            }
        }
        return builder.finish(self, compression: compression)
    }
}

private func withOptionalBytes<R>(_ b: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let b else { return body(nil) }
    return b.withUnsafeBytes { body($0) }
}

/// Lends every header's name and value bytes at once (nested: each pointer is valid only in
/// its closure).
private func withHeaderBytes<R>(_ headers: ArraySlice<([UInt8], [UInt8]?)>, done: [(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)] = [],
                                _ body: ([(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)]) -> R) -> R {
    guard let first = headers.first else { return body(done) }
    return first.0.withUnsafeBytes { k in
        withOptionalBytes(first.1) { v in withHeaderBytes(headers.dropFirst(), done: done + [(k, v)], body) }
    }
}
