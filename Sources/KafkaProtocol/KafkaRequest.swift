/// The Kafka APIs this broker answers, and the versions of each (docs/KAFKA.md §2). Clients use
/// min(their highest, ours); the ranges are chosen so every version here is "classic"
/// (non-flexible) except ApiVersions v3, which librdkafka sends first.
public enum KafkaAPI: Int16, Sendable, CaseIterable {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case saslHandshake = 17
    case apiVersions = 18
    case initProducerID = 22
    case saslAuthenticate = 36

    public var versions: ClosedRange<Int16> {
        switch self {
        case .produce: 3...8
        case .fetch: 4...11
        case .listOffsets: 1...5
        case .metadata: 0...8
        case .offsetCommit: 0...7
        case .offsetFetch: 0...5
        case .findCoordinator: 0...2
        case .joinGroup: 0...5
        case .heartbeat: 0...3
        case .leaveGroup: 0...3
        case .syncGroup: 0...3
        case .saslHandshake: 0...1
        case .apiVersions: 0...3
        case .initProducerID: 0...1
        case .saslAuthenticate: 0...1
        }
    }
}

/// A request's header (request header v1; v2 for flexible versions — here ApiVersions v3).
public struct KafkaRequestHeader: Sendable, Equatable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationID: Int32
    public var clientID: String?
}

/// A request this broker reads, its body decoded.
public enum KafkaRequest: Sendable, Equatable {
    case apiVersions
    /// nil: every topic.
    case metadata(topics: [String]?)
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case listOffsets(ListOffsetsRequest)
    case findCoordinator(key: String, keyType: Int8)
    case joinGroup(JoinGroupRequest)
    case syncGroup(SyncGroupRequest)
    case heartbeat(groupID: String, generation: Int32, memberID: String)
    case leaveGroup(groupID: String, memberIDs: [String])
    case offsetCommit(OffsetCommitRequest)
    /// nil topics: every topic the group committed.
    case offsetFetch(groupID: String, topics: [TopicPartitions]?)
    case saslHandshake(mechanism: String)
    case saslAuthenticate(authBytes: [UInt8])
    /// An idempotent producer asks for its id (a transactional id asks for transactions,
    /// which are not served).
    case initProducerID(transactionalID: String?)
}

public struct ProduceRequest: Sendable, Equatable {
    public var transactionalID: String?
    /// 0: no response; 1 or −1: a response once the records are durable.
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [(name: String, partitions: [(index: Int32, records: ArraySlice<UInt8>?)])]

    public static func == (a: ProduceRequest, b: ProduceRequest) -> Bool {
        a.transactionalID == b.transactionalID && a.acks == b.acks && a.timeoutMs == b.timeoutMs && a.topics.count == b.topics.count
            && zip(a.topics, b.topics).allSatisfy { x, y in
                x.name == y.name && x.partitions.count == y.partitions.count
                    && zip(x.partitions, y.partitions).allSatisfy { $0.index == $1.index && $0.records == $1.records }
            }
    }
}

public struct FetchRequest: Sendable, Equatable {
    public var maxWaitMs: Int32
    public var minBytes: Int32
    public var maxBytes: Int32
    public var isolationLevel: Int8
    public var sessionID: Int32
    public var sessionEpoch: Int32
    public struct Partition: Sendable, Equatable {
        public var index: Int32
        public var fetchOffset: Int64
        public var partitionMaxBytes: Int32
    }
    public var topics: [Topic]
    public struct Topic: Sendable, Equatable {
        public var name: String
        public var partitions: [Partition]
    }
}

public struct ListOffsetsRequest: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var index: Int32
        /// −1 latest, −2 earliest, else a time in ms since the epoch.
        public var timestamp: Int64
    }
    public struct Topic: Sendable, Equatable {
        public var name: String
        public var partitions: [Partition]
    }
    public var topics: [Topic]
}

/// What reading a request gave: the request, or — for an API or version this broker does not
/// serve — the header alone (answered with UNSUPPORTED_VERSION for ApiVersions; otherwise the
/// connection is closed with the reason logged, as Kafka's own broker does).
public enum KafkaDecoded: Sendable, Equatable {
    case request(KafkaRequestHeader, KafkaRequest)
    case unsupported(KafkaRequestHeader)
}

extension KafkaRequest {
    /// Bytes of one request frame's payload (after its int32 size) a broker reads; more is
    /// refused before it is read (Kafka's own default, `socket.request.max.bytes`, is 100 MB).
    public static let frameBytesMax = 64 << 20

