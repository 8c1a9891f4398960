import KafkaProtocol
import OrderModel
import OrderStore

/// How the Kafka front door is set up (docs/KAFKA.md §1).
public struct KafkaConfiguration: Sendable {
    /// The port; 0 picks a free one (tests).
    public var port = 9092
    /// The one topic: every order event.
    public var topic = "orders"
    /// Its partitions: an event is in `murmur2(order id) % partitions` (the Java client's
    /// default partitioner), so a consumer group's members share orders, each order's events
    /// in order on one member. Fixed for a store's life (a change moves orders between
    /// partitions, which consumers with committed offsets would not expect).
    public var partitions = 8
    /// The host clients are told to connect to (Metadata); nil: the host it binds.
    public var advertisedHost: String?
    /// Bytes one fetch response holds at most, whatever a client asks. Default 16 MiB.
    public var fetchBytesMax = 16 << 20
    /// The longest a fetch waits for new events, whatever a client asks. Default 30 s.
    public var fetchWaitMax: Duration = .seconds(30)
    /// A fetch of more than one partition with at least this many records to read past its
    /// start reads them with two scans at once, each for half the partitions (both cores for
    /// one consumer); below it one scan (a second task would cost more than it saves).
    public var parallelFetchRecords: Int64 = 16_384
    /// How long a new consumer group waits for more members before its first generation
    /// (Kafka's `group.initial.rebalance.delay.ms`). Default 1 s.
    public var initialRebalanceDelay: Duration = .seconds(1)

    public init() {}
}

/// The Kafka broker's logic, without sockets: one request's bytes in, its response's bytes
/// out (docs/KAFKA.md). Produce goes through the same checks as every other way in
/// (`OrderStore.check`); fetch reads the store's log. The store knows nothing of Kafka.
public final class KafkaBroker: Sendable {
    public let store: OrderStore
    public let configuration: KafkaConfiguration
    let advertised: KafkaResponse.Broker
    let coordinator: KafkaGroupCoordinator
    let offsets: KafkaOffsets
    let producers: KafkaProducers
    /// One idempotent batch at a time per producer and partition.
    let idempotentTurns = KeyedTurns<ProducerPartition>()

    /// Who may connect: with tokens, a client authenticates with SASL/PLAIN (its password the
    /// token) and gets the token's role; without, every client is served as admin (the
    /// listener takes only local ones).
    let access: AccessPolicy

    public init(store: OrderStore, configuration: KafkaConfiguration, host: String, port: Int, access: AccessPolicy = AccessPolicy()) {
        self.store = store
        self.configuration = configuration
        self.access = access
        advertised = KafkaResponse.Broker(nodeID: 0, host: configuration.advertisedHost ?? host, port: Int32(port))
        offsets = KafkaOffsets(directory: store.directory + "/kafka")
        producers = KafkaProducers(directory: store.directory + "/kafka")
        coordinator = KafkaGroupCoordinator(offsets: offsets, initialDelay: configuration.initialRebalanceDelay)
    }

    /// Why the committed offsets' or producers' file at start was not used, if one was not
    /// (logged by the listener).
    public var offsetsProblem: String? { [offsets.problem, producers.problem].compactMap { $0 }.first }

    /// Completes rebalances past their deadline and removes members past their session
    /// timeout; the listener calls it every 200 ms.
    public func tick() async { await coordinator.tick() }

    /// What to do with a request.
    public enum Outcome: Sendable, Equatable {
        /// Send these bytes (a frame's payload).
        case respond([UInt8])
        /// Send nothing (a produce with acks = 0).
        case noResponse
        /// Close the connection: the request could not be read or is not one this broker
        /// serves (Kafka's own broker closes too; the reason is logged).
        case close(String)
        /// Send these bytes, then close (a failed authentication).
        case respondAndClose([UInt8], String)
    }

    /// One connection's authentication (docs/KAFKA.md §7).
    public struct Session: Sendable {
        /// The role granted; nil until a client of a server with tokens authenticates.
        public var role: Role?
        /// After a SaslHandshake v0, the next frame is a bare SASL token (no request header).
        public var awaitingRawToken = false
        public init(role: Role?) { self.role = role }
    }

    /// A new connection's session: admin without tokens, nobody yet with them.
    public func newSession() -> Session { Session(role: access.tokens == nil ? .admin : nil) }

    /// A request on a connection with every right (tests, and servers without tokens).
    public func handle(_ frame: [UInt8]) async -> Outcome {
        var session = Session(role: .admin)
        return await handle(frame, session: &session)
    }

