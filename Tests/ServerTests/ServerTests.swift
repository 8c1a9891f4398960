import Foundation
import LogStorage
import NIOCore
import NIOPosix
import OrderModel
import OrderStore
import OrderWorkload
import Testing
import WireProtocol
@testable import OrderLogClient
@testable import OrderLogServer

/// A store and a server on a free loopback port, shut down at the end of the test.
final class ServerFixture: @unchecked Sendable {
    let path: String
    let store: OrderStore
    let server: OrderLogServer
    let running: Task<Void, any Error>

    init(limits: WireLimits = WireLimits(), access: AccessPolicy = AccessPolicy(), handshakeTimeout: Duration = .seconds(10),
         path: String? = nil, port: Int = 0) async throws {
        self.path = path ?? FileManager.default.temporaryDirectory.path + "/orderlog-server-test-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .always
        store = try OrderStore.open(path: self.path, configuration: c)
        var sc = ServerConfiguration()
        sc.port = port
        sc.limits = limits
        sc.access = access
        sc.handshakeTimeout = handshakeTimeout
        server = try await OrderLogServer.bind(store: store, configuration: sc)
        let server = self.server
        running = Task { try await server.run() }
    }

    func client(_ name: String = "test", token: String = "") async throws -> OrderLogClient {
        try await OrderLogClient.connect(port: server.port, clientName: name, token: token)
    }

    func stop(keepData: Bool = false) async {
        await server.shutdown()
        running.cancel()
        _ = await running.result
        try? store.close()
        if !keepData { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// Sends raw bytes on a new connection and collects the frames the server sends back until it
/// closes the connection.
func rawExchange(port: Int, _ bytes: [UInt8], maxFrameBytes: Int = 1 << 20) async throws -> [Frame] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { ch in
            ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(bytes: bytes))
        var decoder = FrameDecoder(maxFrameBytes: maxFrameBytes)
        var frames: [Frame] = []
        for try await buffer in inbound {
            decoder.append(buffer.readableBytesView)
            while let f = try decoder.next() { frames.append(f) }
        }
        return frames
    }
}

/// An OrderPlaced of one line (A, 1 × 100): the smallest valid order.
func placedOrder(_ id: String, customer: String = "C1", channel: String = "web", currency: String = "EUR") -> OrderEvent {
    OrderEvent(orderID: try! OrderID(id), data: .orderPlaced(customerID: customer, channel: channel, currency: currency,
                                                             lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 100)], shippingMinor: nil, taxMinor: nil, discountMinor: nil))
}

/// A server whose frames are at most 4 KiB: paging and splitting show on small data.
func smallFrameServer() async throws -> ServerFixture {
    var limits = WireLimits()
    limits.maxFrameBytes = 4096
    return try await ServerFixture(limits: limits)
}

func orderEvents(_ orders: Int, seed: UInt64 = 1) -> [OrderEvent] {
    var o = OrderWorkloadGenerator.Options()
    o.orders = orders
    o.seed = seed
    o.inFlight = 20
    var events: [OrderEvent] = []
    OrderWorkloadGenerator(options: o).generate { events.append($0) }
    return events
}

