import Foundation
import KafkaProtocol
import LogStorage
import OrderModel
import OrderStore
import Testing
@testable import OrderLogServer

/// Requests as a Kafka client writes them (request header v1, the versions librdkafka picks).
enum KafkaRequests {
    static func header(_ w: inout KafkaWriter, _ api: KafkaAPI, _ version: Int16, _ correlation: Int32) {
        w.int16(api.rawValue); w.int16(version); w.int32(correlation); w.nullableString("test")
    }

    static func produce(_ partitions: [(Int32, [UInt8])], acks: Int16 = -1, correlation: Int32 = 7) -> [UInt8] {
        var w = KafkaWriter()
        header(&w, .produce, 8, correlation)
        w.nullableString(nil); w.int16(acks); w.int32(5000)
        w.arrayCount(1); w.string("orders")
        w.arrayCount(partitions.count)
        for (p, records) in partitions { w.int32(p); w.nullableBytes(records) }
        return w.bytes
    }

    static func fetch(_ partitions: [(Int32, Int64)], maxWaitMs: Int32 = 0, version: Int16 = 11, maxBytes: Int32 = 64 << 20, partitionMaxBytes: Int32 = 1 << 20) -> [UInt8] {
        var w = KafkaWriter()
        header(&w, .fetch, version, 9)
        w.int32(-1); w.int32(maxWaitMs); w.int32(1); w.int32(maxBytes); w.int8(0)
        if version >= 7 { w.int32(0); w.int32(-1) }
        w.arrayCount(1); w.string("orders")
        w.arrayCount(partitions.count)
        for (p, offset) in partitions {
            w.int32(p)
            if version >= 9 { w.int32(-1) }
            w.int64(offset)
            if version >= 5 { w.int64(-1) }
            w.int32(partitionMaxBytes)
        }
        if version >= 7 { w.arrayCount(0) }
        if version >= 11 { w.string("") }
        return w.bytes
    }

    /// A batch of records keyed by order id, values the events' JSON lines.
    static func batch(_ events: [OrderEvent]) -> [UInt8] {
        let records = events.enumerated().map { k, e in
            KafkaRecord(offsetDelta: Int32(k), timestampDelta: 0, key: Array(e.orderID.value.utf8), value: Array(e.jsonLine().utf8))
        }
        return RecordBatch(baseOffset: 0, lastOffsetDelta: Int32(records.count - 1), baseTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_000, records: records).encoded()
    }
}

/// `events` by the partition their order id's murmur2 names, each partition's in order.
func eventsByPartition(_ events: [OrderEvent], partitions: Int) -> [Int32: [OrderEvent]] {
    var byPartition: [Int32: [OrderEvent]] = [:]
    for e in events { byPartition[Int32(KafkaPartitioner.partition(of: Array(e.orderID.value.utf8), partitions: partitions)), default: []].append(e) }
    return byPartition
}

/// A fetch response (v11) read back: per partition, its error, high watermark and records.
func readFetch(_ bytes: [UInt8]) throws -> [Int32: (error: Int16, highWatermark: Int64, records: [(offset: Int64, key: String, value: String)])] {
    var r = KafkaReader(bytes)
    _ = try r.int32(); _ = try r.int32(); _ = try r.int16(); _ = try r.int32()
    var out: [Int32: (error: Int16, highWatermark: Int64, records: [(offset: Int64, key: String, value: String)])] = [:]
    let topics = try #require(try r.arrayCount())
    for _ in 0..<topics {
        _ = try r.string()
        let partitions = try #require(try r.arrayCount())
        for _ in 0..<partitions {
            let index = try r.int32(), error = try r.int16(), hw = try r.int64()
            _ = try r.int64(); _ = try r.int64(); _ = try r.arrayCount(); _ = try r.int32()
            let batches = try RecordBatch.decodeAll(try r.nullableBytes() ?? [], decompress: { _, _, _ throws(KafkaError) in throw KafkaError(.unsupportedFormat, "") })
            out[index] = (error, hw, batches.flatMap { b in b.records.map { (b.baseOffset + Int64($0.offsetDelta), String(decoding: $0.key ?? [], as: UTF8.self), String(decoding: $0.value ?? [], as: UTF8.self)) } })
        }
    }
    return out
}