    /// A bare SASL/PLAIN token after a SaslHandshake v0: an empty frame back when it names a
    /// token of the tokens file, else the connection is closed.
    public func authenticateRaw(_ token: [UInt8], session: inout Session) -> Outcome {
        session.awaitingRawToken = false
        // Without tokens every client already has every right: any token passes.
        if access.tokens == nil { return .respond([]) }
        guard let role = plainRole(token) else { return .close("SASL/PLAIN authentication failed") }
        session.role = role
        return .respond([])
    }

    private func plainRole(_ token: [UInt8]) -> Role? {
        guard let plain = SaslPlain.parse(token) else { return nil }
        return access.role(token: plain.password, address: nil)
    }

    public func handle(_ frame: [UInt8], session: inout Session) async -> Outcome {
        await handle(frame, session: &session, prepared: nil)
    }

    /// A request, its produce partitions perhaps already read by `prepare` (used when read as
    /// this session's role would read them).
    public func handle(_ frame: [UInt8], session: inout Session, prepared: PreparedProduce?) async -> Outcome {
        let decoded: KafkaDecoded
        do { decoded = try KafkaRequest.decode(frame) } catch { return .close("request does not read: \(error)") }
        // Before authentication only the handshake's requests are read (as Kafka's broker does).
        if session.role == nil, case .request(_, let r) = decoded {
            switch r {
            case .apiVersions, .saslHandshake, .saslAuthenticate: break
            default: return .close("authenticate first: SASL/PLAIN with a token of the server's tokens file (docs/KAFKA.md §7)")
            }
        }
        switch decoded {
        case .unsupported(let header):
            // ApiVersions of a version above ours gets the v0 answer clients retry from.
            if header.apiKey == KafkaAPI.apiVersions.rawValue {
                return .respond(KafkaResponse.apiVersions(correlationID: header.correlationID, version: 0, error: .unsupportedVersion))
            }
            return .close("api key \(header.apiKey) version \(header.apiVersion) is not served (docs/KAFKA.md lists what is)")
        case .request(let header, let request):
            let c = header.correlationID, v = header.apiVersion
            // Groups and their offsets are for consumers (and admins).
            switch request {
            case .joinGroup, .syncGroup, .heartbeat, .leaveGroup, .offsetCommit, .offsetFetch:
                if !(session.role?.permits(.read) ?? false) { return .respond(groupRefusal(request, correlationID: c, version: v)) }
            default: break
            }
            switch request {
            case .apiVersions:
                return .respond(KafkaResponse.apiVersions(correlationID: c, version: v))
            case .metadata(let topics):
                return .respond(KafkaResponse.metadata(correlationID: c, version: v, brokers: [advertised], clusterID: "orderlog", controllerID: 0,
                                                       topics: (topics ?? [configuration.topic]).map(topicMetadata), leader: 0))
            case .initProducerID(let transactional):
                guard session.role?.permits(.append) ?? false else {
                    return .respond(KafkaResponse.initProducerID(correlationID: c, error: .clusterAuthorizationFailed, producerID: -1, epoch: -1))
                }
                // Idempotence, not transactions.
                guard transactional == nil else {
                    return .respond(KafkaResponse.initProducerID(correlationID: c, error: .coordinatorNotAvailable, producerID: -1, epoch: -1))
                }
                do {
                    let p = try producers.newProducer()
                    return .respond(KafkaResponse.initProducerID(correlationID: c, error: .none, producerID: p.id, epoch: p.epoch))
                } catch {
                    return .respond(KafkaResponse.initProducerID(correlationID: c, error: .unknownServerError, producerID: -1, epoch: -1))
                }
            case .saslHandshake(let mechanism):
                guard mechanism == "PLAIN" else { return .respond(KafkaResponse.saslHandshake(correlationID: c, error: .unsupportedSaslMechanism, mechanisms: ["PLAIN"])) }
                guard session.role == nil || access.tokens == nil else { return .respond(KafkaResponse.saslHandshake(correlationID: c, error: .illegalSaslState, mechanisms: ["PLAIN"])) }
                // v0: the next frame is the bare token (with or without tokens configured).
                session.awaitingRawToken = v == 0
                return .respond(KafkaResponse.saslHandshake(correlationID: c, error: .none, mechanisms: ["PLAIN"]))
            case .saslAuthenticate(let token):
                // Without tokens every client already has every right: any token is accepted.
                if access.tokens == nil { return .respond(KafkaResponse.saslAuthenticate(correlationID: c, version: v, error: .none, message: nil)) }
                guard let role = plainRole(token) else {
                    // Answered, then closed (as Kafka does): no guessing tokens on one connection.
                    return .respondAndClose(KafkaResponse.saslAuthenticate(correlationID: c, version: v, error: .saslAuthenticationFailed,
                                                                           message: "SASL/PLAIN: the password is not a token of the server's tokens file"),
                                            "SASL/PLAIN authentication failed")
                }
                session.role = role
                return .respond(KafkaResponse.saslAuthenticate(correlationID: c, version: v, error: .none, message: nil))
            case .produce(let produce):
                // Only producers (and admins) append.
                if !(session.role?.permits(.append) ?? false) {
                    let answer = produce.topics.map { t in (name: t.name, partitions: t.partitions.map {
                        KafkaResponse.ProducePartition(index: $0.index, error: .topicAuthorizationFailed, baseOffset: -1, errorMessage: "role \(session.role?.rawValue ?? "none") may not produce")
                    }) }
                    return produce.acks == 0 ? .close("role may not produce") : .respond(KafkaResponse.produce(correlationID: c, version: v, topics: answer))
                }
                let keep = session.role?.mayKeepRecordedTime ?? false
                var reads: [ReadPartition?]?
                if let prepared, prepared.keepRecordedTime == keep { reads = await prepared.take() }
                let answer = await self.produce(produce, keepRecordedTime: keep, reads: reads)
                return produce.acks == 0 ? .noResponse : .respond(KafkaResponse.produce(correlationID: c, version: v, topics: answer))
            case .fetch(let fetch):
                guard session.role?.permits(.read) ?? false else {
                    return .respond(KafkaResponse.fetch(correlationID: c, version: v, topics: fetch.topics.map { t in
                        (t.name, t.partitions.map { KafkaResponse.FetchPartition(index: $0.index, error: .topicAuthorizationFailed, highWatermark: -1, records: []) })
                    }))
                }
                return .respond(KafkaResponse.fetch(correlationID: c, version: v, topics: await self.fetch(fetch)))
            case .listOffsets(let list):
                guard session.role?.permits(.read) ?? false else {
                    return .respond(KafkaResponse.listOffsets(correlationID: c, version: v, topics: list.topics.map { t in
                        (t.name, t.partitions.map { KafkaResponse.ListedOffset(index: $0.index, error: .topicAuthorizationFailed, timestamp: -1, offset: -1) })
                    }))
                }
                return .respond(KafkaResponse.listOffsets(correlationID: c, version: v, topics: listOffsets(list)))
            case .findCoordinator(_, let keyType):
                // Groups only: transactions are not served.
                if keyType != 0 {
                    return .respond(KafkaResponse.findCoordinator(correlationID: c, version: v, error: .coordinatorNotAvailable, message: "only consumer groups have a coordinator here (no transactions)",
                                                                  node: .init(nodeID: -1, host: "", port: -1)))
                }
                return .respond(KafkaResponse.findCoordinator(correlationID: c, version: v, error: .none, message: nil, node: advertised))
            case .joinGroup(let join):
                let a = await coordinator.join(join, version: v, clientID: header.clientID ?? "")
                return .respond(KafkaResponse.joinGroup(correlationID: c, version: v, error: a.error, generation: a.generation, protocolName: a.protocolName,
                                                        leader: a.leader, memberID: a.memberID, members: a.members))
            case .syncGroup(let sync):
                let a = await coordinator.sync(sync)
                return .respond(KafkaResponse.syncGroup(correlationID: c, version: v, error: a.error, assignment: a.assignment))
            case .heartbeat(let group, let generation, let member):
                let error = await coordinator.heartbeat(groupID: group, generation: generation, memberID: member)
                return .respond(KafkaResponse.errorOnly(correlationID: c, version: v, error: error))
            case .leaveGroup(let group, let members):
                let results = await coordinator.leave(groupID: group, memberIDs: members)
                let error = v >= 3 ? .none : (results.first?.1 ?? .none)
                return .respond(KafkaResponse.leaveGroup(correlationID: c, version: v, error: error, members: results))
            case .offsetCommit(let commit):
                return .respond(KafkaResponse.offsetCommit(correlationID: c, version: v, results: await offsetCommit(commit)))
            case .offsetFetch(let group, let topics):
                return .respond(KafkaResponse.offsetFetch(correlationID: c, version: v, error: .none, results: offsetFetch(group, topics)))
            }
        }
    }