@Suite("Server and client over loopback", .serialized)
struct ServerTests {
    @Test("a producer's appends come back through snapshot, history and the lists")
    func endToEnd() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        let events = orderEvents(50)
        var results: [ClientAppendResult] = []
        for start in stride(from: 0, to: events.count, by: 100) {
            results += try await client.append(Array(events[start..<min(events.count, start + 100)]))
        }
        #expect(results.count == events.count)
        #expect(results.allSatisfy { if case .stored = $0 { true } else { false } })
        let id = events[0].orderID.value
        let json = try #require(try await client.snapshotJSON(id))
        #expect(json.contains("\"order_id\":\"\(id)\""))
        let history = try await client.history(id)
        #expect(history.map(\.event) == events.filter { $0.orderID.value == id }.map { e in var e = e; if e.ts == nil { e.ts = history[0].event.ts }; return e })
        #expect(try await client.snapshotJSON("NO-SUCH") == nil)
        let delivered = try await client.orders(status: "delivered")
        #expect(delivered.total == f.store.orders(withStatus: .delivered).count)
        // The same batch again: nothing new, original positions.
        let again = try await client.append(Array(events[0..<10]))
        #expect(again.allSatisfy { if case .duplicate = $0 { true } else { false } })
        await client.close()
        await f.stop()
    }

    @Test("a rule-breaking batch is rejected with the rule's code and the event's index; nothing is stored")
    func rejected() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        let id = try OrderID("O-1")
        let placed = OrderEvent(orderID: id, data: .orderPlaced(customerID: "C", channel: "web", currency: "USD",
                                                                  lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 100)], shippingMinor: nil, taxMinor: nil, discountMinor: nil))
        let capture = OrderEvent(orderID: id, data: .paymentCaptured(paymentID: "P", amountMinor: 5))
        do {
            _ = try await client.append([placed, capture])
            Issue.record("a capture of a payment never authorized was accepted")
        } catch let error as ClientError {
            #expect(error.code == "unknown_payment")
            #expect(error.eventIndex == 1)
        }
        #expect(f.store.log.endPosition.rawValue == 0)
        await client.close()
        await f.stop()
    }

    @Test("a subscriber started mid-stream while producers append receives every event exactly once, in order")
    func subscriberMidStream() async throws {
        let f = try await ServerFixture()
        let producer = try await f.client("producer")
        let consumer = try await f.client("consumer")
        let events = orderEvents(200, seed: 9)
        let half = events.count / 2
        for start in stride(from: 0, to: half, by: 50) { _ = try await producer.append(Array(events[start..<min(half, start + 50)])) }
        let stream = try await consumer.subscribe(from: .position(0), credits: 64)
        async let produced: Void = {
            for start in stride(from: half, to: events.count, by: 50) { _ = try await producer.append(Array(events[start..<min(events.count, start + 50)])) }
        }()
        var received: [StoredEvent] = []
        for try await e in stream {
            received.append(e)
            if received.count == events.count { break }
        }
        try await produced
        #expect(received.map(\.position) == Array(0..<UInt64(events.count)))
        #expect(received.map(\.event.orderID) == events.map(\.orderID))
        await producer.close()
        await consumer.close()
        await f.stop()
    }

    @Test("a subscription filters by event type and order id prefix, and starts at the end when asked")
    func filters() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        let events = orderEvents(30)
        _ = try await client.append(Array(events[0..<100]))
        let shipped = try await client.subscribe(from: .position(0), types: [.shipped], orderPrefix: "ORD-0000001")
        let live = try await client.subscribe(from: .end)
        _ = try await client.append(Array(events[100...]))
        var fromEnd: [StoredEvent] = []
        for try await e in live { fromEnd.append(e); if fromEnd.count == events.count - 100 { break } }
        #expect(fromEnd.first?.position == 100)
        let expected = events.filter { $0.type == .shipped && $0.orderID.value.hasPrefix("ORD-0000001") }
        var filtered: [StoredEvent] = []
        for try await e in shipped { filtered.append(e); if filtered.count == expected.count { break } }
        #expect(filtered.map(\.event.orderID) == expected.map(\.orderID))
        await client.close()
        await f.stop()
    }

    @Test("a connection that never says HELLO is closed after the handshake deadline")
    func handshakeDeadline() async throws {
        let f = try await ServerFixture(handshakeTimeout: .milliseconds(200))
        let started = ContinuousClock.now
        let frames = try await rawExchange(port: f.server.port, [])  // sends nothing, waits for the close
        #expect(frames.isEmpty)
        #expect(ContinuousClock.now - started < .seconds(5))
        await f.stop()
    }

    @Test("a filter that matches little, over a log longer than one scan pass, still finds every match")
    func sparseFilterAcrossPasses() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        let events = orderEvents(3500, seed: 4)
        for start in stride(from: 0, to: events.count, by: 5000) { _ = try await client.append(Array(events[start..<min(events.count, start + 5000)])) }
        #expect(events.count > 20_000)
        let expected = events.filter { $0.type == .returnReceived }
        var got: [StoredEvent] = []
        for try await e in try await client.subscribe(from: .position(0), types: [.returnReceived], follow: false) { got.append(e) }
        #expect(got.map(\.event.orderID) == expected.map(\.orderID))
        await client.close()
        await f.stop()
    }

    @Test("a record subscription delivers every stored event's bytes in log order, frame by frame, and ends when caught up")
    func recordSubscription() async throws {
        let f = try await ServerFixture(limits: WireLimits(maxCredits: 500))
        let client = try await f.client()
        let events = orderEvents(400, seed: 9)
        for start in stride(from: 0, to: events.count, by: 1000) { _ = try await client.append(Array(events[start..<min(events.count, start + 1000)])) }
        var got: [WireStoredEvent] = []
        var batches = 0
        for try await batch in try await client.subscribeRecords(from: .position(0), credits: 200, follow: false) {
            #expect(batch.count <= 200)
            batches += 1
            got += batch
        }
        #expect(got.map(\.position) == Array(0..<UInt64(events.count)))
        #expect(batches >= events.count / 200)
        // The bytes are the stored ones: they decode to the events appended.
        let decoded = try got.map { w in try w.payload.withUnsafeBytes { try OrderEvent.decodeBinary(orderID: OrderID(w.orderID), type: EventType(code: w.type)!, $0) } }
        #expect(decoded.map(\.orderID) == events.map(\.orderID))
        #expect(decoded.map(\.type) == events.map(\.type))
        await client.close()
        await f.stop()
    }

    @Test("pipelined on one connection: an APPEND's refusal comes before the answer to a later request, and a later read sees the APPENDs before it")
    func appendOrderingOnOneConnection() async throws {
        let f = try await ServerFixture()
        func wire(_ e: OrderEvent) -> WireEvent { WireEvent(orderID: e.orderID.value, type: e.type.code, payload: e.encodeBinary()) }
        let orphan = OrderEvent(orderID: try OrderID("NONE"), data: .noteAdded(text: "no order"))
        var bytes = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "t", token: "")).encoded()
        bytes += Frame(requestID: 2, message: .append([wire(orphan)])).encoded()
        // A batch written after the refused one: its write must not let the PING's answer
        // overtake the refusal.
        bytes += Frame(requestID: 7, message: .append([wire(placedOrder("RYW-0"))])).encoded()
        bytes += Frame(requestID: 3, message: .ping(nonce: 9)).encoded()
        bytes += Frame(requestID: 4, message: .append([wire(placedOrder("RYW-1"))])).encoded()
        bytes += Frame(requestID: 5, message: .getSnapshot(orderID: "RYW-1", asOf: .now, offset: 0)).encoded()
        bytes += Frame(requestID: 6, message: .close(reason: "done")).encoded()
        let frames = try await rawExchange(port: f.server.port, bytes)
        let ids = frames.map(\.requestID)
        let rejected = try #require(ids.firstIndex(of: 2)), pong = try #require(ids.firstIndex(of: 3))
        #expect(rejected < pong)
        if case .appendRejected(_, let code, _) = frames[rejected].message { #expect(code == "first_event_not_placed") } else { Issue.record("\(frames[rejected])") }
        let snapshot = try #require(frames.first { $0.requestID == 5 })
        guard case .snapshot(let found, _, _, _) = snapshot.message else { Issue.record("\(snapshot)"); return }
        #expect(found, "a read after an APPEND on the same connection did not see it")
        #expect(frames.contains { if case .appended = $0.message { $0.requestID == 4 } else { false } })
        if case .close = frames.last?.message {} else { Issue.record("no CLOSE last: \(frames.last.map { "\($0)" } ?? "nothing")") }
        await f.stop()
    }

    @Test("malformed and hostile frames get an error frame and a closed connection; other clients keep being served")
    func hostileFrames() async throws {
        let f = try await ServerFixture()
        let good = try await f.client("good")
        let cases: [([UInt8], String)] = [
            ([0, 0, 0, 3, 1, 1, 0, 0], "malformed_frame"),
            ([0xFF, 0xFF, 0xFF, 0xFF], "frame_too_large"),
            (Frame(requestID: 1, message: .ping(nonce: 1)).encoded(), "handshake_required"),
            (Frame(requestID: 1, message: .hello(protocolVersion: 9, clientName: "x", token: "")).encoded(), "unsupported_version"),
            (Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), "frame_too_large"),
        ]
        for (bytes, code) in cases {
            let frames = try await rawExchange(port: f.server.port, bytes)
            guard case .error(let got, _)? = frames.first?.message else {
                Issue.record("no error frame for \(code): \(frames)")
                continue
            }
            #expect(got == code)
            _ = try await good.ping()
        }
        // After the handshake, an unknown message type: error, then closed.
        var bytes = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "")).encoded()
        var unknown = Frame(requestID: 2, message: .ping(nonce: 1)).encoded()
        unknown[5] = 99
        bytes += unknown
        let frames = try await rawExchange(port: f.server.port, bytes)
        #expect(frames.map(\.message.type) == [.welcome, .error])
        #expect(try await good.ping() < .seconds(5))
        // A request whose error message would quote a 65,530-byte value: answered, not a crash.
        let long = String(repeating: "é", count: 32_765)
        var request = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "")).encoded()
        request += Frame(requestID: 2, message: .listOrders(by: .status(long), limit: 1, cursor: "")).encoded()
        request += Frame(requestID: 3, message: .close(reason: "")).encoded()
        let answers = try await rawExchange(port: f.server.port, request)
        #expect(answers.map(\.message.type) == [.welcome, .error, .close])
        #expect(try await good.ping() < .seconds(5))
        await good.close()
        await f.stop()
    }

    @Test("a subscriber that never reads is sent no more than its credits")
    func creditsBoundTheServer() async throws {
        let f = try await ServerFixture()
        let producer = try await f.client()
        _ = try await producer.append(orderEvents(100))
        // Subscribe raw, with 10 credits, and never send more.
        var bytes = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "slow", token: "")).encoded()
        bytes += Frame(requestID: 7, message: .subscribe(from: .position(0), credits: 10, typeMask: 0, orderPrefix: "")).encoded()
        bytes += Frame(requestID: 8, message: .ping(nonce: 5)).encoded()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: f.server.port) { ch in
                ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
            }
        let sent = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var decoder = FrameDecoder(maxFrameBytes: 1 << 20)
            var events = 0
            var sawPong = false
            for try await buffer in inbound {
                decoder.append(buffer.readableBytesView)
                while let frame = try decoder.next() {
                    if case .events(let e) = frame.message { events += e.count }
                    if case .pong = frame.message { sawPong = true }
                }
                if sawPong && events >= 10 { break }
            }
            // Give the server time to (wrongly) send more.
            try await Task.sleep(for: .milliseconds(100))
            return events
        }
        #expect(sent == 10)
        await producer.close()
        await f.stop()
    }

    @Test("the client asks for more events only as its consumer takes them, so a slow consumer bounds its buffer")
    func clientCreditsFollowConsumption() async throws {
        let f = try await ServerFixture()
        let producer = try await f.client()
        let events = orderEvents(300)
        _ = try await producer.append(events)
        let consumer = try await f.client("slow")
        var iterator = try await consumer.subscribe(from: .position(0), credits: 100).makeAsyncIterator()
        for _ in 0..<30 { _ = try await iterator.next() }
        // Give the server time to (wrongly) send more than the credits allow.
        try await Task.sleep(for: .milliseconds(300))
        #expect(consumer.subscriptionEventsReceived <= 130)
        // Consuming on gets everything, in order.
        var last: UInt64 = 29
        for _ in 30..<events.count {
            let e = try await iterator.next()
            #expect(e?.position == last + 1)
            last += 1
        }
        #expect(consumer.subscriptionEventsReceived == events.count)
        await consumer.close()
        await producer.close()
        await f.stop()
    }

    @Test("a history longer than one frame comes in pages and arrives whole")
    func historyPages() async throws {
        let f = try await smallFrameServer()
        let client = try await f.client()
        let placed = placedOrder("LONG-1")
        _ = try await client.append([placed])
        let note = String(repeating: "n", count: 300)
        for _ in 0..<40 {
            _ = try await client.append((0..<5).map { _ in OrderEvent(orderID: placed.orderID, data: .noteAdded(text: note)) })
        }
        let history = try await client.history("LONG-1")
        #expect(history.count == 201)
        #expect(history.map(\.seq) == Array(1...201))
        #expect(history == (try f.store.history(placed.orderID)))
        await client.close()
        await f.stop()
    }

    @Test("lists longer than a frame come in pages and the client gets every id it asked for")
    func listPages() async throws {
        let f = try await smallFrameServer()
        let client = try await f.client()
        let events = (0..<250).map { placedOrder("ORD-\($0)") }
        // One APPEND of 250 events does not fit a 4 KiB frame: refused by the client, before
        // anything is sent; appendSplitting sends as many APPENDs as it takes.
        await #expect(throws: ClientError.self) { try await client.append(events) }
        #expect(f.store.log.endPosition.rawValue == 0)
        #expect(try await client.appendSplitting(events).count == 250)
        let byStatus = try await client.orders(status: "placed", limit: 1000)
        #expect(byStatus.total == 250)
        #expect(byStatus.ids == f.store.orders(withStatus: .placed).map(\.value))
        let byCustomer = try await client.orders(customer: "C1", limit: 201)
        #expect(byCustomer.total == 250)
        #expect(byCustomer.ids == Array(f.store.orders(ofCustomer: "C1").prefix(201)).map(\.value))
        await client.close()
        await f.stop()
    }

    @Test("snapshots and totals larger than a frame come in parts and arrive whole; no server frame passes the limit it announced")
    func snapshotAndTotalsParts() async throws {
        let f = try await smallFrameServer()
        // Written through the store: such events do not fit a 4 KiB frame themselves.
        let wide = OrderEvent(orderID: try OrderID("WIDE-1"), data: .orderPlaced(
            customerID: "C1", channel: "web", currency: "EUR",
            lines: (0..<60).map { PlacedLine(sku: "SKU-\($0)-" + String(repeating: "s", count: 1000), qty: 1, unitPriceMinor: 100) },
            shippingMinor: nil, taxMinor: nil, discountMinor: nil))
        let channels = (0..<200).map { i in
            AppendEvent(placedOrder("CH-\(i)", customer: "C2", channel: "channel-\(i)-" + String(repeating: "c", count: 100), currency: i % 2 == 0 ? "EUR" : "USD"))
        }
        _ = try await f.store.append([AppendEvent(wide)] + channels)
        let client = try await f.client()
        let expected = try #require(try f.store.snapshot(wide.orderID)).json
        #expect(expected.utf8.count > 4 * 4096)
        #expect(try await client.snapshotJSON("WIDE-1") == expected)
        #expect(try await client.snapshotJSON("WIDE-1", asOf: .position(0)) == expected)
        let rows = try await client.totals()
        let local = try f.store.totals()
        #expect(rows.count == 201)  // 200 channels and the wide order's
        #expect(rows.map(\.channel) == local.map(\.channel))
        #expect(rows.map(\.currency) == local.map(\.currency))
        #expect(try await client.totals(asOf: .max) == rows)
        // Read raw with a decoder held to the announced 4 KiB: a larger frame would throw.
        var raw = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "")).encoded()
        raw += Frame(requestID: 2, message: .getSnapshot(orderID: "WIDE-1", asOf: .now, offset: 0)).encoded()
        raw += Frame(requestID: 3, message: .getTotals(asOf: .now, after: "")).encoded()
        raw += Frame(requestID: 4, message: .listOrders(by: .customer("C2"), limit: 10_000, cursor: "")).encoded()
        raw += Frame(requestID: 5, message: .close(reason: "")).encoded()
        let frames = try await rawExchange(port: f.server.port, raw, maxFrameBytes: 4096)
        #expect(frames.map(\.message.type) == [.welcome, .snapshot, .totals, .orders, .close])
        await client.close()
        await f.stop()
    }

    @Test("EVENTS frames stay within the frame limit; an event no frame can hold ends the subscription with error, naming its position")
    func eventsWithinTheFrameLimit() async throws {
        let f = try await smallFrameServer()
        let id = try OrderID("BIG-1")
        let note = { (n: Int) in AppendEvent(OrderEvent(orderID: id, data: .noteAdded(text: String(repeating: "n", count: n)))) }
        _ = try await f.store.append([AppendEvent(placedOrder("BIG-1"))] + (0..<10).map { _ in note(1000) })
        // 11 events of ~1 KB: several frames, each within 4 KiB.
        let c = try await f.client()
        var received = 0
        for try await _ in try await c.subscribe(from: .position(0), follow: false) { received += 1 }
        #expect(received == 11)
        // An event larger than any frame: the subscription ends with error at its position.
        _ = try await f.store.append([AppendEvent(OrderEvent(orderID: id, attributes: "{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}", data: .noteAdded(text: "big")))])
        var got = 0
        do {
            for try await _ in try await c.subscribe(from: .position(0), follow: false) { got += 1 }
            Issue.record("the subscription ended without an error")
        } catch let error as ClientError {
            #expect(error.code == "error")
            #expect(error.message.contains("position 11"))
        }
        #expect(got == 11)
        await c.close()
        await f.stop()
    }

    @Test("totals as of a position count the event at it, as snapshots do; a list asked with limit 0 gives its total")
    func asOfPositionAndLimitZero() async throws {
        let f = try await ServerFixture()
        let c = try await f.client()
        let placed = { (i: Int) in placedOrder("T-\(i)", customer: "C") }
        _ = try await c.append([placed(0), placed(1), placed(2)])
        guard case .totals(let rows, let end, _) = try await c.request(.getTotals(asOf: .position(0), after: "")) else { Issue.record("no TOTALS"); return }
        #expect(rows.first?.orders == 1)
        #expect(end == 1)
        guard case .totals(let all, _, _) = try await c.request(.getTotals(asOf: .position(UInt64(Int64.max)), after: "")) else { Issue.record("no TOTALS"); return }
        #expect(all.first?.orders == 3)
        let none = try await c.orders(customer: "C", limit: 0)
        #expect(none.total == 3 && none.ids.isEmpty)
        await c.close()
        await f.stop()
    }

    @Test("tokens grant roles: producers append, consumers read, only admins keep recorded times, an unknown token is refused")
    func roles() async throws {
        let producerToken = "producer-token-0123456789", consumerToken = "consumer-token-0123456789", adminToken = "admin-token-0123456789"
        let f = try await ServerFixture(access: AccessPolicy(tokens: [producerToken: .producer, consumerToken: .consumer, adminToken: .admin]))
        let producer = try await f.client(token: producerToken)
        let consumer = try await f.client(token: consumerToken)
        let events = orderEvents(3)
        _ = try await producer.append(events)
        await #expect(throws: ClientError.self) { try await consumer.append(events) }
        await #expect(throws: ClientError.self) { try await producer.history(events[0].orderID.value) }
        #expect(try await consumer.history(events[0].orderID.value).count == events.filter { $0.orderID == events[0].orderID }.count)
        // Keeping a recorded time (restoring an export) is for admins.
        let old = orderEvents(2, seed: 9).map { e in var e = e; e.orderID = try! OrderID("OLD-" + e.orderID.value); return e }
        // Later than anything stored (recorded times never decrease), within the 1 s allowed.
        let base = Int64(Date().timeIntervalSince1970 * 1_000_000) + 500_000
        let times = old.indices.map { base + Int64($0) }
        await #expect(throws: ClientError.self) { try await producer.append(old, recordedAt: times) }
        let admin = try await f.client(token: adminToken)
        _ = try await admin.append(old, recordedAt: times)
        let restored = try await admin.history(old[0].orderID.value)
        #expect(restored.first?.recordedAt == times[old.firstIndex { $0.orderID == old[0].orderID }!])
        await admin.close()
        do {
            _ = try await f.client(token: "wrong-token-0123456789")
            Issue.record("an unknown token was accepted")
        } catch let error as ClientError {
            #expect(error.code == "unauthorized")
        }
        await producer.close()
        await consumer.close()
        await f.stop()
    }

    @Test("a shutdown ends subscriptions and connections, and loses nothing acknowledged")
    func gracefulShutdown() async throws {
        let f = try await ServerFixture()
        let producer = try await f.client("producer")
        let consumer = try await f.client("consumer")
        let stream = try await consumer.subscribe(from: .position(0))
        let events = orderEvents(100)
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for start in stride(from: 0, to: events.count, by: 25) {
                group.addTask {
                    do { return try await producer.append(Array(events[start..<min(events.count, start + 25)])).count } catch { return 0 }
                }
            }
            try await Task.sleep(for: .milliseconds(5))
            await f.server.shutdown()
            var total = 0
            for try await n in group { total += n }
            return total
        }
        var ended: (any Error)?
        do { for try await _ in stream {} } catch { ended = error }
        // The stream ends with SUBSCRIPTION_ENDED server_shutdown (a frame the server must
        // write from a cancelled subscription task, which NIO refuses: it is sent for it).
        #expect((ended as? ClientError)?.code == "server_shutdown", "\(String(describing: ended))")
        _ = await f.running.result
        try f.store.close()
        // Every acknowledged event is in the log after a reopen.
        var c = StoreConfiguration()
        c.log.durability = .always
        let reopened = try OrderStore.open(path: f.path, configuration: c)
        #expect(reopened.log.endPosition.rawValue >= UInt64(acknowledged))
        try reopened.close()
        try? FileManager.default.removeItem(atPath: f.path)
    }

    @Test("a resuming subscription continues after the server restarts, with no gap and no duplicate")
    func resumeAfterRestart() async throws {
        var f = try await ServerFixture()
        let port = f.server.port, path = f.path
        let events = orderEvents(60, seed: 5)
        let half = events.count / 2
        let producer = try await f.client()
        _ = try await producer.append(Array(events[..<half]))
        await producer.close()
        let stream = OrderLogClient.resumingSubscription(port: port, retryDelay: .milliseconds(50))
        var received: [StoredEvent] = []
        var iterator = stream.makeAsyncIterator()
        while received.count < half, let e = try await iterator.next() { received.append(e) }
        await f.stop(keepData: true)
        f = try await ServerFixture(path: path, port: port)
        let again = try await f.client()
        _ = try await again.append(Array(events[half...]))
        await again.close()
        while received.count < events.count, let e = try await iterator.next() { received.append(e) }
        #expect(received.map(\.position) == Array(0..<UInt64(events.count)))
        await f.stop()
    }

    @Test("many connections at once are all served")
    func manyConnections() async throws {
        let f = try await ServerFixture()
        let clients = try await withThrowingTaskGroup(of: OrderLogClient.self) { group in
            for i in 0..<200 { group.addTask { try await f.client("c\(i)") } }
            var all: [OrderLogClient] = []
            for try await c in group { all.append(c) }
            return all
        }
        #expect(f.server.openConnections == 200)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in clients { group.addTask { _ = try await c.ping() } }
            try await group.waitForAll()
        }
        for c in clients { await c.close() }
        await f.stop()
    }
}
