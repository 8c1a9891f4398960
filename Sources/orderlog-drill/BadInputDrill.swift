import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import OrderWorkload
import WireProtocol

/// Every kind of bad input a client or an operator can give, against a running server with
/// tokens: what the user sees, and proof that nothing stored changed (every event read back
/// identical after each case; verify and audit clean at the end). Prints the table of
/// docs/RELIABILITY.md.
struct BadInputDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badinput",
        abstract: "Send every kind of bad input; print what the user sees and check nothing stored changed.")

    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?

    static let admin = "admin-token-0123456789", producer = "producer-token-0123456789", consumer = "consumer-token-0123456789"

    struct Row { var input: String; var seen: String; var connection: String; var unchanged: Bool }

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let dir = try scratchDirectory("badinput")
        try "\(Self.admin) admin\n\(Self.producer) producer\n\(Self.consumer) consumer\n".write(toFile: dir + "/tokens", atomically: true, encoding: .utf8)
        let port = drillPort()
        let server = try ServerProcess.start(orderlog: orderlog, data: dir + "/data", port: port, extra: ["--tokens", dir + "/tokens"], logDirectory: dir)
        let gen = try runProgram(orderlog, ["generate", "--orders", "200", "--output", dir + "/orders.jsonl"])
        guard gen.succeeded else { throw DrillFailure("generate: \(gen.summary)") }
        let seeded = try runProgram(orderlog, ["import", dir + "/orders.jsonl", "--server", "127.0.0.1:\(port)", "--token", Self.admin])
        guard seeded.succeeded else { throw DrillFailure("import: \(seeded.summary)") }
        let baseline = try await readLog(port: port, token: Self.consumer)
        print("drill-badinput: a server with tokens, \(baseline.count) events stored")

        var rows: [Row] = []
        var failures: [String] = []
        func record(_ input: String, _ seen: String, _ connection: String, expect: String) async {
            var unchanged = false
            do { unchanged = try await readLog(port: port, token: Self.consumer) == baseline } catch { failures.append("\(input): reading back failed: \(error)") }
            if !unchanged { failures.append("\(input): the stored events changed") }
            if !seen.contains(expect) { failures.append("\(input): expected \(expect), saw \(seen)") }
            rows.append(Row(input: input, seen: seen, connection: connection, unchanged: unchanged))
        }
        func raw(_ input: String, token: String = Self.admin, handshake: Bool = true, hangUp: Bool = false, _ bytes: [UInt8], expect: String) async throws {
            let c = try RawConnection(port: port)
            if handshake { _ = c.hello(token: token) }
            c.send(bytes)
            if hangUp { c.hangUp() }
            let (frames, closed) = c.receive()
            let seen = frames.isEmpty ? "(no answer)" : frames.map(\.message.seen).joined(separator: "; ").prefix(160) + ""
            await record(input, seen, closed ? "closed" : "kept", expect: expect)
        }
        let ping = Frame(requestID: 2, message: .ping(nonce: 7)).encoded()

        // Frames.
        var flags = ping; flags[7] = 1
        try await raw("frame with non-zero flags", flags, expect: "malformed_frame")
        var huge = ping; huge[0] = 0x10; huge[1] = 0; huge[2] = 0; huge[3] = 0
        try await raw("frame claiming 256 MiB", huge, expect: "frame_too_large")
        var tiny = ping; tiny[0] = 0; tiny[1] = 0; tiny[2] = 0; tiny[3] = 3
        try await raw("frame shorter than its header", tiny, expect: "malformed_frame")
        var version = ping; version[4] = 2
        try await raw("frame version 2", version, expect: "unsupported_version")
        var unknown = ping; unknown[5] = 99
        try await raw("unknown message type 99", unknown, expect: "unknown_message")
        try await raw("PING before HELLO", handshake: false, ping, expect: "handshake_required")
        try await raw("HELLO with protocol version 9", handshake: false,
                      Frame(requestID: 1, message: .hello(protocolVersion: 9, clientName: "x", token: Self.admin)).encoded(), expect: "unsupported_version")
        try await raw("HELLO with an unknown token", handshake: false,
                      Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "not-a-token-0123456789")).encoded(), expect: "unauthorized")
        var rng = SplitMix64(seed: 42)
        try await raw("64 KiB of random bytes", (0..<65536).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, expect: "ERROR")
        try await raw("a frame cut off, then the client hangs up", hangUp: true, Array(ping.prefix(7)), expect: "CLOSE")
        var badCount = Frame(requestID: 3, message: .append([])).encoded(); badCount[12] = 0xFF; badCount[13] = 0xFF
        try await raw("APPEND claiming 65,535 events in 2 bytes", badCount, expect: "malformed_frame")
        var badUTF8 = Frame(requestID: 3, message: .getHistory(orderID: "ab", afterSeq: 0)).encoded(); badUTF8[14] = 0xC0
        try await raw("invalid UTF-8 in an order id", badUTF8, expect: "malformed_frame")

        // Requests a role may not make; appends the rules refuse.
        let placed = OrderEvent(orderID: try OrderID("BAD-1"), data: .orderPlaced(
            customerID: "C1", channel: "web", currency: "EUR", lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 1000)],
            shippingMinor: nil, taxMinor: nil, discountMinor: nil))
        func wireEvent(_ e: OrderEvent, id: String? = nil, type: UInt16? = nil, payload: [UInt8]? = nil) -> WireEvent {
            WireEvent(orderID: id ?? e.orderID.value, type: type ?? e.type.code, payload: payload ?? e.encodeBinary())
        }
        try await raw("APPEND with a consumer token", token: Self.consumer, Frame(requestID: 3, message: .append([wireEvent(placed)])).encoded(), expect: "unauthorized")
        try await raw("GET_HISTORY with a producer token", token: Self.producer, Frame(requestID: 3, message: .getHistory(orderID: "ORD-00000001", afterSeq: 0)).encoded(), expect: "unauthorized")
        try await raw("recorded_at set by a producer", token: Self.producer,
                      Frame(requestID: 3, message: .append([WireEvent(orderID: "BAD-1", type: placed.type.code, payload: placed.encodeBinary(), recordedAt: 1)])).encoded(), expect: "unauthorized")
        try await raw("unknown event type code 999", Frame(requestID: 3, message: .append([wireEvent(placed, type: 999)])).encoded(), expect: "unknown_type")
        try await raw("event payload that is not the binary form", Frame(requestID: 3, message: .append([wireEvent(placed, payload: [1, 2, 3, 4, 5])])).encoded(), expect: "APPEND_REJECTED")
        try await raw("order id of 65 characters", Frame(requestID: 3, message: .append([wireEvent(placed, id: String(repeating: "X", count: 65))])).encoded(), expect: "invalid_order_id")
        try await raw("order id with a space", Frame(requestID: 3, message: .append([wireEvent(placed, id: "BAD 1")])).encoded(), expect: "invalid_order_id")
        try await raw("APPEND of 10,001 events", Frame(requestID: 3, message: .append(Array(repeating: wireEvent(placed), count: 10_001))).encoded(), expect: "invalid_request")
        let admin = try await OrderLogClient.connect(port: port, clientName: "drill-badinput", token: Self.admin)
        func library(_ input: String, _ events: [OrderEvent], expect: String) async {
            do {
                _ = try await admin.append(events)
                await record(input, "stored (no error)", "kept", expect: expect)
            } catch let e as ClientError {
                await record(input, (e.eventIndex.map { "APPEND_REJECTED event \($0) " } ?? "ERROR ") + "\(e.code): \(e.message)", "kept", expect: expect)
            } catch {
                await record(input, "\(error)", "?", expect: expect)
            }
        }
        await library("capture above the authorized amount (second event of the batch)", [placed,
            OrderEvent(orderID: placed.orderID, data: .paymentAuthorized(paymentID: "P1", amountMinor: 1000)),
            OrderEvent(orderID: placed.orderID, data: .paymentCaptured(paymentID: "P1", amountMinor: 5000))], expect: "over_capture")
        await library("shipment of an order that does not exist", [OrderEvent(orderID: try OrderID("BAD-NONE"), data: .shipped(fulfillmentID: "F1", carrier: "X", trackingNo: "1"))], expect: "APPEND_REJECTED")
        await library("amount of 2^60 minor units", [OrderEvent(orderID: try OrderID("BAD-2"), data: .orderPlaced(
            customerID: "C1", channel: "web", currency: "EUR", lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 1 << 60)],
            shippingMinor: nil, taxMinor: nil, discountMinor: nil))], expect: "invalid_field")  // ±2^53, as the JSON form says (EVENTS.md §4)
        await library("quantity of 10 million", [OrderEvent(orderID: try OrderID("BAD-3"), data: .orderPlaced(
            customerID: "C1", channel: "web", currency: "EUR", lines: [PlacedLine(sku: "A", qty: 10_000_000, unitPriceMinor: 1)],
            shippingMinor: nil, taxMinor: nil, discountMinor: nil))], expect: "APPEND_REJECTED")
        var bigAttributes = placed
        bigAttributes.attributes = "{\"blob\":\"" + String(repeating: "a", count: 1_100_000) + "\"}"
        await library("attributes of 1.1 MB", [bigAttributes], expect: "event_too_large")
        await admin.close()

        // Files given to the CLI.
        func cli(_ input: String, line: String, expect: String) async throws {
            let file = dir + "/bad.jsonl"
            try (line + "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let r = try runProgram(orderlog, ["import", file, "--server", "127.0.0.1:\(port)", "--token", Self.admin])
            let said = r.errors.split(separator: "\n").first.map(String.init) ?? r.output
            await record("import: " + input, "exit \(r.status): " + said.prefix(150), "—", expect: expect)
            if r.succeeded { failures.append("import: \(input): exit 0") }
        }
        try await cli("a line that is not JSON", line: "{\"order_id\": \"X1\", \"type\": ", expect: "line 1")
        try await cli("an unknown event type", line: #"{"order_id":"X1","type":"OrderTeleported","data":{}}"#, expect: "unknown_type")
        try await cli("a missing field", line: #"{"order_id":"X1","type":"OrderPlaced","data":{"channel":"web"}}"#, expect: "line 1")
        try await cli("an order id of 70 characters", line: "{\"order_id\":\"\(String(repeating: "Z", count: 70))\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"x\"}}", expect: "invalid_order_id")
        try await cli("a line of 1.1 MB", line: "{\"order_id\":\"X1\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"\(String(repeating: "a", count: 1_100_000))\"}}", expect: "event_too_large")
        try await cli("a price of 10^17", line: #"{"order_id":"X9","type":"OrderPlaced","data":{"customer_id":"c","channel":"web","currency":"USD","lines":[{"sku":"A","qty":1,"unit_price_minor":100000000000000000}]}}"#, expect: "line 1")
        let badTokens = dir + "/bad-tokens"
        try "short admin\n".write(toFile: badTokens, atomically: true, encoding: .utf8)
        let refused = try runProgram(orderlog, ["serve", "--data", dir + "/other", "--port", String(port + 1), "--tokens", badTokens], timeout: 30)
        await record("serve --tokens with a 5-character token", "exit \(refused.status): " + (refused.errors.split(separator: "\n").last.map(String.init) ?? ""), "—", expect: "at least 16")

        let finalProblems = try stopAndCheck(server, orderlog: orderlog, data: dir + "/data")
        failures += finalProblems

        print("\n| # | bad input | what the user sees | connection | stored events unchanged |")
        print("|---|---|---|---|---|")
        for (i, r) in rows.enumerated() {
            let seen = r.seen.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
            print("| \(i + 1) | \(r.input) | \(seen) | \(r.connection) | \(r.unchanged ? "yes" : "**NO**") |")
        }
        print("")
        for f in failures { print("  " + f) }
        print("drill-badinput: \(failures.isEmpty ? "PASS" : "FAIL") — \(rows.count) kinds of bad input, \(baseline.count) events checked after each, verify and audit \(finalProblems.isEmpty ? "clean" : "FAILED"), \(failures.count) failures")
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: dir) } else {
            print("data and logs kept in \(dir)")
            throw ExitCode(1)
        }
    }
}
