import OrderModel
import Testing

private func decode(_ text: String) throws(OrderError) -> OrderEvent.JSONLine {
    try OrderEvent.decodeJSONLine(Array(text.utf8))
}

private func decodeBinary(_ bytes: [UInt8], _ orderID: OrderID, _ type: EventType) -> Result<OrderEvent, OrderError> {
    bytes.withUnsafeBytes { buffer in
        Result { () throws(OrderError) -> OrderEvent in try OrderEvent.decodeBinary(orderID: orderID, type: type, buffer) }
    }
}

/// Hand-made events: every type, with and without every optional part, and extreme values.
private enum Samples {
    static let orderID = try! OrderID("ORD.sample:1_a-Z")

    static let data: [EventData] = [
        .orderPlaced(customerID: "c-1", channel: "web", currency: "USD",
                     lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 1999), PlacedLine(sku: "чай 🍵", qty: 1, unitPriceMinor: 0)],
                     shippingMinor: 500, taxMinor: 0, discountMinor: 100),
        .orderPlaced(customerID: "", channel: "", currency: "EUR", lines: [PlacedLine(sku: "B", qty: 1, unitPriceMinor: 1)],
                     shippingMinor: nil, taxMinor: nil, discountMinor: nil),
        .orderPlaced(customerID: "c", channel: "app", currency: "JPY", lines: [PlacedLine(sku: "C", qty: 3, unitPriceMinor: 7)],
                     shippingMinor: nil, taxMinor: 12, discountMinor: nil),
        .paymentAuthorized(paymentID: "p-1", amountMinor: 9_007_199_254_740_992),
        .paymentCaptured(paymentID: "p-1", amountMinor: 0),
        .paymentVoided(paymentID: "p-1", amountMinor: 1),
        .paymentFailed(paymentID: "p-2", reason: "declined: \"insufficient\" \\ funds\n"),
        .fulfillmentRequested(fulfillmentID: "f-1", location: "DC Nürnberg", lines: [SkuQuantity(sku: "A", qty: 1), SkuQuantity(sku: "чай 🍵", qty: 1)]),
        .fulfillmentPacked(fulfillmentID: "f-1"),
        .shipped(fulfillmentID: "f-1", carrier: "ヤマト運輸", trackingNo: "1Z999"),
        .delivered(fulfillmentID: "f-1"),
        .itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 1)], reason: ""),
        .orderCancelled(reason: "customer\tasked"),
        .returnRequested(returnID: "r-1", lines: [SkuQuantity(sku: "A", qty: 1)], reason: "too small"),
        .returnReceived(returnID: "r-1", lines: nil),
        .returnReceived(returnID: "r-1", lines: [SkuQuantity(sku: "A", qty: 1)]),
        .refundIssued(refundID: "rf-1", amountMinor: 500, paymentID: nil, returnID: nil),
        .refundIssued(refundID: "rf-2", amountMinor: 500, paymentID: "p-1", returnID: nil),
        .refundIssued(refundID: "rf-3", amountMinor: 500, paymentID: nil, returnID: "r-1"),
        .refundIssued(refundID: "rf-4", amountMinor: 500, paymentID: "p-1", returnID: "r-1"),
        .priceAdjusted(sku: "A", amountMinor: -250, reason: "goodwill"),
        .noteAdded(text: "\u{0}\u{1}\u{8}\u{C}\u{1F}\u{7F} é 🎉 \u{2028} / \\ \""),
        .fulfillmentCancelled(fulfillmentID: "f-2", lines: nil, reason: "WH-2 cannot ship"),
        .fulfillmentCancelled(fulfillmentID: "f-2", lines: [SkuQuantity(sku: "B", qty: 2)], reason: ""),
    ]

    static let envelopes: [@Sendable (OrderEvent) -> OrderEvent] = [
        { $0 },
        { var e = $0
          e.ts = EventTime(microseconds: 1_795_000_000_123_456, offsetMinutes: -330)
          e.eventID = "evt-ü-1"; e.actor = Actor(kind: .agent, id: "agent \"7\""); e.channel = "call-center"
          e.attributes = #"{"b": 1,  "a":[true,null]}"#
          return e },
        { var e = $0
          e.ts = EventTime(microseconds: -500_000, offsetMinutes: 0)  // 1969-12-31T23:59:59.5Z
          e.actor = Actor(kind: .integration, id: "")
          e.attributes = "{\n  \"k\" : \"\\u00e9\\n\" ,\t\"n\":[ 1.5e-3 , -0 ]\n}"
          return e },
    ]

    static var events: [OrderEvent] {
        data.flatMap { d in envelopes.map { $0(OrderEvent(orderID: orderID, data: d)) } }
    }
}

