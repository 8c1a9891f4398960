import Testing
@testable import OrderModel

private let orderID = try! OrderID("ORD-limits")

private func note(_ text: String = "x", _ change: (inout OrderEvent) -> Void = { _ in }) -> OrderEvent {
    var e = OrderEvent(orderID: orderID, data: .noteAdded(text: text))
    change(&e)
    return e
}

private func validationError(_ e: OrderEvent) -> OrderError? {
    do { try e.validate(); return nil } catch { return error }
}

private func decodeBinary(_ bytes: [UInt8], _ type: EventType) -> Result<OrderEvent, OrderError> {
    bytes.withUnsafeBytes { buffer in
        Result { () throws(OrderError) -> OrderEvent in try OrderEvent.decodeBinary(orderID: orderID, type: type, buffer) }
    }
}

@Suite("Event limits: one check for every way in")
struct EventLimitsTests {
    @Test("a string field over 1024 bytes is refused naming the field, whichever field it is", arguments: [
        "event_id", "actor.id", "channel", "data.text", "data.customer_id", "data.lines[0].sku", "data.reason", "data.tracking_no",
    ])
    func longStringsAreRefused(field: String) {
        let long = String(repeating: "é", count: 513)  // 1026 bytes
        var e = note()
        switch field {
        case "event_id": e.eventID = long
        case "actor.id": e.actor = Actor(kind: .agent, id: long)
        case "channel": e.channel = long
        case "data.text": e.data = .noteAdded(text: long)
        case "data.customer_id": e.data = .orderPlaced(customerID: long, channel: "web", currency: "EUR", lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 1)], shippingMinor: nil, taxMinor: nil, discountMinor: nil)
        case "data.lines[0].sku": e.data = .itemsCancelled(lines: [SkuQuantity(sku: long, qty: 1)], reason: "")
        case "data.reason": e.data = .orderCancelled(reason: long)
        case "data.tracking_no": e.data = .shipped(fulfillmentID: "F", carrier: "UPS", trackingNo: long)
        default: Issue.record("no case for \(field)")
        }
        let error = validationError(e)
        #expect(error?.code == .invalidField)
        #expect(error?.field == field)
        #expect(error?.orderID == orderID.value)
        // 1024 bytes exactly is fine.
        #expect(validationError(note(String(repeating: "a", count: 1024))) == nil)
    }

    @Test("attributes must be one canonical JSON object: not an array, not broken JSON, no duplicate keys, no surrounding space, no raw line feed", arguments: [
        "{not json", "[1,2]", "", " {}", "{} ", "{ }", "{\t}", #"{"a":1,"a":2}"#, "{\"a\":\n1}", #"{"n":01}"#, #"{"n":NaN}"#, #"{"s":"\ud800"}"#, "\"text\"",
    ])
    func badAttributesAreRefused(raw: String) {
        let error = validationError(note { $0.attributes = raw })
        #expect(error?.code == .invalidField, "\(raw)")
        #expect(error?.field == "attributes")
    }

    @Test("attributes nested 64 levels deep counted from the line are refused, 63 inside attributes are accepted")
    func attributesDepth() {
        func nested(_ n: Int) -> String { String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n) }
        // attributes itself is level 1; n objects reach level n, their innermost value n + 1.
        #expect(validationError(note { $0.attributes = nested(63) }) == nil)
        #expect(validationError(note { $0.attributes = nested(64) })?.field == "attributes")
    }

    @Test("integers beyond ±2^53 and quantities beyond 1,000,000 are refused by the same check as JSON import")
    func integerRanges() {
        var e = note()
        e.data = .paymentCaptured(paymentID: "P", amountMinor: (1 << 53) + 1)
        #expect(validationError(e)?.field == "data.amount_minor")
        e.data = .itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 1_000_001)], reason: "")
        #expect(validationError(e)?.field == "data.lines[0].qty")
        e.data = .orderPlaced(customerID: "c", channel: "w", currency: "EUR", lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: .min)], shippingMinor: nil, taxMinor: nil, discountMinor: nil)
        #expect(validationError(e)?.field == "data.lines[0].unit_price_minor")
        e.data = .fulfillmentRequested(fulfillmentID: "F", location: "L", lines: (0...1000).map { SkuQuantity(sku: "S\($0)", qty: 1) })
        #expect(validationError(e)?.field == "data.lines")
    }

    @Test("a ts in range as an instant whose offset would print year 10000 is refused")
    func tsPrintingYear10000IsRefused() {
        let e = note { $0.ts = EventTime(microseconds: EventTime.microsecondsMax, offsetMinutes: 60) }
        #expect(validationError(e)?.code == .invalidTimestamp)
        #expect(validationError(note { $0.ts = EventTime(microseconds: EventTime.microsecondsMax, offsetMinutes: 0) }) == nil)
        #expect(validationError(note { $0.ts = EventTime(microseconds: .min) })?.code == .invalidTimestamp)
    }

    @Test("an event whose export line would pass 1 MiB is refused as event_too_large, though its binary form is smaller")
    func exportLineLimit() {
        // 1,044,000 bytes of attributes and a note of 1024 control characters (six bytes each
        // once escaped): the binary payload is under 1 MiB, the export line over it.
        let big = "{\"a\":\"" + String(repeating: "x", count: 1_044_000) + "\"}"
        let e = note(String(repeating: "\u{1}", count: 1024)) { $0.attributes = big }
        #expect(e.encodeBinary().count < EventLimits.jsonLineBytesMax)
        #expect(validationError(e)?.code == .eventTooLarge)
        // Near the limit but within it: accepted, and its export line is within 1 MiB.
        let fits = note { $0.attributes = "{\"a\":\"" + String(repeating: "x", count: 1_047_000) + "\"}" }
        #expect(validationError(fits) == nil)
        #expect(fits.exportLineBytesWorstCase <= EventLimits.jsonLineBytesMax)
    }

    @Test("the cheap bound of the export line is never below its exact length", arguments: propertySeeds)
    func exportBoundHolds(seed: UInt64) {
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            #expect(g.event.exportLineBytesBound >= g.event.exportLineBytesWorstCase)
        }
    }

    // MARK: The binary decoder refuses what it cannot store as sent

    @Test("a 10-byte varint with bits past bit 63 is refused, not silently changed")
    func varintPastBit63() throws {
        // PaymentCaptured, payment "P" (a length of 1 is the zigzag varint 0x02), then the
        // amount as a varint whose 10th byte is 0x02: a bit past bit 63.
        var bytes: [UInt8] = [1, 0, 2, 0x50]
        bytes += [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]
        guard case .failure(let error) = decodeBinary(bytes, .paymentCaptured) else { Issue.record("accepted"); return }
        #expect(error.code == .corruptPayload)
        #expect(error.message.contains("bit 63"))
        // The same varint with bit 63 only (0x01) is valid: zigzag 2^63 is 2^62.
        bytes[13] = 0x01
        #expect(try decodeBinary(bytes, .paymentCaptured).get().data == .paymentCaptured(paymentID: "P", amountMinor: 1 << 62))
    }

    @Test("invalid UTF-8 in a binary string is refused, not repaired")
    func invalidUTF8() {
        let bytes: [UInt8] = [1, 0, 4, 0xC3, 0x28]  // NoteAdded, text of 2 bytes (zigzag 4): a broken sequence
        guard case .failure(let error) = decodeBinary(bytes, .noteAdded) else { Issue.record("accepted"); return }
        #expect(error.message.contains("UTF-8"))
    }

    @Test("unknown flag bits and presence bits are refused, not dropped")
    func unknownFlagBits() {
        #expect(throws: OrderError.self) { try decodeBinary([1, 32, 2, 0x78], .noteAdded).get() }
        #expect(throws: OrderError.self) { try decodeBinary([1, 0, 2, 0x52, 2], .returnReceived).get() }
        #expect(throws: OrderError.self) { try decodeBinary([1, 0, 2, 0x52, 0, 4], .refundIssued).get() }
    }

    // MARK: The invariant

    @Test("every event that passes the check exports to a line that imports back to the same stored bytes (random and mutated binary payloads)", arguments: propertySeeds)
    func acceptedEventsRoundTripThroughExport(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &+ 991)
        var accepted = 0
        for g in LifecycleGenerator.lifecycle(seed: seed) {
            let canonical = g.event.encodeBinary()
            for round in 0..<20 {
                var bytes = canonical
                if round > 0 {
                    // Mutate: flip, insert, delete or overwrite with extreme bytes.
                    for _ in 0..<(1 + rng.below(3)) {
                        let i = rng.below(max(1, bytes.count))
                        switch rng.below(4) {
                        case 0 where !bytes.isEmpty: bytes[i] ^= UInt8(1 << rng.below(8))
                        case 1: bytes.insert(rng.element([0x00, 0x7F, 0x80, 0xFF, 0x0A, 0x22, 0x5C, 0xC3]), at: min(i, bytes.count))
                        case 2 where bytes.count > 1: bytes.remove(at: i)
                        default: if !bytes.isEmpty { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
                        }
                    }
                }
                guard case .success(var event) = bytes.withUnsafeBytes({ b in
                    Result { () throws(OrderError) -> OrderEvent in try OrderEvent.decodeBinary(orderID: g.event.orderID, type: g.event.type, b) }
                }) else { continue }
                guard (try? event.validate()) != nil else { continue }
                accepted += 1
                // What the store keeps: the canonical form, with a ts filled in when missing.
                if event.ts == nil { event.ts = EventTime(microseconds: g.recordedAt) }
                let stored = event.encodeBinary()
                let line = try StoredEvent(event: event, position: g.position, seq: g.seq, recordedAt: g.recordedAt).exportLine()
                #expect(line.utf8.count <= EventLimits.jsonLineBytesMax)
                let back = try OrderEvent.decodeJSONLine(Array(line.utf8))
                #expect(back.event.encodeBinary() == stored, "\(line)")
                #expect(back.recordedAt == g.recordedAt)
                try back.event.validate()
            }
        }
        #expect(accepted > 0)
    }
}