@Suite("Kafka broker, without sockets")
struct KafkaBrokerTests {
    func broker(partitions: Int = 4, parallelFetchRecords: Int64 = 16_384) throws -> (KafkaBroker, OrderStore, String) {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-test-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .none
        let store = try OrderStore.open(path: path, configuration: c)
        var k = KafkaConfiguration()
        k.partitions = partitions
        k.parallelFetchRecords = parallelFetchRecords
        return (KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092), store, path)
    }

    func respond(_ outcome: KafkaBroker.Outcome) throws -> [UInt8] {
        guard case .respond(let bytes) = outcome else { Issue.record("expected a response, got \(outcome)"); return [] }
        return bytes
    }

    @Test("events produced keyed by order id into their partitions come back from every partition's fetch: each once, each order's in order, offsets the log's positions")
    func produceThenFetch() async throws {
        let (broker, store, path) = try broker()
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let events = orderEvents(60, seed: 3)
        // Each event in its key's partition, in batches of up to 40 per partition per request.
        let byPartition = eventsByPartition(events, partitions: 4)
        for (p, list) in byPartition {
            for start in stride(from: 0, to: list.count, by: 40) {
                let bytes = try respond(await broker.handle(KafkaRequests.produce([(p, KafkaRequests.batch(Array(list[start..<min(start + 40, list.count)])))])))
                var r = KafkaReader(bytes)
                _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string(); _ = try r.arrayCount()
                #expect(try r.int32() == p)
                #expect(try r.int16() == 0, "partition \(p)")
            }
        }
        #expect(store.endPosition == UInt64(events.count))
        var fetched: [(offset: Int64, key: String, value: String)] = []
        for p in Int32(0)..<4 {
            var offset: Int64 = 0
            while true {
                let part = try #require(try readFetch(try respond(await broker.handle(KafkaRequests.fetch([(p, offset)]))))[p])
                #expect(part.error == 0 && part.highWatermark == Int64(events.count))
                guard let last = part.records.last else { break }
                for rec in part.records { #expect(KafkaPartitioner.partition(of: Array(rec.key.utf8), partitions: 4) == Int(p)) }
                fetched += part.records
                offset = last.offset + 1
            }
        }
        #expect(fetched.count == events.count)
        #expect(Set(fetched.map(\.offset)) == Set((0..<Int64(events.count))))
        // Each order's events in the order produced; every value is the event's export line.
        let byOffset = Dictionary(uniqueKeysWithValues: fetched.map { ($0.offset, $0) })
        let stored = try store.events(from: 0, limit: events.count)
        for e in stored { #expect(byOffset[Int64(e.position)]?.value == (try e.exportLine())) }
    }

    @Test("a fetch of many partitions read by two scans at once answers byte for byte what one scan answers; under a small response budget every event still comes once, each partition's in order")
    func parallelFetchMatchesOneScan() async throws {
        let (parallel, store, path) = try broker(partitions: 5, parallelFetchRecords: 1)
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let events = orderEvents(400, seed: 11)
        for start in stride(from: 0, to: events.count, by: 500) {
            _ = try await store.append(events[start..<min(start + 500, events.count)].map { AppendEvent($0) })
        }
        var k = KafkaConfiguration()
        k.partitions = 5
        k.parallelFetchRecords = .max
        let single = KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092)
        let all = (Int32(0)..<5).map { ($0, Int64(0)) }
        // Partition limits binding, the response's not: the same bytes, fetch after fetch.
        var offsets = all
        var rounds = 0
        while true {
            let request = KafkaRequests.fetch(offsets, partitionMaxBytes: 16 << 10)
            let a = try respond(await parallel.handle(request)), b = try respond(await single.handle(request))
            #expect(a == b, "round \(rounds)")
            let parts = try readFetch(a)
            guard parts.values.contains(where: { !$0.records.isEmpty }) else { break }
            offsets = offsets.map { p, o in (p, parts[p]?.records.last.map { $0.offset + 1 } ?? o) }
            rounds += 1
        }
        #expect(rounds > 1)
        // A response budget smaller than what the partitions would take: split between the two
        // scans; read to the end, each event once and each partition's in log order.
        offsets = all
        var seen: [Int32: [Int64]] = [:]
        while true {
            let parts = try readFetch(try respond(await parallel.handle(KafkaRequests.fetch(offsets, maxBytes: 24 << 10, partitionMaxBytes: 1 << 20))))
            guard parts.values.contains(where: { !$0.records.isEmpty }) else { break }
            for (p, part) in parts {
                for r in part.records { #expect(KafkaPartitioner.partition(of: Array(r.key.utf8), partitions: 5) == Int(p)) }
                seen[p, default: []] += part.records.map(\.offset)
            }
            offsets = offsets.map { p, o in (p, parts[p]?.records.last.map { $0.offset + 1 } ?? o) }
        }
        #expect(seen.values.flatMap { $0 }.sorted() == Array(0..<Int64(events.count)))
        for list in seen.values { #expect(list == list.sorted()) }
        // Partitions already at the end take no share: with one partition left to read, the
        // budget is all its own, as one scan gives it.
        let end = Int64(store.endPosition)
        let oneLeft = KafkaRequests.fetch([(0, 0), (1, end), (2, end)], maxBytes: 24 << 10)
        #expect(try respond(await parallel.handle(oneLeft)) == (try respond(await single.handle(oneLeft))))
    }

    @Test("a produce of several partitions, read on two threads, stores each partition's batch or refuses it alone: a record that is not an event fails its own partition, naming it, and the others are stored in order")
    func produceManyPartitionsAtOnce() async throws {
        let (broker, store, path) = try broker(partitions: 4)
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let events = orderEvents(120, seed: 9)
        let byPartition = eventsByPartition(events, partitions: 4)
        // Partition 2's batch carries one record that is not an event, at index 5.
        var batches: [(Int32, [UInt8])] = []
        for p in Int32(0)..<4 {
            let list = try #require(byPartition[p])
            var records = list.enumerated().map { k, e in
                KafkaRecord(offsetDelta: Int32(k), timestampDelta: 0, key: Array(e.orderID.value.utf8), value: Array(e.jsonLine().utf8))
            }
            if p == 2 { records[5].value = Array("{not an event".utf8) }
            batches.append((p, RecordBatch(baseOffset: 0, lastOffsetDelta: Int32(records.count - 1), baseTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_000, records: records).encoded()))
        }
        #expect(batches.reduce(0) { $0 + $1.1.count } >= KafkaBroker.parallelReadBytes)
        let bytes = try respond(await broker.handle(KafkaRequests.produce(batches)))
        var r = KafkaReader(bytes)
        _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string()
        var errors: [Int32: (code: Int16, recordErrors: [Int32], message: String?)] = [:]
        for _ in 0..<(try r.arrayCount() ?? 0) {
            let index = try r.int32(), code = try r.int16()
            _ = try r.int64(); _ = try r.int64(); _ = try r.int64()
            var recordErrors: [Int32] = []
            for _ in 0..<(try r.arrayCount() ?? 0) { recordErrors.append(try r.int32()); _ = try r.nullableString() }
            errors[index] = (code, recordErrors, try r.nullableString())
        }
        for p in Int32(0)..<4 where p != 2 { #expect(errors[p]?.code == 0, "partition \(p)") }
        #expect(errors[2]?.code == KafkaErrorCode.invalidRecord.rawValue)
        #expect(errors[2]?.recordErrors == [5])
        #expect(errors[2]?.message?.hasPrefix("record 5: ") == true)
        // Stored: every event of the other partitions, none of partition 2's.
        let stored = try store.events(from: 0, limit: events.count)
        let expected = events.filter { KafkaPartitioner.partition(of: Array($0.orderID.value.utf8), partitions: 4) != 2 }
        #expect(stored.count == expected.count)
        #expect(Set(stored.map { $0.event.orderID }) == Set(expected.map(\.orderID)))
        for id in Set(expected.map(\.orderID)) {
            #expect(stored.filter { $0.event.orderID == id }.map(\.event) == expected.filter { $0.orderID == id })
        }
    }

    @Test("a produce read ahead by prepare is answered and stored as one read on its turn; one read for another role (recorded_at allowed) is read again for the session's")
    func preparedProduceAnswersAsOnItsTurn() async throws {
        let (broker, store, path) = try broker(partitions: 1)
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let events = orderEvents(10, seed: 4)
        let frame = KafkaRequests.produce([(0, KafkaRequests.batch(Array(events[..<20])))])
        var admin = broker.newSession()
        let prepared = try #require(broker.prepare(frame, mayAppend: true, keepRecordedTime: true))
        let a = try respond(await broker.handle(frame, session: &admin, prepared: prepared))
        #expect(store.endPosition == 20)
        // The same answer as the request read on its turn, on a store of its own.
        let (plain, plainStore, plainPath) = try self.broker(partitions: 1)
        defer { try? plainStore.close(); try? FileManager.default.removeItem(atPath: plainPath) }
        #expect(try respond(await plain.handle(frame)) == a)
        #expect(try plainStore.events(from: 0, limit: 20).map { $0.event } == (try store.events(from: 0, limit: 20).map { $0.event }))
        // Not a produce, or a connection that may not append: nothing is read ahead.
        #expect(broker.prepare(KafkaRequests.fetch([(0, 0)]), mayAppend: true, keepRecordedTime: true) == nil)
        #expect(broker.prepare(frame, mayAppend: false, keepRecordedTime: false) == nil)
        // A record with recorded_at, read ahead as admin, answered for a producer: refused.
        let stamped = events[20]
        var text = stamped.jsonLine()
        text.removeLast()
        let line = Array((text + ",\"recorded_at\":\"2023-11-14T22:13:20Z\"}").utf8)
        let record = KafkaRecord(offsetDelta: 0, timestampDelta: 0, key: Array(stamped.orderID.value.utf8), value: line)
        let stampedFrame = KafkaRequests.produce([(0, RecordBatch(baseOffset: 0, lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0, records: [record]).encoded())])
        var producer = KafkaBroker.Session(role: .producer)
        let asAdmin = try #require(broker.prepare(stampedFrame, mayAppend: true, keepRecordedTime: true))
        let answer = try respond(await broker.handle(stampedFrame, session: &producer, prepared: asAdmin))
        #expect(String(decoding: answer, as: UTF8.self).contains("only role admin may set recorded_at"))
        #expect(store.endPosition == 20)
    }

    @Test("a produce of several compressed partitions, read on two threads, stores every one (they share the request's decompression budget without taking each other's)")
    func compressedPartitionsAtOnce() async throws {
        let (broker, store, path) = try broker(partitions: 4)
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let events = orderEvents(400, seed: 13)
        let byPartition = eventsByPartition(events, partitions: 4)
        var batches: [(Int32, [UInt8])] = []
        for (k, p) in byPartition.keys.sorted().enumerated() {
            let records = byPartition[p]!.enumerated().map { n, e in
                KafkaRecord(offsetDelta: Int32(n), timestampDelta: 0, key: Array(e.orderID.value.utf8), value: Array(e.jsonLine().utf8))
            }
            let codec: RecordBatch.Compression = [.lz4, .zstd, .gzip, .snappy][k % 4]
            batches.append((p, RecordBatch(baseOffset: 0, lastOffsetDelta: Int32(records.count - 1), baseTimestamp: 0, maxTimestamp: 0, records: records).encoded(compression: codec)))
        }
        #expect(batches.reduce(0) { $0 + $1.1.count } >= KafkaBroker.parallelReadBytes)
        let bytes = try respond(await broker.handle(KafkaRequests.produce(batches)))
        var r = KafkaReader(bytes)
        _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string()
        for _ in 0..<(try r.arrayCount() ?? 0) {
            let index = try r.int32(), code = try r.int16()
            #expect(code == 0, "partition \(index)")
            _ = try r.int64(); _ = try r.int64(); _ = try r.int64()
            for _ in 0..<(try r.arrayCount() ?? 0) { _ = try r.int32(); _ = try r.nullableString() }
            _ = try r.nullableString()
        }
        #expect(store.endPosition == UInt64(events.count))
    }

    @Test("a record that breaks a rule fails its partition's batch with INVALID_RECORD naming the record and the rule, and nothing of that batch is stored")
    func ruleBreakingRecordIsRefused() async throws {
        let (broker, store, path) = try broker(partitions: 1)
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        let good = placedOrder("ORD-1")
        let orphan = OrderEvent(orderID: try OrderID("ORD-2"), data: .orderCancelled(reason: "x"))
        let bytes = try respond(await broker.handle(KafkaRequests.produce([(0, KafkaRequests.batch([good, orphan]))])))
        var r = KafkaReader(bytes)
        _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string(); _ = try r.arrayCount(); _ = try r.int32()
        #expect(try r.int16() == KafkaErrorCode.invalidRecord.rawValue)
        _ = try r.int64(); _ = try r.int64(); _ = try r.int64()
        let errors = try #require(try r.arrayCount())
        #expect(errors == 1)
        #expect(try r.int32() == 1)
        let message = try #require(try r.nullableString())
        #expect(message.contains("order_not_found") || message.contains("ORD-2"), "\(message)")
        #expect(store.endPosition == 0)
        // A record whose key is not its event's order id is refused the same way.
        var wrongKey = KafkaRequests.batch([good])
        wrongKey = RecordBatch(baseOffset: 0, lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0,
                               records: [KafkaRecord(offsetDelta: 0, timestampDelta: 0, key: Array("ORD-9".utf8), value: Array(good.jsonLine().utf8))]).encoded()
        let second = try respond(await broker.handle(KafkaRequests.produce([(0, wrongKey)])))
        #expect(String(decoding: second, as: UTF8.self).contains("is not its event's order_id"))
        #expect(store.endPosition == 0)
    }

    @Test("ApiVersions above ours is answered in the v0 layout with UNSUPPORTED_VERSION; an API not served, or bytes that do not read, close the connection")
    func versionsAndHostileRequests() async throws {
        let (broker, store, path) = try broker()
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        var w = KafkaWriter()
        KafkaRequests.header(&w, .apiVersions, 9, 5)
        let answer = try respond(await broker.handle(w.bytes))
        var r = KafkaReader(answer)
        #expect(try r.int32() == 5)
        #expect(try r.int16() == KafkaErrorCode.unsupportedVersion.rawValue)
        var v3 = KafkaWriter()
        v3.int16(18); v3.int16(3); v3.int32(6); v3.nullableString("kcat"); v3.emptyTaggedFields()
        v3.string("librdkafka", compact: true); v3.string("2.0", compact: true); v3.emptyTaggedFields()
        var r3 = KafkaReader(try respond(await broker.handle(v3.bytes)))
        #expect(try r3.int32() == 6)
        #expect(try r3.int16() == 0)
        #expect(try r3.arrayCount(compact: true) == KafkaAPI.allCases.count)
        var unknown = KafkaWriter()
        unknown.int16(32); unknown.int16(0); unknown.int32(1); unknown.nullableString(nil)
        guard case .close = await broker.handle(unknown.bytes) else { Issue.record("an API not served must close"); return }
        for garbage in [[UInt8](), [0, 3], [0, 0, 0, 8, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF], KafkaRequests.produce([(0, [1, 2, 3])]).dropLast(2).map { $0 }] {
            let outcome = await broker.handle(garbage)
            if case .respond(let bytes) = outcome {
                // A produce whose records do not read is answered per partition, not closed.
                #expect(bytes.count > 8)
            }
        }
        #expect(store.endPosition == 0)
    }
}

@Suite("Kafka SASL/PLAIN and roles, without sockets")
struct KafkaSaslTests {
    func broker() throws -> (KafkaBroker, OrderStore, String) {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-sasl-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .none
        let store = try OrderStore.open(path: path, configuration: c)
        let access = AccessPolicy(tokens: ["producer-token-0123456789": .producer, "consumer-token-0123456789": .consumer])
        return (KafkaBroker(store: store, configuration: KafkaConfiguration(), host: "127.0.0.1", port: 9092, access: access), store, path)
    }

    func authenticate(_ token: String, version: Int16 = 1) -> [UInt8] {
        var w = KafkaWriter()
        KafkaRequests.header(&w, .saslAuthenticate, version, 3)
        w.nullableBytes(Array("\u{0}user\u{0}\(token)".utf8))
        return w.bytes
    }

    func handshake(version: Int16) -> [UInt8] {
        var w = KafkaWriter()
        KafkaRequests.header(&w, .saslHandshake, version, 2)
        w.string("PLAIN")
        return w.bytes
    }

    @Test("with tokens, nothing but the handshake is read before SASL/PLAIN names a token; the token's role then decides (a consumer may not produce, a producer may not fetch nor set recorded_at)")
    func rolesAfterAuthentication() async throws {
        let (broker, store, path) = try broker()
        defer { try? store.close(); try? FileManager.default.removeItem(atPath: path) }
        var session = broker.newSession()
        let produce = KafkaRequests.produce([(0, KafkaRequests.batch([placedOrder("ORD-1")]))])
        guard case .close = await broker.handle(produce, session: &session) else { Issue.record("a request before authentication must close"); return }
        _ = await broker.handle(handshake(version: 1), session: &session)
        // A wrong token is answered, then the connection closed (no guessing on one connection).
        guard case .respondAndClose(let refused, _) = await broker.handle(authenticate("not-a-token-000000000"), session: &session) else { Issue.record("no answer and close"); return }
        var r = KafkaReader(refused)
        _ = try r.int32()
        #expect(try r.int16() == KafkaErrorCode.saslAuthenticationFailed.rawValue)
        #expect(session.role == nil)
        session = broker.newSession()
        _ = await broker.handle(handshake(version: 1), session: &session)
        _ = await broker.handle(authenticate("consumer-token-0123456789"), session: &session)
        #expect(session.role == .consumer)
        guard case .respond(let answer) = await broker.handle(produce, session: &session) else { Issue.record("no answer"); return }
        var p = KafkaReader(answer)
        _ = try p.int32(); _ = try p.arrayCount(); _ = try p.string(); _ = try p.arrayCount(); _ = try p.int32()
        #expect(try p.int16() == KafkaErrorCode.topicAuthorizationFailed.rawValue)
        #expect(store.endPosition == 0)
        // A v0 handshake: the next frame is the bare token.
        var producer = broker.newSession()
        _ = await broker.handle(handshake(version: 0), session: &producer)
        #expect(producer.awaitingRawToken)
        #expect(broker.authenticateRaw(Array("\u{0}u\u{0}producer-token-0123456789".utf8), session: &producer) == .respond([]))
        #expect(producer.role == .producer)
        guard case .respond = await broker.handle(produce, session: &producer) else { Issue.record("no answer"); return }
        #expect(store.endPosition == 1)
        let fetched = try readFetch(try #require({ if case .respond(let b) = $0 { b } else { nil } }(await broker.handle(KafkaRequests.fetch([(0, 0)]), session: &producer))))
        #expect(fetched[0]?.error == KafkaErrorCode.topicAuthorizationFailed.rawValue)
        // A producer may not set recorded_at (when the log learned of an event): as on every way in.
        let backdated = RecordBatch(baseOffset: 0, lastOffsetDelta: 0, baseTimestamp: 0, maxTimestamp: 0, records: [
            KafkaRecord(offsetDelta: 0, timestampDelta: 0, key: Array("ORD-2".utf8),
                        value: Array(#"{"order_id":"ORD-2","type":"OrderPlaced","recorded_at":"2020-01-01T00:00:00Z","data":{"customer_id":"C","channel":"web","currency":"EUR","lines":[{"sku":"A","qty":1,"unit_price_minor":1}]}}"#.utf8)),
        ]).encoded()
        guard case .respond(let refusal) = await broker.handle(KafkaRequests.produce([(0, backdated)]), session: &producer) else { Issue.record("no answer"); return }
        var b = KafkaReader(refusal)
        _ = try b.int32(); _ = try b.arrayCount(); _ = try b.string(); _ = try b.arrayCount(); _ = try b.int32()
        #expect(try b.int16() == KafkaErrorCode.invalidRecord.rawValue)
        #expect(store.endPosition == 1)
    }
}


@Suite("Kafka idempotent producers, without sockets")
struct KafkaIdempotenceTests {
    func batch(_ events: [OrderEvent], producer: Int64, epoch: Int16 = 0, sequence: Int32) -> [UInt8] {
        var b = RecordBatch(baseOffset: 0, lastOffsetDelta: Int32(events.count - 1), baseTimestamp: 0, maxTimestamp: 0, records: events.enumerated().map { k, e in
            KafkaRecord(offsetDelta: Int32(k), timestampDelta: 0, key: Array(e.orderID.value.utf8), value: Array(e.jsonLine().utf8))
        })
        b.producerID = producer
        b.producerEpoch = epoch
        b.baseSequence = sequence
        return b.encoded()
    }

    func produceError(_ broker: KafkaBroker, _ records: [UInt8]) async throws -> (error: Int16, baseOffset: Int64) {
        guard case .respond(let bytes) = await broker.handle(KafkaRequests.produce([(0, records)])) else { Issue.record("no answer"); return (-99, -1) }
        var r = KafkaReader(bytes)
        _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string(); _ = try r.arrayCount(); _ = try r.int32()
        return (try r.int16(), try r.int64())
    }

    @Test("a retried batch of an idempotent producer is answered with its first answer and stored once — after a restart too; a gap or an old epoch is refused")
    func retriesAreStoredOnce() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-idem-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var c = StoreConfiguration()
        c.log.durability = .none
        var k = KafkaConfiguration()
        k.partitions = 1
        var store = try OrderStore.open(path: path, configuration: c)
        var broker = KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092)
        var w = KafkaWriter()
        KafkaRequests.header(&w, .initProducerID, 1, 4)
        w.nullableString(nil); w.int32(60_000)
        guard case .respond(let init1) = await broker.handle(w.bytes) else { Issue.record("no answer"); return }
        var r = KafkaReader(init1)
        _ = try r.int32(); _ = try r.int32()
        #expect(try r.int16() == 0)
        let producer = try r.int64()
        #expect(producer > 0)
        let first = batch([placedOrder("ORD-1"), placedOrder("ORD-2")], producer: producer, sequence: 0)
        let stored = try await produceError(broker, first)
        #expect(stored.error == 0 && stored.baseOffset == 0)
        // The same batch again (its answer was lost): the first answer, nothing stored.
        #expect(try await produceError(broker, first) == (0, 0))
        #expect(store.endPosition == 2)
        // A gap in the sequence: refused, nothing stored.
        let gap = batch([placedOrder("ORD-3")], producer: producer, sequence: 5)
        #expect(try await produceError(broker, gap).error == KafkaErrorCode.outOfOrderSequenceNumber.rawValue)
        #expect(try await produceError(broker, batch([placedOrder("ORD-3")], producer: producer, epoch: 3, sequence: 2)).error == KafkaErrorCode.invalidProducerEpoch.rawValue)
        #expect(store.endPosition == 2)
        // After a restart, the retry is still recognised, and the next batch is in order.
        try store.close()
        store = try OrderStore.open(path: path, configuration: c)
        defer { try? store.close() }
        broker = KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092)
        #expect(try await produceError(broker, first) == (0, 0))
        #expect(store.endPosition == 2)
        #expect(try await produceError(broker, batch([placedOrder("ORD-3")], producer: producer, sequence: 2)) == (0, 2))
        #expect(store.endPosition == 3)
    }

    @Test("the same idempotent batch sent on two connections at once is stored once, and both are answered with its offset")
    func racingRetriesAreStoredOnce() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-race-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var c = StoreConfiguration()
        c.log.durability = .always  // the first try waits for its fsync: the retry arrives meanwhile
        var k = KafkaConfiguration()
        k.partitions = 1
        let store = try OrderStore.open(path: path, configuration: c)
        defer { try? store.close() }
        let broker = KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092)
        var w = KafkaWriter()
        KafkaRequests.header(&w, .initProducerID, 1, 4)
        w.nullableString(nil); w.int32(60_000)
        guard case .respond(let answer) = await broker.handle(w.bytes) else { Issue.record("no answer"); return }
        var r = KafkaReader(answer)
        _ = try r.int32(); _ = try r.int32(); _ = try r.int16()
        let producer = try r.int64()
        for round in 0..<20 {
            let events = (0..<50).map { placedOrder("RACE-\(round)-\($0)") }
            let one = batch(events, producer: producer, sequence: Int32(round * 50))
            async let a = produceError(broker, one)
            async let b = produceError(broker, one)
            let (x, y) = try await (a, b)
            #expect(x.error == 0 && y.error == 0, "round \(round)")
            #expect(x.baseOffset == y.baseOffset, "round \(round)")
            #expect(store.endPosition == UInt64((round + 1) * 50), "round \(round): stored once")
        }
    }

    @Test("a producer silent past a day is forgotten (UNKNOWN_PRODUCER_ID), and past the cap the least recently used gives way to a new one")
    func producersExpire() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-producers-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let day = KafkaProducers.expiration
        let producers = KafkaProducers(directory: directory, producersMax: 3)
        let t0: Int64 = 1_800_000_000_000
        let a = try producers.newProducer(now: t0)
        let b = try producers.newProducer(now: t0 + 1)
        let c = try producers.newProducer(now: t0 + 2)
        try producers.record(producer: a.id, epoch: 0, partition: 0, base: 0, count: 1, baseOffset: 0, now: t0 + 10)
        // Full: a fourth takes the place of the least recently used (b), not of a (used since).
        let d = try producers.newProducer(now: t0 + 20)
        #expect(producers.verdict(producer: b.id, epoch: 0, partition: 0, base: 0, count: 1, now: t0 + 21) == .unknownProducer)
        #expect(producers.verdict(producer: a.id, epoch: 0, partition: 0, base: 1, count: 1, now: t0 + 21) == .new)
        #expect(producers.verdict(producer: c.id, epoch: 0, partition: 0, base: 0, count: 1, now: t0 + 21) == .new)
        // A day of silence: c is forgotten; d, used meanwhile, is not.
        try producers.record(producer: d.id, epoch: 0, partition: 0, base: 0, count: 1, baseOffset: 1, now: t0 + day)
        #expect(producers.verdict(producer: c.id, epoch: 0, partition: 0, base: 0, count: 1, now: t0 + 2 + day) == .unknownProducer)
        #expect(producers.verdict(producer: d.id, epoch: 0, partition: 0, base: 1, count: 1, now: t0 + 2 + day) == .new)
        // And after a restart (the file read again), the same.
        let again = KafkaProducers(directory: directory, producersMax: 3)
        #expect(again.verdict(producer: d.id, epoch: 0, partition: 0, base: 0, count: 1, now: t0 + 2 + day) == .duplicate(baseOffset: 1))
        #expect(again.verdict(producer: b.id, epoch: 0, partition: 0, base: 0, count: 1, now: t0 + 2 + day) == .unknownProducer)
    }
}

