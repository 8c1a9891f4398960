import Dispatch
import KafkaProtocol
import OrderModel
import OrderStore
import Synchronization

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

    private func knownPartition(_ topic: String, _ index: Int32) -> Bool {
        topic == configuration.topic && index >= 0 && Int(index) < configuration.partitions
    }

    // MARK: Produce

    /// Bytes a request's batches may expand to, in all (each batch alone is bounded too).
    /// The bytes one request's batches may decompress to, all partitions together (they may
    /// be read at once: each decompresses within what is left, then is charged what it took).
    final class DecompressionBudget: Sendable {
        private let left = Mutex(RecordBatch.decompressedBytesMax)
        var remaining: Int { left.withLock { $0 } }
        /// Charges `n` bytes; false (nothing charged) when fewer are left.
        func charge(_ n: Int) -> Bool { left.withLock { l in guard n <= l else { return false }; l -= n; return true } }
    }

    /// One partition's records as read, before any of them is stored: its batches, and each
    /// record read and checked as an order event (the first refusal names its record — its
    /// index among the partition's records — and the rule). Pure: the partitions of a
    /// request are read at once.
    public enum ReadPartition: Sendable {
        case refused(KafkaResponse.ProducePartition)
        case read(batches: [RecordBatch], appends: [AppendRecord], problems: [(index: Int32, message: String)])
    }

    /// Requests whose partitions' record bytes add up to at least this many are read on two
    /// threads, partitions shared between them (below it a worker costs more than it saves).
    static let parallelReadBytes = 64 << 10

    private func produce(_ request: ProduceRequest, keepRecordedTime: Bool, reads: [ReadPartition?]? = nil) async -> [(name: String, partitions: [KafkaResponse.ProducePartition])] {
        // Every partition's records read and checked first (here, or already by `prepare`),
        // then stored one partition after another.
        let read = reads ?? readPartitions(request, keepRecordedTime: keepRecordedTime)
        var answer: [(name: String, partitions: [KafkaResponse.ProducePartition])] = []
        var k = 0
        for topic in request.topics {
            var partitions: [KafkaResponse.ProducePartition] = []
            for p in topic.partitions {
                defer { k += 1 }
                guard k < read.count, let r = read[k] else {
                    partitions.append(.init(index: p.index, error: .unknownTopicOrPartition, baseOffset: -1, errorMessage: "no topic \(topic.name) partition \(p.index)"))
                    continue
                }
                partitions.append(await producePartition(p.index, r, acks: request.acks))
            }
            answer.append((topic.name, partitions))
        }
        return answer
    }

    /// Every partition of `request` read and checked (nil: not a partition of the topic), in
    /// the request's order — on both cores when there is enough. Pure: it stores nothing.
    func readPartitions(_ request: ProduceRequest, keepRecordedTime: Bool) -> [ReadPartition?] {
        let budget = DecompressionBudget()
        let asked = request.topics.flatMap { t in t.partitions.map { (topic: t.name, index: $0.index, records: $0.records) } }
        var read = [ReadPartition?](repeating: nil, count: asked.count)
        let known = asked.indices.filter { knownPartition(asked[$0].topic, asked[$0].index) }
        if known.count > 1 && known.reduce(0, { $0 + (asked[$1].records?.count ?? 0) }) >= Self.parallelReadBytes {
            read.withUnsafeMutableBufferPointer { slots in
                // Each iteration writes its own slots only; concurrentPerform returns once all have.
                nonisolated(unsafe) let slots = slots
                DispatchQueue.concurrentPerform(iterations: 2) { h in
                    for (n, k) in known.enumerated() where n % 2 == h {
                        slots[k] = readPartition(asked[k].index, asked[k].records, keepRecordedTime: keepRecordedTime, budget: budget)
                    }
                }
            }
        } else {
            for k in known { read[k] = readPartition(asked[k].index, asked[k].records, keepRecordedTime: keepRecordedTime, budget: budget) }
        }
        return read
    }

    /// Reads one partition's record bytes: its batches (CRC32C checked, decompressed within
    /// `budget`), each record's value as an order event in the JSON form of EVENTS.md, its key
    /// the order id (or none).
    private func readPartition(_ index: Int32, _ records: ArraySlice<UInt8>?, keepRecordedTime: Bool, budget: DecompressionBudget) -> ReadPartition {
        func refuse(_ error: KafkaErrorCode, _ message: String) -> ReadPartition {
            .refused(.init(index: index, error: error, baseOffset: -1, recordErrors: [], errorMessage: message))
        }
        guard let records, !records.isEmpty else { return refuse(.invalidRecord, "no records") }
        let batches: [RecordBatch]
        do {
            batches = try RecordBatch.decodeAll(records) { codec, bytes, limit throws(KafkaError) in
                let allowed = min(limit, budget.remaining)
                let out = try KafkaCompression.decompress(codec, bytes, limit: allowed)
                guard budget.charge(out.count) else { throw KafkaError(.limitExceeded, "\(codec) records expand past \(RecordBatch.decompressedBytesMax) bytes in all") }
                return out
            }
        } catch {
            switch error.code {
            case .unsupportedFormat: return refuse(error.message.contains("compression") ? .unsupportedCompressionType : .invalidRecord, error.description)
            case .corruptBatch: return refuse(.corruptMessage, error.description)
            default: return refuse(.invalidRecord, error.description)
            }
        }
        var appends: [AppendRecord] = []
        var problems: [(index: Int32, message: String)] = []
        for batch in batches where !(batch.isTransactional || batch.isControl) {
            for record in batch.records {
                let k = Int32(appends.count + problems.count)
                guard let value = record.value else { problems.append((k, "invalid_field: a record's value must be an order event (docs/EVENTS.md), not null")); continue }
                do {
                    let decoded = try OrderEvent.decodeJSONRecord(value)
                    if decoded.recordedAt != nil && !keepRecordedTime {
                        problems.append((k, "unauthorized: only role admin may set recorded_at (it says when the log learned of an event)"))
                        continue
                    }
                    if let key = record.key, !key.elementsEqual(decoded.orderID.value.utf8) {
                        problems.append((k, "invalid_order_id: the record's key \"\(String(decoding: key, as: UTF8.self))\" is not its event's order_id \"\(decoded.orderID.value)\""))
                        continue
                    }
                    appends.append(AppendRecord(orderID: decoded.orderID, type: decoded.type, payload: decoded.payload,
                                                expectedVersion: decoded.expectedVersion, recordedAt: decoded.recordedAt))
                } catch {
                    problems.append((k, "\(error.code.rawValue): \(error.detail)"))
                }
            }
        }
        return .read(batches: batches, appends: appends, problems: problems)
    }

    /// One partition's records, as read: all of them stored, in one atomic append, or none.
    private func producePartition(_ index: Int32, _ read: ReadPartition, acks: Int16) async -> KafkaResponse.ProducePartition {
        guard case .read(let batches, let appends, let problems) = read else {
            if case .refused(let answer) = read { return answer }
            fatalError("unreachable")
        }
        // An idempotent producer's batches to one partition are taken one at a time (as a
        // Kafka broker does under the partition's lock): a retry sent on a new connection
        // while its first try is still being stored waits for it, then gets its answer.
        guard let first = batches.first, first.producerID >= 0 else { return await produceDecoded(index, batches, appends, problems, acks: acks) }
        let key = ProducerPartition(producer: first.producerID, partition: index)
        await idempotentTurns.acquire(key)
        let answer = await produceDecoded(index, batches, appends, problems, acks: acks)
        await idempotentTurns.release(key)
        return answer
    }

    private func produceDecoded(_ index: Int32, _ batches: [RecordBatch], _ appends: [AppendRecord], _ problems: [(index: Int32, message: String)], acks: Int16) async -> KafkaResponse.ProducePartition {
        func refuse(_ error: KafkaErrorCode, _ message: String, records: [(index: Int32, message: String)] = []) -> KafkaResponse.ProducePartition {
            .init(index: index, error: error, baseOffset: -1, recordErrors: records, errorMessage: message)
        }
        // An idempotent producer's batch: a retry of one already stored gets its first answer;
        // one out of order is refused (nothing stored).
        var idempotent: (producer: Int64, epoch: Int16, base: Int32, count: Int)?
        if let first = batches.first, first.producerID >= 0 {
            let count = batches.reduce(0) { $0 + $1.records.count }
            switch producers.verdict(producer: first.producerID, epoch: first.producerEpoch, partition: index, base: first.baseSequence, count: count) {
            case .new: idempotent = (first.producerID, first.producerEpoch, first.baseSequence, count)
            case .duplicate(let offset):
                // A retry: its first answer (a batch the rules refused stays refused).
                if offset < 0 { return refuse(.invalidRecord, "this batch (sequence \(first.baseSequence)) was refused before; see its first answer") }
                return .init(index: index, error: .none, baseOffset: offset)
            case .outOfOrder(let expected): return refuse(.outOfOrderSequenceNumber, "sequence \(first.baseSequence), expected \(expected)")
            case .staleSequence: return refuse(.duplicateSequenceNumber, "sequence \(first.baseSequence) is older than the batches kept")
            case .fencedEpoch: return refuse(.invalidProducerEpoch, "producer epoch \(first.producerEpoch) is not the producer's")
            case .unknownProducer: return refuse(.unknownProducerID, "producer id \(first.producerID) is unknown here")
            }
        }
        if batches.contains(where: { $0.isTransactional || $0.isControl }) { return refuse(.invalidRecord, "transactional and control batches are not supported (docs/KAFKA.md §6)") }
        // Its sequence numbers are used up once it is answered, stored or refused by the rules.
        func used(_ baseOffset: Int64) {
            guard let i = idempotent else { return }
            try? producers.record(producer: i.producer, epoch: i.epoch, partition: index, base: i.base, count: i.count, baseOffset: baseOffset)
        }
        if let first = problems.first {
            used(-1)
            return refuse(.invalidRecord, "record \(first.index): \(first.message)", records: problems)
        }
        let results: [AppendResult]
        do {
            let checked = try store.check(appends)
            let pending = try store.write(checked)
            results = acks == 0 ? pending.results : try await store.waitUntilDurable(pending)
        } catch let error as StoreError {
            if error.code == .rejected, let e = error.orderError {
                used(-1)
                let k = Int32(error.eventIndex ?? 0)
                return refuse(.invalidRecord, "record \(k): \(e.code.rawValue): \(e.detail)", records: [(k, "\(e.code.rawValue): \(e.detail)")])
            }
            return refuse(.invalidRecord, error.message)
        } catch {
            return refuse(.invalidRecord, "\(error)")
        }
        let base = Int64(results.first?.position ?? 0)
        used(base)
        return .init(index: index, error: .none, baseOffset: base)
    }

    // MARK: Fetch

    private func fetch(_ request: FetchRequest) async -> [(name: String, partitions: [KafkaResponse.FetchPartition])] {
        let deadline = ContinuousClock.now + min(.milliseconds(Int(max(0, request.maxWaitMs))), configuration.fetchWaitMax)
        while true {
            let end = store.endPosition
            let answer = fetchOnce(request)
            if answer.bytes >= Int(request.minBytes) || answer.bytes > 0 && request.minBytes <= 0 || ContinuousClock.now >= deadline { return answer.topics }
            // Nothing (or too little) yet: wait for a new durable event, or the deadline.
            let woke = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await self.store.waitForRecords(after: end) }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            if !woke { return fetchOnce(request).topics }
        }
    }

    /// The record headers' names (static text: valid for the process's life).
    private static var typeHeader: UnsafeRawBufferPointer { staticBytes("type") }
    private static var seqHeader: UnsafeRawBufferPointer { staticBytes("seq") }
    private static func staticBytes(_ s: StaticString) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount) }

    /// One partition's part of a fetch, as a scan fills it.
    private struct FetchPart: Sendable {
        var from: Int64
        var limit: Int
        var records = RecordBatchBuilder()
        var lastOffsetDelta: Int32 = 0
        var base: (offset: Int64, timestamp: Int64)?
        var size = 0
        var maxTimestamp: Int64 = -1
        /// Where this partition's read stopped (the first record not taken); nil: still reading.
        var stoppedAt: Int64?
    }

    /// Every partition asked for, from scans of the log: the partitions' offsets all index
    /// the one log, so a scan starts at the smallest and hands each record to its key's
    /// partition when that partition's fetch has reached it (a scan a partition cost the whole
    /// log's reading once per partition). With more than one partition and enough to read,
    /// the partitions are split in two halves read by two scans at once — a consumer's fetch
    /// uses both cores — each with its share of the response's byte budget.
    private func fetchOnce(_ request: FetchRequest) -> FetchAnswer {
        let end = Int64(store.endPosition)
        let n = configuration.partitions
        let budget = min(Int(max(0, request.maxBytes)), configuration.fetchBytesMax)
        // By partition, mutated in place (a copy out and back would copy each record list
        // on every record).
        var parts = [FetchPart?](repeating: nil, count: n)
        var answers: [(name: String, partitions: [KafkaResponse.FetchPartition])] = []
        for topic in request.topics {
            for p in topic.partitions where knownPartition(topic.name, p.index) && p.fetchOffset >= 0 && p.fetchOffset <= end && parts[Int(p.index)] == nil {
                parts[Int(p.index)] = FetchPart(from: p.fetchOffset, limit: Int(max(0, p.partitionMaxBytes)))
            }
        }
        var failed = false
        // The partitions with records ahead of them (one at the end has nothing to read and
        // takes no share of the budget).
        let reading = parts.indices.filter { parts[$0].map { $0.from < end } ?? false }
        if let start = parts.compactMap({ $0?.from }).min(), start < end {
            if reading.count > 1 && end - start >= configuration.parallelFetchRecords {
                // Halves by alternate partition, so each half's share of the records is alike.
                let halves = [reading.enumerated().filter { $0.offset % 2 == 0 }.map(\.element), reading.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)]
                // Two threads, this one and a worker: with NIO as Swift's global executor a
                // child task would be queued on this same event loop and run after, not beside.
                var results = [(parts: [FetchPart?], failed: Bool)](repeating: ([], false), count: 2)
                results.withUnsafeMutableBufferPointer { slots in
                    // Each iteration writes its own slot only; concurrentPerform returns once both have.
                    nonisolated(unsafe) let slots = slots
                    let initial = parts
                    DispatchQueue.concurrentPerform(iterations: 2) { h in
                        var mine = [FetchPart?](repeating: nil, count: n)  // this half's partitions only
                        for k in halves[h] { mine[k] = initial[k] }
                        let failed = scan(&mine, end: end, budget: budget * halves[h].count / reading.count)
                        slots[h] = (mine, failed)
                    }
                }
                // A damaged record met by either half fails the fetch, as one scan meeting it would.
                for r in results {
                    failed = failed || r.failed
                    for k in r.parts.indices where r.parts[k] != nil { parts[k] = r.parts[k] }
                }
            } else {
                failed = scan(&parts, end: end, budget: budget)
            }
        }
        // A partition asked for twice is answered once with records (a repeat must not
        // multiply the response).
        var answered = Set<Int32>()
        for topic in request.topics {
            answers.append((topic.name, topic.partitions.map { p in
                guard knownPartition(topic.name, p.index) else { return .init(index: p.index, error: .unknownTopicOrPartition, highWatermark: -1, records: []) }
                guard answered.insert(p.index).inserted else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                guard p.fetchOffset >= 0, p.fetchOffset <= end else { return .init(index: p.index, error: .offsetOutOfRange, highWatermark: end, records: []) }
                if failed { return .init(index: p.index, error: .corruptMessage, highWatermark: end, records: []) }
                guard let part = parts[Int(p.index)] else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                // The batch's last offset is where this partition's read stopped, less one —
                // past its last record when it has no more records before that — so the
                // consumer's next fetch starts there, not again at the gap (offsets are the
                // log's positions, shared by all partitions; Kafka batches may end past their
                // last record, as compacted ones do). With no record at all: an empty batch
                // over the gap.
                let scannedTo = part.stoppedAt ?? end
                let first = part.base ?? (part.from, 0)
                guard scannedTo > first.offset else { return .init(index: p.index, error: .none, highWatermark: end, records: []) }
                let lastDelta = Int32(clamping: scannedTo - 1 - first.offset)
                let header = RecordBatch(baseOffset: first.offset, lastOffsetDelta: max(lastDelta, part.lastOffsetDelta), baseTimestamp: first.timestamp,
                                         maxTimestamp: part.base == nil ? 0 : part.maxTimestamp, records: [])
                return .init(index: p.index, error: .none, highWatermark: end, records: part.records.finish(header))
            }))
        }
        return FetchAnswer(topics: answers, bytes: answers.reduce(0) { $0 + $1.partitions.reduce(0) { $0 + $1.records.count } })
    }

    /// Reads the log from the smallest offset `parts` asks for to `end`, adding each record to
    /// its partition's batch while that partition is under its limit and the response under
    /// `budget` bytes; every part ends with where its read stopped. Returns whether the log
    /// could not be read (a damaged record).
    private func scan(_ parts: inout [FetchPart?], end: Int64, budget: Int) -> Bool {
        guard let start = parts.compactMap({ $0?.from }).min(), start < end else { return false }
        let n = parts.count
        var budget = budget
        var failed = false
        var wanted = parts.map { $0 != nil }
        var open = parts.count { $0 != nil }
        var stopAll: Int64?
        do {
            // The export line and the seq header are written into buffers reused for
            // every record, then copied into the partition's batch: no String, array or
            // `OrderEvent` a record.
            var line = JSONBytes(capacity: 1024)
            var seqText = JSONBytes(capacity: 16)
            // The key's partition, computed once: `keyMatches` sees each record just
            // before `body` does.
            var k = 0
            try store.forEachEventView(from: UInt64(start), to: UInt64(end), keyMatches: { key in
                k = KafkaPartitioner.partition(of: key, partitions: n)
                return wanted[k]
            }) { e in
                let position = Int64(e.stored.position)
                // Fields read, not the part copied: a copy alive while its records grow would
                // copy them on every record.
                guard parts[k] != nil, parts[k]!.stoppedAt == nil, position >= parts[k]!.from else { return true }
                let empty = parts[k]!.records.count == 0, size = parts[k]!.size, limit = parts[k]!.limit
                line.removeAll()
                try e.writeExportLine(to: &line)
                let bytes = line.count + e.orderID.count + 48
                let timestamp = e.stored.recordedAt / 1000
                let first = parts[k]!.base ?? (position, timestamp)
                // At least one record a partition, whatever the limits (so a large one is
                // never stuck); offsets in one batch are 32-bit deltas from its base.
                if !empty && (size + bytes > limit || position - first.offset >= Int64(Int32.max) - 1) {
                    parts[k]!.stoppedAt = position
                    open -= 1
                    wanted[k] = false
                    return open > 0
                }
                if !empty && bytes > budget {
                    stopAll = position
                    return false
                }
                parts[k]!.base = first
                seqText.removeAll()
                seqText.unsigned(UInt64(e.stored.seq))
                let delta = Int32(position - first.offset)
                var type = e.event.type.rawValue
                type.withUTF8 { typeBytes in
                    line.withUnsafeBytes { value in
                        seqText.withUnsafeBytes { seq in
                            parts[k]!.records.append(offsetDelta: delta, timestampDelta: timestamp - first.timestamp, key: e.orderID, value: value,
                                                     (Self.typeHeader, UnsafeRawBufferPointer(typeBytes)), (Self.seqHeader, seq))
                        }
                    }
                }
                parts[k]!.lastOffsetDelta = delta
                parts[k]!.size += bytes
                parts[k]!.maxTimestamp = max(parts[k]!.maxTimestamp, timestamp)
                budget -= min(budget, bytes)
                return true
            }
        } catch {
            failed = true
        }
        for k in parts.indices where parts[k] != nil && parts[k]!.stoppedAt == nil { parts[k]!.stoppedAt = stopAll ?? end }
        return failed
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