@Suite("Event times: ranges, leap seconds, total formatting")
struct EventTimeRangeTests {
    @Test("a leap second never compares earlier than the second before it, nor later than the next")
    func leapSecondOrdering() throws {
        let before = try EventTime(rfc3339: "2016-12-31T23:59:59.7Z")
        let leap = try EventTime(rfc3339: "2016-12-31T23:59:60.2Z")
        let leapLater = try EventTime(rfc3339: "2016-12-31T23:59:60.3Z")
        let after = try EventTime(rfc3339: "2017-01-01T00:00:00Z")
        #expect(before < leap)
        #expect(!(leapLater < leap))
        #expect(leap < after)
        #expect(leap.rfc3339 == "2016-12-31T23:59:59.999999Z")
        // In another offset, too.
        #expect(try EventTime(rfc3339: "2017-01-01T00:59:60+01:00").microseconds == leap.microseconds)
    }

    @Test("year 0000 and instants outside years 0001–9999 are refused by the parser", arguments: [
        "0000-06-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00",
    ])
    func outOfRangeRefused(text: String) {
        #expect(throws: OrderError.self) { try EventTime(rfc3339: text) }
    }

    @Test("the first and last instants of the range parse and print back")
    func rangeEnds() throws {
        for text in ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999+00:01"] {
            #expect(try EventTime(rfc3339: text).rfc3339 == text)
        }
    }

    @Test("formatting never traps, whatever the value", arguments: [Int64.min, Int64.min + 1, -62_135_596_800_000_001, -1, 0, 253_402_300_800_000_000, Int64.max])
    func formattingIsTotal(micros: Int64) {
        for offset: Int16 in [0, 1439, -1439, .max, .min] {
            let text = EventTime(microseconds: micros, offsetMinutes: offset).rfc3339
            #expect(!text.isEmpty)
            // What an out-of-range time prints never parses back as some other time.
            if !EventTime(microseconds: micros, offsetMinutes: offset).isInRange {
                #expect((try? EventTime(rfc3339: text)) == nil, "\(text)")
            }
        }
    }

    @Test("a stored event with an out-of-range recorded time is an export error naming its position, not a trap")
    func exportOfDamagedTime() {
        let stored = StoredEvent(event: note(), position: 42, seq: 1, recordedAt: .min)
        #expect(throws: OrderError.self) { try stored.exportLine() }
        do { _ = try stored.exportLine() } catch { #expect(error.message.contains("position 42")) }
    }
}
