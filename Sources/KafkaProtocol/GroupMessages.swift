/// The consumer group APIs' requests and responses (docs/KAFKA.md §2): FindCoordinator,
/// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch — classic
/// (non-flexible) versions only. Member metadata and assignments are opaque bytes (the
/// consumer protocol's), passed between members, never read by the broker.

public struct JoinGroupRequest: Sendable, Equatable {
    public var groupID: String
    public var sessionTimeoutMs: Int32
    public var rebalanceTimeoutMs: Int32
    public var memberID: String
    public var groupInstanceID: String?
    public var protocolType: String
    public var protocols: [GroupProtocol]
    public struct GroupProtocol: Sendable, Equatable {
        public var name: String
        public var metadata: [UInt8]
        public init(name: String, metadata: [UInt8]) { self.name = name; self.metadata = metadata }
    }

    public init(groupID: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32, memberID: String, groupInstanceID: String?,
                protocolType: String, protocols: [GroupProtocol]) {
        self.groupID = groupID; self.sessionTimeoutMs = sessionTimeoutMs; self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberID = memberID; self.groupInstanceID = groupInstanceID; self.protocolType = protocolType; self.protocols = protocols
    }
}

public struct SyncGroupRequest: Sendable, Equatable {
    public var groupID: String
    public var generation: Int32
    public var memberID: String
    public var assignments: [(memberID: String, assignment: [UInt8])]

    public init(groupID: String, generation: Int32, memberID: String, assignments: [(memberID: String, assignment: [UInt8])]) {
        self.groupID = groupID; self.generation = generation; self.memberID = memberID; self.assignments = assignments
    }

    public static func == (a: SyncGroupRequest, b: SyncGroupRequest) -> Bool {
        a.groupID == b.groupID && a.generation == b.generation && a.memberID == b.memberID
            && a.assignments.map(\.memberID) == b.assignments.map(\.memberID) && a.assignments.map(\.assignment) == b.assignments.map(\.assignment)
    }
}

public struct OffsetCommitRequest: Sendable, Equatable {
    public var groupID: String
    /// −1 with an empty member id: a commit from outside any generation (a standalone consumer).
    public var generation: Int32
    public var memberID: String
    public var offsets: [(topic: String, partition: Int32, offset: Int64, metadata: String?)]

    public static func == (a: OffsetCommitRequest, b: OffsetCommitRequest) -> Bool {
        a.groupID == b.groupID && a.generation == b.generation && a.memberID == b.memberID
            && a.offsets.elementsEqual(b.offsets) { $0.topic == $1.topic && $0.partition == $1.partition && $0.offset == $1.offset && $0.metadata == $1.metadata }
    }
}

extension KafkaRequest {
    /// Reads the body of a group API request (`version` already checked).
    static func decodeGroup(_ api: KafkaAPI, version v: Int16, _ r: inout KafkaReader) throws(KafkaError) -> KafkaRequest {
        switch api {
        case .findCoordinator:
            let key = try r.string("coordinator key")
            let type: Int8 = v >= 1 ? try r.int8("key type") : 0
            return .findCoordinator(key: key, keyType: type)
        case .joinGroup:
            let group = try r.string("group id")
            let session = try r.int32("session timeout")
            let rebalance = v >= 1 ? try r.int32("rebalance timeout") : session
            let member = try r.string("member id")
            let instance = v >= 5 ? try r.nullableString("group instance id") : nil
            let type = try r.string("protocol type")
            let protocols = try r.array("protocols", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                JoinGroupRequest.GroupProtocol(name: try r.string("protocol name"), metadata: Array(try r.bytes("protocol metadata")))
            }
            return .joinGroup(JoinGroupRequest(groupID: group, sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance, memberID: member,
                                               groupInstanceID: instance, protocolType: type, protocols: protocols))
        case .syncGroup:
            let group = try r.string("group id")
            let generation = try r.int32("generation")
            let member = try r.string("member id")
            if v >= 3 { _ = try r.nullableString("group instance id") }
            let assignments = try r.array("assignments", minimumBytes: 6) { (r: inout KafkaReader) throws(KafkaError) in
                (memberID: try r.string("member id"), assignment: Array(try r.bytes("assignment")))
            }
            return .syncGroup(SyncGroupRequest(groupID: group, generation: generation, memberID: member, assignments: assignments))
        case .heartbeat:
            let group = try r.string("group id")
            let generation = try r.int32("generation")
            let member = try r.string("member id")
            if v >= 3 { _ = try r.nullableString("group instance id") }
            return .heartbeat(groupID: group, generation: generation, memberID: member)
        case .leaveGroup:
            let group = try r.string("group id")
            if v >= 3 {
                let members = try r.array("members", minimumBytes: 4) { (r: inout KafkaReader) throws(KafkaError) in
                    let m = try r.string("member id")
                    _ = try r.nullableString("group instance id")
                    return m
                }
                return .leaveGroup(groupID: group, memberIDs: members)
            }
            return .leaveGroup(groupID: group, memberIDs: [try r.string("member id")])
        case .offsetCommit:
            let group = try r.string("group id")
            var generation: Int32 = -1, member = ""
            if v >= 1 {
                generation = try r.int32("generation")
                member = try r.string("member id")
            }
            if v >= 7 { _ = try r.nullableString("group instance id") }
            if v >= 2 && v <= 4 { _ = try r.int64("retention time") }
            var offsets: [(topic: String, partition: Int32, offset: Int64, metadata: String?)] = []
            let topics = try r.arrayCount("commit topics", minimumBytes: 6) ?? 0
            for _ in 0..<topics {
                let topic = try r.string("topic name")
                let partitions = try r.arrayCount("commit partitions", minimumBytes: 14) ?? 0
                for _ in 0..<partitions {
                    let p = try r.int32("partition index")
                    let offset = try r.int64("committed offset")
                    if v >= 6 { _ = try r.int32("committed leader epoch") }
                    if v == 1 { _ = try r.int64("commit timestamp") }
                    offsets.append((topic, p, offset, try r.nullableString("committed metadata")))
                }
            }
            return .offsetCommit(OffsetCommitRequest(groupID: group, generation: generation, memberID: member, offsets: offsets))
        case .offsetFetch:
            let group = try r.string("group id")
            var topics: [(String, [Int32])]? = []
            if let count = try r.arrayCount("fetch topics", minimumBytes: 6) {
                var list: [(String, [Int32])] = []
                for _ in 0..<count {
                    let name = try r.string("topic name")
                    list.append((name, try r.array("partition indexes", minimumBytes: 4) { (r: inout KafkaReader) throws(KafkaError) in try r.int32() }))
                }
                topics = list
            } else {
                topics = nil
            }
            return .offsetFetch(groupID: group, topics: topics?.map { TopicPartitions(topic: $0.0, partitions: $0.1) })
        default:
            throw KafkaError(.malformed, "\(api) is not a group API")
        }
    }
}