    private func topicMetadata(_ name: String) -> KafkaResponse.TopicMetadata {
        name == configuration.topic ? .init(error: .none, name: name, partitions: configuration.partitions)
            : .init(error: .unknownTopicOrPartition, name: name, partitions: 0)
    }

    func knownPartition(_ topic: String, _ index: Int32) -> Bool {
        topic == configuration.topic && index >= 0 && Int(index) < configuration.partitions
    }

    /// A group request from a role that may not read: GROUP_AUTHORIZATION_FAILED, in its response's shape.
    private func groupRefusal(_ request: KafkaRequest, correlationID c: Int32, version v: Int16) -> [UInt8] {
        let e = KafkaErrorCode.groupAuthorizationFailed
        switch request {
        case .joinGroup: return KafkaResponse.joinGroup(correlationID: c, version: v, error: e, generation: -1, protocolName: "", leader: "", memberID: "", members: [])
        case .syncGroup: return KafkaResponse.syncGroup(correlationID: c, version: v, error: e, assignment: [])
        case .leaveGroup: return KafkaResponse.leaveGroup(correlationID: c, version: v, error: e, members: [])
        case .offsetCommit(let r):
            var byTopic: [(topic: String, partitions: [(Int32, KafkaErrorCode)])] = []
            for o in r.offsets {
                if let k = byTopic.firstIndex(where: { $0.topic == o.topic }) { byTopic[k].partitions.append((o.partition, e)) } else { byTopic.append((o.topic, [(o.partition, e)])) }
            }
            return KafkaResponse.offsetCommit(correlationID: c, version: v, results: byTopic)
        case .offsetFetch: return KafkaResponse.offsetFetch(correlationID: c, version: v, error: e, results: [])
        default: return KafkaResponse.errorOnly(correlationID: c, version: v, error: e)
        }
    }