@Suite("Kafka requests with extreme values, without sockets")
struct KafkaExtremeRequestTests {
    @Test("list offsets at the largest time answers −1 (no trap); a fetch naming one partition 200 times answers its records once")
    func extremes() async throws {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-extreme-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var c = StoreConfiguration()
        c.log.durability = .none
        let store = try OrderStore.open(path: path, configuration: c)
        defer { try? store.close() }
        var k = KafkaConfiguration()
        k.partitions = 1
        let broker = KafkaBroker(store: store, configuration: k, host: "127.0.0.1", port: 9092)
        _ = await broker.handle(KafkaRequests.produce([(0, KafkaRequests.batch(orderEvents(30)))]))
        #expect(store.endPosition > 0)
        for timestamp in [Int64.max, Int64.max / 1000 + 1, -3] {
            var w = KafkaWriter()
            KafkaRequests.header(&w, .listOffsets, 5, 8)
            w.int32(-1); w.int8(0); w.arrayCount(1); w.string("orders"); w.arrayCount(1); w.int32(0); w.int32(-1); w.int64(timestamp)
            guard case .respond(let bytes) = await broker.handle(w.bytes) else { Issue.record("no answer"); continue }
            var r = KafkaReader(bytes)
            _ = try r.int32(); _ = try r.int32(); _ = try r.arrayCount(); _ = try r.string(); _ = try r.arrayCount(); _ = try r.int32()
            #expect(try r.int16() == 0)
            _ = try r.int64()
            #expect(try r.int64() == -1)
        }
        let once = try #require({ if case .respond(let b) = $0 { b } else { nil } }(await broker.handle(KafkaRequests.fetch([(0, 0)]))))
        let repeated = try #require({ if case .respond(let b) = $0 { b } else { nil } }(await broker.handle(KafkaRequests.fetch(Array(repeating: (0, 0), count: 200)))))
        #expect(repeated.count < once.count + 200 * 64)
    }
}