/// A topic and some of its partitions.
public struct TopicPartitions: Sendable, Equatable {
    public var topic: String
    public var partitions: [Int32]
    public init(topic: String, partitions: [Int32]) { self.topic = topic; self.partitions = partitions }
}

extension KafkaResponse {
    public static func findCoordinator(correlationID: Int32, version v: Int16, error: KafkaErrorCode, message: String?, node: Broker) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 1 { w.int32(0) }
        w.int16(error.rawValue)
        if v >= 1 { w.nullableString(message) }
        w.int32(node.nodeID); w.string(node.host); w.int32(node.port)
        return w.bytes
    }

    public static func joinGroup(correlationID: Int32, version v: Int16, error: KafkaErrorCode, generation: Int32, protocolName: String,
                                 leader: String, memberID: String, members: [(memberID: String, metadata: [UInt8])]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 2 { w.int32(0) }
        w.int16(error.rawValue); w.int32(generation); w.string(protocolName); w.string(leader); w.string(memberID)
        w.arrayCount(members.count)
        for m in members {
            w.string(m.memberID)
            if v >= 5 { w.nullableString(nil) }
            w.nullableBytes(m.metadata)
        }
        return w.bytes
    }

    public static func syncGroup(correlationID: Int32, version v: Int16, error: KafkaErrorCode, assignment: [UInt8]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 1 { w.int32(0) }
        w.int16(error.rawValue)
        w.nullableBytes(assignment)
        return w.bytes
    }

    /// Heartbeat's response (and LeaveGroup's before v3): an error code.
    public static func errorOnly(correlationID: Int32, version v: Int16, throttleFrom: Int16 = 1, error: KafkaErrorCode) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= throttleFrom { w.int32(0) }
        w.int16(error.rawValue)
        return w.bytes
    }

    public static func leaveGroup(correlationID: Int32, version v: Int16, error: KafkaErrorCode, members: [(String, KafkaErrorCode)]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 1 { w.int32(0) }
        w.int16(error.rawValue)
        if v >= 3 {
            w.arrayCount(members.count)
            for (m, e) in members { w.string(m); w.nullableString(nil); w.int16(e.rawValue) }
        }
        return w.bytes
    }

    public static func offsetCommit(correlationID: Int32, version v: Int16, results: [(topic: String, partitions: [(Int32, KafkaErrorCode)])]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 3 { w.int32(0) }
        w.arrayCount(results.count)
        for t in results {
            w.string(t.topic)
            w.arrayCount(t.partitions.count)
            for (p, e) in t.partitions { w.int32(p); w.int16(e.rawValue) }
        }
        return w.bytes
    }

    public static func offsetFetch(correlationID: Int32, version v: Int16, error: KafkaErrorCode,
                                   results: [(topic: String, partitions: [(partition: Int32, offset: Int64, metadata: String?)])]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(correlationID)
        if v >= 3 { w.int32(0) }
        w.arrayCount(results.count)
        for t in results {
            w.string(t.topic)
            w.arrayCount(t.partitions.count)
            for p in t.partitions {
                w.int32(p.partition); w.int64(p.offset)
                if v >= 5 { w.int32(-1) }
                w.nullableString(p.metadata ?? ""); w.int16(0)
            }
        }
        if v >= 2 { w.int16(error.rawValue) }
        return w.bytes
    }
}