    /// Reads one request (its header and body) from a frame's payload. Throws `KafkaError`
    /// for bytes that do not read as the header and version they claim.
    public static func decode(_ bytes: [UInt8]) throws(KafkaError) -> KafkaDecoded {
        var r = KafkaReader(bytes)
        let key = try r.int16("request api key")
        let version = try r.int16("request api version")
        let correlation = try r.int32("correlation id")
        let clientID = try r.nullableString("client id")
        var header = KafkaRequestHeader(apiKey: key, apiVersion: version, correlationID: correlation, clientID: clientID)
        guard let api = KafkaAPI(rawValue: key), api.versions.contains(version) else { return .unsupported(header) }
        let flexible = api == .apiVersions && version >= 3
        if flexible { try r.skipTaggedFields() }
        let request: KafkaRequest
        switch api {
        case .apiVersions:
            if flexible {
                _ = try r.nullableString("client software name", compact: true)
                _ = try r.nullableString("client software version", compact: true)
                try r.skipTaggedFields()
            }
            request = .apiVersions
        case .metadata:
            let topics = try r.arrayCount("metadata topics", minimumBytes: 2)
            var names: [String]? = nil
            if let topics {
                var list: [String] = []
                for _ in 0..<topics { list.append(try r.string("topic name")) }
                // v0: an empty list means every topic.
                names = version == 0 && list.isEmpty ? nil : list
            }
            if version >= 4 { _ = try r.bool("allow auto topic creation") }
            if version >= 8 {
                _ = try r.bool("include cluster authorized operations")
                _ = try r.bool("include topic authorized operations")
            }
            request = .metadata(topics: names)
        case .produce:
            let transactional = try r.nullableString("transactional id")
            let acks = try r.int16("acks")
            let timeout = try r.int32("timeout")
            let topics = try r.array("produce topics", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                let name = try r.string("topic name")
                let partitions = try r.array("produce partitions", minimumBytes: 8) { (r: inout KafkaReader) throws(KafkaError) in
                    (index: try r.int32("partition index"), records: try r.nullableBytes("records"))
                }
                return (name: name, partitions: partitions)
            }
            request = .produce(ProduceRequest(transactionalID: transactional, acks: acks, timeoutMs: timeout, topics: topics))
        case .fetch:
            _ = try r.int32("replica id")
            let maxWait = try r.int32("max wait")
            let minBytes = try r.int32("min bytes")
            let maxBytes = try r.int32("max bytes")
            let isolation = try r.int8("isolation level")
            var session: Int32 = 0, epoch: Int32 = -1
            if version >= 7 {
                session = try r.int32("session id")
                epoch = try r.int32("session epoch")
            }
            let topics = try r.array("fetch topics", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                let name = try r.string("topic name")
                let partitions = try r.array("fetch partitions", minimumBytes: 16) { (r: inout KafkaReader) throws(KafkaError) in
                    let index = try r.int32("partition index")
                    if version >= 9 { _ = try r.int32("current leader epoch") }
                    let offset = try r.int64("fetch offset")
                    if version >= 5 { _ = try r.int64("log start offset") }
                    return FetchRequest.Partition(index: index, fetchOffset: offset, partitionMaxBytes: try r.int32("partition max bytes"))
                }
                return FetchRequest.Topic(name: name, partitions: partitions)
            }
            if version >= 7 {
                _ = try r.array("forgotten topics", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                    _ = try r.string("topic name")
                    _ = try r.array("forgotten partitions", minimumBytes: 4) { (r: inout KafkaReader) throws(KafkaError) in try r.int32() }
                }
            }
            if version >= 11 { _ = try r.string("rack id") }
            request = .fetch(FetchRequest(maxWaitMs: maxWait, minBytes: minBytes, maxBytes: maxBytes, isolationLevel: isolation,
                                          sessionID: session, sessionEpoch: epoch, topics: topics))
        case .listOffsets:
            _ = try r.int32("replica id")
            if version >= 2 { _ = try r.int8("isolation level") }
            let topics = try r.array("list offsets topics", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                let name = try r.string("topic name")
                let partitions = try r.array("list offsets partitions", minimumBytes: 12) { (r: inout KafkaReader) throws(KafkaError) in
                    let index = try r.int32("partition index")
                    if version >= 4 { _ = try r.int32("current leader epoch") }
                    return ListOffsetsRequest.Partition(index: index, timestamp: try r.int64("timestamp"))
                }
                return ListOffsetsRequest.Topic(name: name, partitions: partitions)
            }
            request = .listOffsets(ListOffsetsRequest(topics: topics))
        case .findCoordinator, .joinGroup, .syncGroup, .heartbeat, .leaveGroup, .offsetCommit, .offsetFetch:
            request = try decodeGroup(api, version: version, &r)
        case .saslHandshake:
            request = .saslHandshake(mechanism: try r.string("mechanism"))
        case .saslAuthenticate:
            request = .saslAuthenticate(authBytes: Array(try r.bytes("auth bytes")))
        case .initProducerID:
            let transactional = try r.nullableString("transactional id")
            _ = try r.int32("transaction timeout")
            request = .initProducerID(transactionalID: transactional)
        }
        guard r.isAtEnd else {
            throw KafkaError(.invalidLength, "\(r.remaining) bytes after the body of \(api) v\(version)", offset: r.offset)
        }
        header.clientID = clientID
        return .request(header, request)
    }
}
