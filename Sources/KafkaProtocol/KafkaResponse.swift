/// Responses, each encoded for the version its request came in: the response header
/// (correlation id; v0 — no tagged fields — for every version served here, ApiVersions v3
/// included, as Kafka specifies) and the body. The bytes returned are a frame's payload: the
/// caller writes the int32 size before them.
public enum KafkaResponse {
    /// ApiVersions: this broker's APIs and versions; `error` UNSUPPORTED_VERSION answers a
    /// version it does not serve, in the v0 layout (as clients expect).
    public static func apiVersions(correlationID: Int32, version: Int16, error: KafkaErrorCode = .none) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        let layout = error == .unsupportedVersion ? 0 : version
        let flexible = layout >= 3
        w.int16(error.rawValue)
        let apis = KafkaAPI.allCases
        w.arrayCount(apis.count, compact: flexible)
        for api in apis {
            w.int16(api.rawValue); w.int16(api.versions.lowerBound); w.int16(api.versions.upperBound)
            if flexible { w.emptyTaggedFields() }
        }
        if layout >= 1 { w.int32(0) }  // throttle time
        if flexible { w.emptyTaggedFields() }
        return w.bytes
    }

    public struct Broker: Sendable {
        public var nodeID: Int32
        public var host: String
        public var port: Int32
        public init(nodeID: Int32, host: String, port: Int32) { self.nodeID = nodeID; self.host = host; self.port = port }
    }

    public struct TopicMetadata: Sendable {
        public var error: KafkaErrorCode
        public var name: String
        /// Partition indices; the leader of each is `leader`.
        public var partitions: Int
        public init(error: KafkaErrorCode, name: String, partitions: Int) { self.error = error; self.name = name; self.partitions = partitions }
    }

    public static func metadata(correlationID: Int32, version v: Int16, brokers: [Broker], clusterID: String?, controllerID: Int32,
                                topics: [TopicMetadata], leader: Int32) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 3 { w.int32(0) }
        w.arrayCount(brokers.count)
        for b in brokers {
            w.int32(b.nodeID); w.string(b.host); w.int32(b.port)
            if v >= 1 { w.nullableString(nil) }  // rack
        }
        if v >= 2 { w.nullableString(clusterID) }
        if v >= 1 { w.int32(controllerID) }
        w.arrayCount(topics.count)
        for t in topics {
            w.int16(t.error.rawValue); w.string(t.name)
            if v >= 1 { w.bool(false) }  // internal
            w.arrayCount(t.partitions)
            for p in 0..<t.partitions {
                w.int16(0); w.int32(Int32(p)); w.int32(leader)
                if v >= 7 { w.int32(0) }  // leader epoch: constant, so clients never validate it
                w.arrayCount(1); w.int32(leader)  // replicas
                w.arrayCount(1); w.int32(leader)  // in-sync replicas
                if v >= 5 { w.arrayCount(0) }  // offline replicas
            }
            if v >= 8 { w.int32(Int32.min) }  // topic authorized operations: not provided
        }
        if v >= 8 { w.int32(Int32.min) }  // cluster authorized operations
        return w.bytes
    }

    public struct ProducePartition: Sendable {
        public var index: Int32
        public var error: KafkaErrorCode
        public var baseOffset: Int64
        /// (index of the record in its batch, why it was refused): v8's per-record errors.
        public var recordErrors: [(index: Int32, message: String)]
        public var errorMessage: String?
        public init(index: Int32, error: KafkaErrorCode, baseOffset: Int64, recordErrors: [(index: Int32, message: String)] = [], errorMessage: String? = nil) {
            self.index = index; self.error = error; self.baseOffset = baseOffset; self.recordErrors = recordErrors; self.errorMessage = errorMessage
        }
    }

    public static func produce(correlationID: Int32, version v: Int16, topics: [(name: String, partitions: [ProducePartition])]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        w.arrayCount(topics.count)
        for t in topics {
            w.string(t.name)
            w.arrayCount(t.partitions.count)
            for p in t.partitions {
                w.int32(p.index); w.int16(p.error.rawValue); w.int64(p.baseOffset)
                w.int64(-1)  // log append time: records keep their create time
                if v >= 5 { w.int64(0) }  // log start offset
                if v >= 8 {
                    w.arrayCount(p.recordErrors.count)
                    for e in p.recordErrors { w.int32(e.index); w.nullableString(e.message) }
                    w.nullableString(p.errorMessage)
                }
            }
        }
        w.int32(0)  // throttle time: last in a produce response
        return w.bytes
    }

    public struct FetchPartition: Sendable {
        public var index: Int32
        public var error: KafkaErrorCode
        public var highWatermark: Int64
        /// Record batches (magic 2), back to back; empty: none.
        public var records: [UInt8]
        public init(index: Int32, error: KafkaErrorCode, highWatermark: Int64, records: [UInt8]) {
            self.index = index; self.error = error; self.highWatermark = highWatermark; self.records = records
        }
    }

    public static func fetch(correlationID: Int32, version v: Int16, topics: [(name: String, partitions: [FetchPartition])]) -> [UInt8] {
        var w = KafkaWriter(capacity: 256 + topics.reduce(0) { $0 + $1.partitions.reduce(0) { $0 + $1.records.count + 64 } })
        w.int32(correlationID)
        w.int32(0)  // throttle time
        if v >= 7 { w.int16(0); w.int32(0) }  // error, session id: no fetch sessions (every fetch is a full one)
        w.arrayCount(topics.count)
        for t in topics {
            w.string(t.name)
            w.arrayCount(t.partitions.count)
            for p in t.partitions {
                w.int32(p.index); w.int16(p.error.rawValue); w.int64(p.highWatermark)
                w.int64(p.highWatermark)  // last stable offset: no transactions
                if v >= 5 { w.int64(0) }  // log start offset
                w.arrayCount(nil)  // aborted transactions
                if v >= 11 { w.int32(-1) }  // preferred read replica
                w.nullableBytes(p.records)
            }
        }
        return w.bytes
    }

    public struct ListedOffset: Sendable {
        public var index: Int32
        public var error: KafkaErrorCode
        public var timestamp: Int64
        public var offset: Int64
        public init(index: Int32, error: KafkaErrorCode, timestamp: Int64, offset: Int64) {
            self.index = index; self.error = error; self.timestamp = timestamp; self.offset = offset
        }
    }

    public static func listOffsets(correlationID: Int32, version v: Int16, topics: [(name: String, partitions: [ListedOffset])]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 2 { w.int32(0) }
        w.arrayCount(topics.count)
        for t in topics {
            w.string(t.name)
            w.arrayCount(t.partitions.count)
            for p in t.partitions {
                w.int32(p.index); w.int16(p.error.rawValue); w.int64(p.timestamp); w.int64(p.offset)
                if v >= 4 { w.int32(0) }  // leader epoch
            }
        }
        return w.bytes
    }

    public static func initProducerID(correlationID: Int32, error: KafkaErrorCode, producerID: Int64, epoch: Int16) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        w.int32(0)
        w.int16(error.rawValue); w.int64(producerID); w.int16(epoch)
        return w.bytes
    }
}
