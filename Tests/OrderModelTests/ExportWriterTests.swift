import OrderModel
import Testing

/// The one writer of event JSON (`EventView.writeJSONLine` over `JSONBytes`): exact bytes, and
/// the same line whether it starts from an `OrderEvent` or from stored bytes.
@Suite("Export writer")
struct ExportWriterTests {
    /// Writes `stored`'s export line from its binary form, as a fetch or export does.
    private func viewLine(_ stored: StoredEvent) throws -> String {
        let bytes = stored.event.encodeBinary()
        var w = JSONBytes()
        try bytes.withUnsafeBytes { raw in
            let view = try EventView.read(type: stored.event.type, raw)
            var id = stored.event.orderID.value
            try id.withUTF8 { id in
                try StoredEventView(orderID: UnsafeRawBufferPointer(id), event: view,
                                    stored: .init(position: stored.position, seq: stored.seq, recordedAt: stored.recordedAt)).writeExportLine(to: &w)
            }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    @Test("an export line is these exact bytes: escapes (\\\" \\\\ \\n \\r \\t \\u00xx lowercase), raw UTF-8 and DEL, offsets, fractions, negative money, a leap second as .999999")
    func exactBytes() throws {
        let line = #"{"order_id":"EQ-1","type":"OrderPlaced","ts":"2026-03-01T10:00:00.123456-05:30","event_id":"e\"1\\x","actor":{"kind":"agent","id":"a\u0001\u001f\t\n\r"},"channel":"call-center","attributes":{"k":"v\u00e9\n","n":[1.5e-3,-0]},"data":{"customer_id":"c 🎉","channel":"web","currency":"USD","lines":[{"sku":"чай \u0000"#
            + "\u{7F}" + #"","qty":2,"unit_price_minor":1999}],"shipping_minor":500,"tax_minor":0,"discount_minor":-100}}"#
        let event = try OrderEvent.decodeJSONLine(Array(line.utf8)).event
        #expect(event.jsonLine() == line)
        let stored = StoredEvent(event: event, position: 18_446_744_073_709_551_615, seq: 4_294_967_295, recordedAt: -62_135_596_800_000_000)
        let exported = line.dropLast() + #","position":18446744073709551615,"seq":4294967295,"recorded_at":"0001-01-01T00:00:00Z"}"#
        #expect(try stored.exportLine() == exported)
        #expect(try viewLine(stored) == exported)

        let leap = try OrderEvent.decodeJSONLine(Array(#"{"order_id":"L","type":"NoteAdded","ts":"2016-12-31T23:59:60+14:00","data":{"text":""}}"#.utf8)).event
        #expect(leap.jsonLine() == #"{"order_id":"L","type":"NoteAdded","ts":"2016-12-31T23:59:59.999999+14:00","data":{"text":""}}"#)
        // No ts: the export form takes the recorded time.
        var bare = leap
        bare.ts = nil
        #expect(try viewLine(StoredEvent(event: bare, position: 0, seq: 1, recordedAt: 1_000_001)) ==
            #"{"order_id":"L","type":"NoteAdded","ts":"1970-01-01T00:00:01.000001Z","data":{"text":""},"position":0,"seq":1,"recorded_at":"1970-01-01T00:00:01.000001Z"}"#)
    }

    @Test("the line written from stored bytes equals the one written from the decoded event, for every generated lifecycle event")
    func viewAndEventAgree() throws {
        for seed in UInt64(0)..<300 {
            for g in LifecycleGenerator.lifecycle(seed: seed) {
                let fromEvent = try g.stored.exportLine()
                #expect(try viewLine(g.stored) == fromEvent)
                // And it reads back as the event it was written from.
                var decoded = try OrderEvent.decodeJSONLine(Array(fromEvent.utf8)).event
                if g.event.ts == nil { decoded.ts = nil }
                #expect(decoded == g.event)
            }
        }
    }

    @Test("a recorded time no line can carry is refused naming its position, and nothing is written; a ts out of range still prints")
    func recordedTimeOutOfRange() throws {
        let event = OrderEvent(orderID: try OrderID("ORD-9"), data: .noteAdded(text: "x"))
        let stored = StoredEvent(event: event, position: 77, seq: 1, recordedAt: Int64.max)
        #expect(throws: OrderError.self) { try viewLine(stored) }
        do { _ = try viewLine(stored) } catch let error as OrderError {
            #expect(error.code == .corruptPayload)
            #expect(error.message.contains("position 77"))
            #expect(error.orderID == "ORD-9")
        }
        var odd = event
        odd.ts = EventTime(microseconds: Int64.min, offsetMinutes: 0)
        #expect(odd.jsonLine().hasPrefix(#"{"order_id":"ORD-9","type":"NoteAdded","ts":"-"#))
    }

    @Test("one writer's times, in runs of one second and apart, with fractions, offsets and years at and past the ends, are each what a fresh writer writes")
    func timesInRuns() {
        var rng = SystemRandomNumberGenerator()
        var w = JSONBytes()
        var expected = ""
        var t: Int64 = 1_700_000_000_000_000
        let edges: [Int64] = [-62_135_596_800_000_000, 253_402_300_799_999_999, -62_135_596_800_000_000 - 86_400_000_000 * 400, 253_402_300_799_999_999 + 86_400_000_000, -1, 0]
        for k in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: t += Int64.random(in: 1_000_000...3_600_000_000, using: &rng)  // another second
            case 1: t = edges[k % edges.count]
            default: t += Int64.random(in: 0...300, using: &rng)  // the same second, mostly
            }
            let time = EventTime(microseconds: t, offsetMinutes: Int16.random(in: 0..<4, using: &rng) == 0 ? Int16.random(in: -1439...1439, using: &rng) : 0)
            // Each followed by a time of another second, as a line's recorded_at follows its ts.
            let other = EventTime(microseconds: Int64.random(in: 0...4_000_000_000_000_000, using: &rng))
            w.time(time)
            w.time(other)
            expected += "\"" + time.rfc3339 + "\"\"" + other.rfc3339 + "\""
        }
        #expect(w.text == expected)
    }

    @Test("integers print in decimal across Int64 and UInt64, times pad every field")
    func numbersAndTimes() {
        var w = JSONBytes()
        for v: Int64 in [0, 7, -7, 10, -10, Int64.max, Int64.min] { w.int(v); w.raw(" ") }
        w.unsigned(UInt64.max)
        #expect(String(decoding: w.bytes, as: UTF8.self) == "0 7 -7 10 -10 9223372036854775807 -9223372036854775808 18446744073709551615")
        #expect(EventTime(microseconds: -62_135_596_800_000_000 + 1, offsetMinutes: 61).rfc3339 == "0001-01-01T01:01:00.000001+01:01")
        #expect(EventTime(microseconds: 253_402_300_799_999_999, offsetMinutes: -1439).rfc3339 == "9999-12-31T00:00:59.999999-23:59")
    }
}