@Suite("Codecs: JSON lines and the binary form")
struct CodecTests {
    // MARK: JSON round trip

    @Test("decoding the JSON line of a generated event gives back the same event, and encoding it again gives the same bytes", arguments: propertySeeds)
    func jsonRoundTripOfGeneratedEvents(seed: UInt64) throws {
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            let line = g.event.jsonLine()
            let decoded = try decode(line)
            #expect(decoded.event == g.event, "\(line)")
            #expect(decoded.event.attributes == g.event.attributes)
            #expect(decoded.event.jsonLine() == line)
            #expect(decoded.expectedVersion == .any && decoded.position == nil && decoded.seq == nil && decoded.recordedAt == nil)
        }
    }

    @Test("every sample event, of every type and with or without every optional part, survives the JSON round trip")
    func jsonRoundTripOfSamples() throws {
        #expect(Set(Samples.events.map(\.type)) == Set(EventType.allCases))
        for e in Samples.events {
            let line = e.jsonLine()
            #expect(try decode(line).event == e, "\(line)")
        }
    }

    @Test("attributes come back byte for byte as given, whatever their spacing, nesting, escapes and unicode")
    func attributesAreKeptByteForByte() throws {
        let attributes = [
            #"{"b": 1,  "a":[true,null]}"#,
            "{\"x\":{ },\"y\":[ ],\n\"z\":\"\\u00E9\\ud83c\\udf89 é🎉\"\t}",
            #"{"n":1.50e+02,"m":-0.0,"big":123456789012345678901234567890}"#,
            #"{    "spaced"    :    "out"    }"#,
        ]
        for raw in attributes {
            let line = "{\"order_id\":\"ORD-1\",\"type\":\"NoteAdded\",\"attributes\":\(raw),\"data\":{\"text\":\"x\"}}"
            let event = try decode(line).event
            #expect(event.attributes == raw)
            #expect(event.jsonLine() == line)
            #expect(try decode("{ \"attributes\" :\t\(raw) , \"data\":{\"text\":\"x\"}, \"type\":\"NoteAdded\", \"order_id\":\"ORD-1\" }").event.attributes == raw)
        }
    }

    @Test("an empty attributes object written with spaces inside comes back as {}: the one exception to byte for byte that docs/EVENTS.md §2 documents")
    func emptyAttributesWithSpacesComeBackCompact() throws {
        // Issue 3 says attributes are "kept as-is and returned as-is"; EVENTS.md documents this exception.
        let event = try decode(#"{"order_id":"ORD-1","type":"NoteAdded","attributes":{ },"data":{"text":"x"}}"#).event
        #expect(event.attributes == "{}")
        // Only the top-level attributes object is affected: an empty object inside keeps its spaces.
        #expect(try decode(#"{"order_id":"ORD-1","type":"NoteAdded","attributes":{"a":{ }},"data":{"text":"x"}}"#).event.attributes == #"{"a":{ }}"#)
    }

    @Test("strings decode escapes and unicode: \\uXXXX, surrogate pairs, every short escape and raw UTF-8")
    func stringEscapesAndUnicode() throws {
        let line = #"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":"caf\u00e9 \ud83c\udf89 \"q\" \\ \/ \b\f\n\r\t \u0000 é🎉"}}"#
        let event = try decode(line).event
        #expect(event.data == .noteAdded(text: "café 🎉 \"q\" \\ / \u{8}\u{C}\n\r\t \u{0} é🎉"))
        // Written back: only what JSON requires is escaped, and the result decodes to the same text.
        let again = try decode(event.jsonLine()).event
        #expect(again == event)
        #expect(event.jsonLine().contains("café 🎉"))
    }

    @Test("a line's spacing, key order and the expected_version forms are all accepted")
    func spacingKeyOrderAndExpectedVersion() throws {
        let line = " \t{ \"data\" : { \"amount_minor\" : 100 , \"payment_id\" : \"p1\" } ,\n\"type\":\"PaymentAuthorized\" , \"order_id\" : \"ORD-1\" , \"expected_version\" : 3 }\r\n"
        let decoded = try decode(line)
        #expect(decoded.event == OrderEvent(orderID: try OrderID("ORD-1"), data: .paymentAuthorized(paymentID: "p1", amountMinor: 100)))
        #expect(decoded.expectedVersion == .exactly(3))
        let base = #""order_id":"ORD-1","type":"NoteAdded","data":{"text":"x"}"#
        #expect(try decode("{\(base),\"expected_version\":\"none\"}").expectedVersion == ExpectedVersion.none)
        #expect(try decode("{\(base),\"expected_version\":\"any\"}").expectedVersion == .any)
        #expect(try decode("{\(base),\"expected_version\":0}").expectedVersion == .exactly(0))
        #expect(try decode("{\(base)}").expectedVersion == .any)
    }

    @Test("order ids of 1 and 64 characters of A-Z a-z 0-9 . _ : - are accepted")
    func validOrderIDs() throws {
        for id in ["a", String(repeating: "Z", count: 64), "Az09._:-", "2026:web.ORD_1-x"] {
            #expect(try decode("{\"order_id\":\"\(id)\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"\"}}").event.orderID.value == id)
        }
    }

    // MARK: Export form

    @Test("the export form round-trips: jsonLine(stored:) decodes to the stored event and exports again to identical bytes", arguments: propertySeeds)
    func exportRoundTrip(seed: UInt64) throws {
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            let exported = g.event.jsonLine(stored: g.stored)
            let imported = try decode(exported)
            #expect(imported.position == g.position && imported.seq == g.seq && imported.recordedAt == g.recordedAt, "\(exported)")
            var expected = g.event
            if expected.ts == nil { expected.ts = EventTime(microseconds: g.recordedAt) }
            #expect(imported.event == expected)
            let stored = StoredEvent(event: imported.event, position: imported.position!, seq: imported.seq!, recordedAt: imported.recordedAt!)
            #expect(imported.event.jsonLine(stored: stored) == exported)
            // Importing the plain form of an imported event and exporting it again changes nothing either.
            let reimported = try decode(imported.event.jsonLine()).event
            #expect(reimported.jsonLine(stored: stored) == exported)
        }
    }

    @Test("a negative position in an import line is refused with invalid_field, not a trap (checked in a child process)")
    func negativePositionIsRefused() async {
        await #expect(processExitsWith: .success) {
            let line = #"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":"x"},"position":-1,"seq":1,"recorded_at":"2026-01-01T00:00:00Z"}"#
            do {
                _ = try OrderEvent.decodeJSONLine(Array(line.utf8))
                preconditionFailure("a negative position was accepted")
            } catch let error as OrderError {
                precondition(error.code == .invalidField && error.field == "position", "\(error)")
            } catch {
                preconditionFailure("\(error)")
            }
        }
    }

    @Test("an export line's seq must be 1…2^32−1 and its position ≥ 0; in-range values are kept")
    func seqAndPositionRanges() throws {
        func line(position: String, seq: String) -> String {
            #"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":"x"},"position":"# + position + #","seq":"# + seq + #","recorded_at":"2026-01-01T00:00:00Z"}"#
        }
        for seq in ["-1", "0", "4294967296"] {
            let error = #expect(throws: OrderError.self, "seq \(seq)") { try decode(line(position: "5", seq: seq)) }
            #expect(error?.code == .invalidField && error?.field == "seq")
        }
        let edge = try decode(line(position: "0", seq: "4294967295"))
        #expect(edge.position == 0 && edge.seq == UInt32.max)
        let big = try decode(line(position: "9007199254740992", seq: "1"))
        #expect(big.position == 1 << 53)
    }

    @Test("a bad recorded_at is refused as invalid_timestamp")
    func badRecordedAtIsRefused() {
        let error = #expect(throws: OrderError.self) {
            try decode(#"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":"x"},"position":1,"seq":1,"recorded_at":"2026-02-30T00:00:00Z"}"#)
        }
        #expect(error?.code == .invalidTimestamp)
    }

    @Test("quantities up to 1,000,000 are read and -0 reads as 0")
    func quantityAndZeroForms() throws {
        let million = try decode(#"{"order_id":"ORD-1","type":"ItemsCancelled","data":{"lines":[{"sku":"A","qty":1000000}],"reason":"x"}}"#).event
        #expect(million.data == .itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 1_000_000)], reason: "x"))
        let zero = try decode(#"{"order_id":"ORD-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":-0}}"#).event
        #expect(zero.data == .paymentCaptured(paymentID: "p", amountMinor: 0))
    }

    // MARK: Binary form

    @Test("every sample event, of every event type, survives the binary round trip")
    func binaryRoundTripOfSamples() throws {
        var extremes = Samples.events
        extremes.append(OrderEvent(orderID: Samples.orderID, ts: EventTime(microseconds: -62_135_596_800_000_000, offsetMinutes: 1439),
                                   data: .priceAdjusted(sku: "", amountMinor: .min, reason: String(repeating: "r", count: 5000))))
        extremes.append(OrderEvent(orderID: Samples.orderID, ts: EventTime(microseconds: 253_402_300_799_999_999, offsetMinutes: -1439),
                                   data: .paymentCaptured(paymentID: "p", amountMinor: .max)))
        for e in extremes {
            let bytes = e.encodeBinary()
            #expect(bytes.first == OrderEvent.binaryVersion)
            #expect(try decodeBinary(bytes, e.orderID, e.type).get() == e, "\(e.type) \(e.data)")
        }
    }

    @Test("generated events survive the binary round trip", arguments: propertySeeds)
    func binaryRoundTripOfGeneratedEvents(seed: UInt64) throws {
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            #expect(try decodeBinary(g.event.encodeBinary(), g.event.orderID, g.event.type).get() == g.event)
        }
    }

    @Test("a payload of another codec version fails with unsupported_codec_version, not a misreading", arguments: [UInt8(0), 2, 3, 0x7F, 0xFF])
    func otherCodecVersionIsRefused(version: UInt8) {
        for e in Samples.events {
            var bytes = e.encodeBinary()
            bytes[0] = version
            guard case .failure(let error) = decodeBinary(bytes, e.orderID, e.type) else {
                Issue.record("version \(version) decoded: \(e.jsonLine())"); continue
            }
            #expect(error.code == .unsupportedCodecVersion)
            #expect(error.message.contains("\(version)"))
        }
    }

    @Test("every truncation of every sample payload fails with corrupt_payload and never crashes")
    func truncatedPayloadsAreCorrupt() {
        for e in Samples.events {
            let bytes = e.encodeBinary()
            for length in 0..<bytes.count {
                guard case .failure(let error) = decodeBinary(Array(bytes.prefix(length)), e.orderID, e.type) else {
                    Issue.record("a \(length)-byte prefix of \(bytes.count) decoded: \(e.jsonLine())"); continue
                }
                #expect(error.code == .corruptPayload, "prefix \(length)/\(bytes.count): \(error)")
            }
            guard case .failure(let error) = decodeBinary(bytes + [0], e.orderID, e.type) else {
                Issue.record("a payload with a trailing byte decoded"); continue
            }
            #expect(error.code == .corruptPayload)
        }
    }

    @Test("every truncation of generated payloads fails with corrupt_payload", arguments: Array(propertySeeds.prefix(60)))
    func truncatedGeneratedPayloadsAreCorrupt(seed: UInt64) {
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            let bytes = g.event.encodeBinary()
            for length in 0..<bytes.count {
                if case .failure(let error) = decodeBinary(Array(bytes.prefix(length)), g.event.orderID, g.event.type) {
                    if error.code != .corruptPayload { Issue.record("prefix \(length): \(error)") }
                } else {
                    Issue.record("a \(length)-byte prefix of \(bytes.count) decoded: \(g.event.jsonLine())")
                }
            }
        }
    }

    @Test("random and bit-flipped payloads decode or fail with corrupt_payload or unsupported_codec_version, never crash", arguments: Array(propertySeeds.prefix(50)))
    func garbagePayloadsNeverCrash(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let events = Samples.events
        for _ in 0..<200 {
            let e = rng.element(events)
            var bytes = e.encodeBinary()
            if rng.chance(30) {
                bytes = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if !bytes.isEmpty && rng.chance(70) { bytes[0] = 1 }
            } else {
                for _ in 0...rng.below(3) { bytes[rng.below(bytes.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
            }
            let type = rng.chance(80) ? e.type : rng.element(EventType.allCases)
            if case .failure(let error) = decodeBinary(bytes, e.orderID, type) {
                #expect([.corruptPayload, .unsupportedCodecVersion].contains(error.code), "\(error)")
            }
        }
    }

    @Test("a payload whose ts lies outside what RFC 3339 can write is refused as corrupt, so it cannot reach the export")
    func outOfRangeTimesInPayloadsAreCorrupt() {
        let base = OrderEvent(orderID: Samples.orderID, data: .noteAdded(text: "x"))
        for ts in [EventTime(microseconds: 0, offsetMinutes: 24 * 60), EventTime(microseconds: 0, offsetMinutes: .max),
                   EventTime(microseconds: 400_000_000_000_000_000, offsetMinutes: 0)] {
            var e = base
            e.ts = ts
            let result = decodeBinary(e.encodeBinary(), e.orderID, e.type)
            do {
                guard case .failure(let error) = result else {
                    Issue.record("decoded a ts of \(ts.microseconds) µs at offset \(ts.offsetMinutes) min; exported as \(e.jsonLine())")
                    return
                }
                #expect(error.code == .corruptPayload)
            }
        }
    }

    @Test("an event whose ts came from a binary payload near Int64.max exports without trapping (checked in a child process)")
    func exportOfExtremeTimeDoesNotTrap() async {
        do {
            await #expect(processExitsWith: .success) {
                let id = try! OrderID("ORD-1")
                let e = OrderEvent(orderID: id, ts: EventTime(microseconds: .max - 1, offsetMinutes: 60), data: .noteAdded(text: "x"))
                let decoded = e.encodeBinary().withUnsafeBytes { try? OrderEvent.decodeBinary(orderID: id, type: .noteAdded, $0) }
                _ = decoded?.jsonLine()
            }
        }
    }

    // MARK: Bad JSON lines

    struct BadLine: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var code: OrderError.Code
        var field: String?
        var says: [String] = []
        var testDescription: String { name }

        init(_ name: String, _ text: String, _ code: OrderError.Code, field: String? = nil, says: [String] = []) {
            self.init(name, Array(text.utf8), code, field: field, says: says)
        }

        init(_ name: String, _ bytes: [UInt8], _ code: OrderError.Code, field: String? = nil, says: [String] = []) {
            self.name = name; self.bytes = bytes; self.code = code; self.field = field; self.says = says
        }
    }

    static let head = #""order_id":"ORD-1","type":"PaymentAuthorized""#
    static let badLines: [BadLine] = [
        // Invalid JSON names the byte offset.
        BadLine("a missing ':' (byte 13)", #"{"order_id" "ORD-1"}"#, .invalidJSON, says: ["expected ':'", "at byte 13"]),
        BadLine("an unterminated object", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":100}", .invalidJSON, says: ["at byte"]),
        BadLine("text that is not JSON", "order placed", .invalidJSON, says: ["at byte 1"]),
        BadLine("an empty line", "", .invalidJSON, says: ["at byte 1"]),
        BadLine("a JSON array", "[1,2]", .invalidJSON, says: ["object"]),
        BadLine("a trailing comma", "{\(head),}", .invalidJSON, says: ["at byte"]),
        BadLine("text after the object", "{\(head),\"data\":{}} x", .invalidJSON, says: ["after", "at byte"]),
        BadLine("a duplicate key", "{\(head),\"type\":\"NoteAdded\"}", .invalidJSON, says: ["duplicate", "type"]),
        BadLine("a duplicate key inside attributes", #"{"order_id":"ORD-1","type":"NoteAdded","attributes":{"a":1,"b":{"c":1,"c":2}},"data":{"text":"x"}}"#, .invalidJSON, says: ["duplicate", "c"]),
        BadLine("an invalid escape", #"{"order_id":"OR\xD-1"}"#, .invalidJSON, says: ["escape", "at byte"]),
        BadLine("a lone surrogate", #"{"order_id":"\ud800"}"#, .invalidJSON, says: ["surrogate"]),
        BadLine("a raw control character", Array(#"{"order_id":"A"#.utf8) + [0x01] + Array(#""}"#.utf8), .invalidJSON, says: ["control"]),
        BadLine("invalid UTF-8", Array(#"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":""#.utf8) + [0xFF, 0xFE] + Array(#""}}"#.utf8), .invalidJSON, says: ["UTF-8"]),
        BadLine("a leading zero", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":0100}}", .invalidJSON, says: ["at byte"]),
        BadLine("nesting 100 deep", "{\(head),\"attributes\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}", .invalidJSON, says: ["nesting"]),
        BadLine("nesting 100000 deep", String(repeating: "[", count: 100_000), .invalidJSON, says: ["nesting"]),
        // Missing fields name the field with its path.
        BadLine("no order_id", #"{"type":"NoteAdded","data":{"text":"x"}}"#, .missingField, field: "order_id", says: ["order_id"]),
        BadLine("no type", #"{"order_id":"ORD-1","data":{"text":"x"}}"#, .missingField, field: "type", says: ["type"]),
        BadLine("no data", "{\(head)}", .missingField, field: "data", says: ["data"]),
        BadLine("no data.payment_id", "{\(head),\"data\":{\"amount_minor\":100}}", .missingField, field: "data.payment_id", says: ["data.payment_id"]),
        BadLine("no data.lines[1].sku", #"{"order_id":"ORD-1","type":"FulfillmentRequested","data":{"fulfillment_id":"f","location":"DC","lines":[{"sku":"A","qty":1},{"qty":1}]}}"#,
                .missingField, field: "data.lines[1].sku", says: ["data.lines[1].sku"]),
        BadLine("no data.lines[0].unit_price_minor", #"{"order_id":"ORD-1","type":"OrderPlaced","data":{"customer_id":"c","channel":"web","currency":"USD","lines":[{"sku":"A","qty":1}]}}"#,
                .missingField, field: "data.lines[0].unit_price_minor", says: ["data.lines[0].unit_price_minor"]),
        BadLine("a misspelt qty (reported as the missing qty)", #"{"order_id":"ORD-1","type":"ItemsCancelled","data":{"lines":[{"sku":"A","qtty":1}],"reason":"x"}}"#,
                .missingField, field: "data.lines[0].qty", says: ["data.lines[0].qty"]),
        // Unknown fields name the field with its path.
        BadLine("an unknown top-level field", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":100},\"colour\":\"red\"}", .unknownField, field: "colour", says: ["colour"]),
        BadLine("an unknown data field", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":100,\"currency\":\"USD\"}}", .unknownField, field: "data.currency", says: ["data.currency"]),
        BadLine("an unknown field in a line", #"{"order_id":"ORD-1","type":"ItemsCancelled","data":{"lines":[{"sku":"A","qty":1,"qtty":1}],"reason":"x"}}"#,
                .unknownField, field: "data.lines[0].qtty", says: ["data.lines[0].qtty"]),
        BadLine("an unknown actor field", #"{"order_id":"ORD-1","type":"NoteAdded","actor":{"kind":"agent","id":"a","name":"Al"},"data":{"text":"x"}}"#,
                .unknownField, field: "actor.name", says: ["actor.name"]),
        BadLine("lines on an event without lines", #"{"order_id":"ORD-1","type":"OrderCancelled","data":{"reason":"x","lines":[]}}"#, .unknownField, field: "data.lines"),
        // Wrong types name the field.
        BadLine("an amount as a string", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":\"100\"}}", .invalidField, field: "data.amount_minor", says: ["data.amount_minor", "integer"]),
        BadLine("a fractional amount", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":12.5}}", .invalidField, field: "data.amount_minor"),
        BadLine("an amount in exponent form", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":1e3}}", .invalidField, field: "data.amount_minor"),
        BadLine("an amount beyond 2^53", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":9007199254740993}}", .invalidField, field: "data.amount_minor", says: ["range"]),
        BadLine("an amount beyond Int64", "{\(head),\"data\":{\"payment_id\":\"p1\",\"amount_minor\":99999999999999999999}}", .invalidField, field: "data.amount_minor"),
        BadLine("a quantity over 1,000,000", #"{"order_id":"ORD-1","type":"OrderPlaced","data":{"customer_id":"c","channel":"web","currency":"USD","lines":[{"sku":"A","qty":1000001,"unit_price_minor":1}]}}"#,
                .invalidField, field: "data.lines[0].qty", says: ["1000001"]),
        BadLine("a 1025-byte string", #"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":""# + String(repeating: "x", count: 1025) + #""}}"#, .invalidField, field: "data.text", says: ["1024"]),
        BadLine("a numeric payment_id", "{\(head),\"data\":{\"payment_id\":7,\"amount_minor\":1}}", .invalidField, field: "data.payment_id", says: ["string"]),
        BadLine("a null payment_id on a refund", #"{"order_id":"ORD-1","type":"RefundIssued","data":{"refund_id":"r","amount_minor":1,"payment_id":null}}"#, .invalidField, field: "data.payment_id"),
        BadLine("a numeric order_id", #"{"order_id":42,"type":"NoteAdded","data":{"text":"x"}}"#, .invalidField, field: "order_id"),
        BadLine("data as an array", "{\(head),\"data\":[]}", .invalidField, field: "data"),
        BadLine("lines as an object", #"{"order_id":"ORD-1","type":"ItemsCancelled","data":{"lines":{},"reason":"x"}}"#, .invalidField, field: "data.lines"),
        BadLine("a line that is not an object", #"{"order_id":"ORD-1","type":"ItemsCancelled","data":{"lines":[1],"reason":"x"}}"#, .invalidField, field: "data.lines[0]"),
        BadLine("attributes that are not an object", #"{"order_id":"ORD-1","type":"NoteAdded","attributes":[1],"data":{"text":"x"}}"#, .invalidField, field: "attributes"),
        BadLine("an unknown actor kind", #"{"order_id":"ORD-1","type":"NoteAdded","actor":{"kind":"robot","id":"r"},"data":{"text":"x"}}"#, .invalidField, field: "actor.kind", says: ["robot"]),
        BadLine("a negative expected_version", #"{"order_id":"ORD-1","type":"NoteAdded","expected_version":-1,"data":{"text":"x"}}"#, .invalidField, field: "expected_version"),
        BadLine("a word expected_version", #"{"order_id":"ORD-1","type":"NoteAdded","expected_version":"some","data":{"text":"x"}}"#, .invalidField, field: "expected_version"),
        BadLine("a fractional expected_version", #"{"order_id":"ORD-1","type":"NoteAdded","expected_version":1.5,"data":{"text":"x"}}"#, .invalidField, field: "expected_version"),
        BadLine("a ts that is not RFC 3339", #"{"order_id":"ORD-1","type":"NoteAdded","ts":"yesterday","data":{"text":"x"}}"#, .invalidTimestamp, field: "ts", says: ["yesterday"]),
        BadLine("a ts without offset", #"{"order_id":"ORD-1","type":"NoteAdded","ts":"2026-11-27T08:00:00","data":{"text":"x"}}"#, .invalidTimestamp, field: "ts"),
        // Unknown event types.
        BadLine("an unknown event type", #"{"order_id":"ORD-1","type":"OrderShipped","data":{}}"#, .unknownType, field: "type", says: ["OrderShipped"]),
        BadLine("a type in the wrong case", #"{"order_id":"ORD-1","type":"noteadded","data":{"text":"x"}}"#, .unknownType, field: "type"),
        // Invalid order ids.
        BadLine("a 65-character order_id", "{\"order_id\":\"\(String(repeating: "A", count: 65))\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"x\"}}", .invalidOrderID, field: "order_id", says: ["65"]),
        BadLine("an empty order_id", #"{"order_id":"","type":"NoteAdded","data":{"text":"x"}}"#, .invalidOrderID, field: "order_id"),
        BadLine("an order_id with a space", #"{"order_id":"ORD 1","type":"NoteAdded","data":{"text":"x"}}"#, .invalidOrderID, field: "order_id", says: ["ORD 1"]),
        BadLine("an order_id with a slash", #"{"order_id":"ORD/1","type":"NoteAdded","data":{"text":"x"}}"#, .invalidOrderID, field: "order_id", says: ["'/'"]),
        BadLine("an order_id with a non-ASCII letter", #"{"order_id":"ORD-é","type":"NoteAdded","data":{"text":"x"}}"#, .invalidOrderID, field: "order_id"),
        BadLine("an order_id with a newline", #"{"order_id":"ORD\n","type":"NoteAdded","data":{"text":"x"}}"#, .invalidOrderID, field: "order_id"),
    ]

    @Test("a bad JSON line is refused with a clear error: its code, the field with its path, and what was wrong", arguments: badLines)
    func badLinesAreRefusedClearly(line: BadLine) {
        do {
            let decoded = try OrderEvent.decodeJSONLine(line.bytes)
            Issue.record("accepted: \(decoded.event.jsonLine())")
        } catch {
            #expect(error.code == line.code, "\(error)")
            if let field = line.field { #expect(error.field == field, "\(error)") }
            for text in line.says { #expect(error.message.contains(text), "\(error.message) should say \(text)") }
        }
    }

    @Test("an error found after a valid order_id names the order")
    func errorsNameTheOrder() {
        let e = #expect(throws: OrderError.self) { try decode(#"{"order_id":"ORD-9","type":"Nope","data":{}}"#) }
        #expect(e?.orderID == "ORD-9")
        #expect(e?.description.contains("ORD-9") == true)
    }

    @Test("an event line of more than 1 MiB is refused with event_too_large; exactly 1 MiB is accepted")
    func eventSizeLimit() throws {
        let line = Array(#"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":"x"}}"#.utf8)
        let exact = line + Array(repeating: UInt8(ascii: " "), count: (1 << 20) - line.count)
        #expect(exact.count == OrderEvent.jsonBytesMax)
        #expect(try OrderEvent.decodeJSONLine(exact).event.data == .noteAdded(text: "x"))
        let over = #expect(throws: OrderError.self) { try OrderEvent.decodeJSONLine(exact + [UInt8(ascii: " ")]) }
        #expect(over?.code == .eventTooLarge)
        #expect(over?.message.contains("\((1 << 20) + 1)") == true)
        // A huge event is refused for its size, not for what it holds.
        let huge = Array((#"{"order_id":"ORD-1","type":"NoteAdded","data":{"text":""# + String(repeating: "é", count: 600_000) + #""}}"#).utf8)
        #expect(huge.count > OrderEvent.jsonBytesMax)
        let hugeError = #expect(throws: OrderError.self) { try OrderEvent.decodeJSONLine(huge) }
        #expect(hugeError?.code == .eventTooLarge)
    }
}