    // MARK: Committed offsets

    private func offsetCommit(_ r: OffsetCommitRequest) async -> [(topic: String, partitions: [(Int32, KafkaErrorCode)])] {
        let allowed = await coordinator.commitAllowed(groupID: r.groupID, generation: r.generation, memberID: r.memberID)
        var results: [(topic: String, partitions: [(Int32, KafkaErrorCode)])] = []
        var accepted: [(topic: String, partition: Int32, committed: KafkaOffsets.Committed)] = []
        for o in r.offsets {
            var error = allowed
            if error == .none && (!knownPartition(o.topic, o.partition) || o.offset < -1) { error = .unknownTopicOrPartition }
            if error == .none && (o.metadata?.utf8.count ?? 0) > 4096 { error = .invalidRequest }
            if error == .none { accepted.append((o.topic, o.partition, .init(offset: o.offset, metadata: o.metadata))) }
            if let k = results.firstIndex(where: { $0.topic == o.topic }) { results[k].partitions.append((o.partition, error)) } else { results.append((o.topic, [(o.partition, error)])) }
        }
        if !accepted.isEmpty {
            do { try offsets.commit(group: r.groupID, accepted) } catch {
                // Not on disk: the commit is refused (the old offsets stand).
                for k in results.indices { results[k].partitions = results[k].partitions.map { ($0.0, $0.1 == .none ? .unknownServerError : $0.1) } }
            }
        }
        return results
    }

    private func offsetFetch(_ group: String, _ topics: [TopicPartitions]?) -> [(topic: String, partitions: [(partition: Int32, offset: Int64, metadata: String?)])] {
        let committed = offsets.committed(group: group)
        if let topics {
            return topics.map { t in (t.topic, t.partitions.map { p in (p, committed[t.topic]?[p]?.offset ?? -1, committed[t.topic]?[p]?.metadata) }) }
        }
        return committed.keys.sorted().map { topic in
            (topic, committed[topic]!.keys.sorted().map { p in (p, committed[topic]![p]!.offset, committed[topic]![p]!.metadata) })
        }
    }

    // MARK: ListOffsets

    private func listOffsets(_ request: ListOffsetsRequest) -> [(name: String, partitions: [KafkaResponse.ListedOffset])] {
        let end = Int64(store.endPosition)
        return request.topics.map { topic in
            (topic.name, topic.partitions.map { p in
                guard knownPartition(topic.name, p.index) else { return .init(index: p.index, error: .unknownTopicOrPartition, timestamp: -1, offset: -1) }
                switch p.timestamp {
                case -1: return .init(index: p.index, error: .none, timestamp: -1, offset: end)
                case -2: return .init(index: p.index, error: .none, timestamp: -1, offset: 0)
                default:
                    // The first event recorded at or after the time (ms), in any partition:
                    // offsets are the log's positions, shared by all partitions.
                    guard p.timestamp >= 0, p.timestamp <= Int64.max / 1000, let position = try? store.endPosition(asOfTime: p.timestamp * 1000 - 1), Int64(position) < end else {
                        return .init(index: p.index, error: .none, timestamp: -1, offset: -1)
                    }
                    let recorded = (try? store.events(from: position, limit: 1).first?.recordedAt).flatMap { $0 }.map { $0 / 1000 } ?? -1
                    return .init(index: p.index, error: .none, timestamp: recorded, offset: Int64(position))
                }
            })
        }
    }
}
