@testable import OrderModel
import Testing

/// The one-pass JSON line decoder (`JSONLineDecoder`) is a fast path, never a judge: whatever
/// it decodes, the strict decoder decodes to the same line; whatever it gives up on, the strict
/// decoder answers — and its binary form is exactly what `encodeBinary` writes for the strict
/// decoder's event. These tests hold it to that and check that it does take the lines
/// producers and exports write.
@Suite struct JSONLineDecoderTests {
    /// What the strict decoder makes of `bytes`.
    static func strict(_ bytes: [UInt8]) -> Result<OrderEvent.JSONLine, OrderError> {
        Result { () throws(OrderError) in try OrderEvent.decodeJSONLineStrictly(bytes) }
    }

    /// The fast path's answer, if it gives one, is the strict decoder's.
    static func expectAgrees(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let fast = JSONLineDecoder.decode(bytes) else { return }
        switch strict(bytes) {
        case .failure(let error):
            Issue.record("fast path accepted a line the strict decoder refuses (\(error)): \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        case .success(let reference):
            #expect(same(fast, reference), "fast \(fast) != strict \(reference) for \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        }
    }

    /// The fast path's record is the strict decoder's line in binary form: the same bytes
    /// `encodeBinary` writes for its event, the same condition and export fields.
    static func same(_ a: OrderEvent.JSONRecord, _ b: OrderEvent.JSONLine) -> Bool {
        a.orderID == b.event.orderID && a.type == b.event.type && a.payload == b.event.encodeBinary()
            && a.expectedVersion == b.expectedVersion && a.position == b.position && a.seq == b.seq && a.recordedAt == b.recordedAt
    }

    /// Printable ASCII with no escape: a line the fast path must take.
    static func plain(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C } }

    /// Every event the lifecycle generator makes, printed plain and in the export form:
    /// decoded by the fast path to what the strict decoder gives, and taken by the fast path
    /// whenever the line is plain ASCII.
    @Test func decodesWhatProducersAndExportsWrite() {
        var taken = 0, plainLines = 0
        for seed in UInt64(0)..<400 {
            for generated in LifecycleGenerator.lifecycle(seed: seed) {
                for line in [generated.event.jsonLine(), generated.event.jsonLine(stored: generated.stored)] {
                    let bytes = Array(line.utf8)
                    Self.expectAgrees(bytes)
                    let fast = JSONLineDecoder.decode(bytes)
                    if fast != nil { taken += 1 }
                    if Self.plain(bytes) {
                        plainLines += 1
                        #expect(fast != nil, "the fast path gave up on a plain line: \(line)")
                    }
                }
            }
        }
        #expect(plainLines > 1000)
        #expect(taken >= plainLines)
    }

    /// Field order, spacing and optional fields are a producer's choice: `data` before `type`,
    /// spaces around every token, `expected_version` in each form.
    @Test func takesAnyFieldOrderAndSpacing() throws {
        let lines = [
            #"{"data":{"reason":"x"},"type":"OrderCancelled","order_id":"A-1"}"#,
            #"  { "order_id" : "A-1" , "type" : "NoteAdded" , "data" : { "text" : "hi" } , "expected_version" : 3 }  "#,
            "{\"order_id\":\"A-1\",\t\"type\":\"NoteAdded\",\r\n\"data\":{\"text\":\"hi\"},\"expected_version\":\"none\"}",
            #"{"order_id":"A-1","type":"RefundIssued","data":{"amount_minor":-0,"refund_id":"r"},"expected_version":"any","position":0,"seq":1,"recorded_at":"2026-01-02T03:04:05.123456+05:30"}"#,
            #"{"order_id":"A-1","type":"OrderPlaced","ts":"2026-06-30T23:59:60Z","data":{"customer_id":"c","channel":"web","currency":"EUR","lines":[],"shipping_minor":0,"tax_minor":9007199254740992,"discount_minor":-9007199254740992}}"#,
            #"{"order_id":"A-1","type":"ReturnReceived","data":{"return_id":"r","lines":[]}}"#,
            #"{"order_id":"A-1","type":"FulfillmentCancelled","attributes":{ },"data":{"fulfillment_id":"f","reason":"r","lines":[{"qty":2,"sku":"s"}]}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","attributes":{"a":[1,{"b":"}"}],"c":"\"{"},"data":{"text":"t"}}"#,
        ]
        for line in lines {
            let bytes = Array(line.utf8)
            let fast = try #require(JSONLineDecoder.decode(bytes), "the fast path gave up on \(line)")
            let reference = try Self.strict(bytes).get()
            #expect(Self.same(fast, reference), "\(line)")
        }
    }

    /// Lines the fast path must leave to the strict decoder, which either decodes them (escapes,
    /// non-ASCII) or names what is wrong.
    @Test func givesUpOnWhatItDoesNotJudge() {
        let lines = [
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"a\"b"}}"#,            // escape
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"café"}}"#,            // non-ASCII
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"t"},"x":1}"#,          // unknown field
            #"{"order_id":"A-1","order_id":"A-1","type":"NoteAdded","data":{"text":"t"}}"#, // repeated
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"t","text":"u"}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":null}}"#,
            #"{"order_id":"A-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":1.0}}"#,
            #"{"order_id":"A-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":1e2}}"#,
            #"{"order_id":"A-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":01}}"#,
            #"{"order_id":"A-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":9007199254740993}}"#,
            #"{"order_id":"A-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":7,"reason":"r"}}"#,
            #"{"order_id":"A-1","type":"ItemsCancelled","data":{"reason":"r","lines":[{"sku":"s","qty":1000001}]}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"t"}} x"#,
            #"{"order_id":"A 1","type":"NoteAdded","data":{"text":"t"}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","ts":"2026-02-30T00:00:00Z","data":{"text":"t"}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","attributes":{"a":1,"a":2},"data":{"text":"t"}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","attributes":[1],"data":{"text":"t"}}"#,
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"t"},"seq":0}"#,
            #"{"order_id":"A-1","type":"NoteAdded","data":{"text":"t"},"expected_version":-1}"#,
            #"{"order_id":"A-1","type":"NoteAdded"}"#,
            #"{"order_id":"A-1","data":{"text":"t"}}"#,
            "{\"order_id\":\"A-1\",\"type\":\"NoteAdded\",\"data\":{\"text\":\"\(String(repeating: "n", count: 1025))\"}}",
            "",
            "{}",
            // A time is a string field: past 1024 bytes the strict decoder refuses it.
            "{\"order_id\":\"A-1\",\"type\":\"NoteAdded\",\"ts\":\"2026-01-01T00:00:00.\(String(repeating: "1", count: 1100))Z\",\"data\":{\"text\":\"t\"}}",
        ]
        for line in lines {
            let bytes = Array(line.utf8)
            #expect(JSONLineDecoder.decode(bytes) == nil, "the fast path took \(line)")
        }
    }

    /// Every small corruption of a generated line: whatever the fast path still decodes, the
    /// strict decoder decodes to the same line.
    @Test func agreesWithTheStrictDecoderOnMutatedLines() {
        var rng = SplitMix64(seed: 0x5EED_F00D)
        let alphabet: [UInt8] = Array(#""\{}[],: 0-.eE+n1t9azZ"#.utf8) + [0x80, 0xC3, 0x01, 0x7F, 0x0A]
        var lines: [[UInt8]] = []
        for seed in UInt64(0)..<60 {
            for generated in LifecycleGenerator.lifecycle(seed: seed) {
                lines.append(Array(generated.event.jsonLine(stored: generated.stored).utf8))
            }
        }
        var checked = 0
        for line in lines {
            for _ in 0..<20 {
                var m = line
                for _ in 0...rng.below(3) {
                    let at = rng.below(m.count + 1)
                    switch rng.below(4) {
                    case 0 where at < m.count: m.remove(at: at)
                    case 1 where at < m.count: m[at] = rng.element(alphabet)
                    case 2: m.insert(rng.element(alphabet), at: at)
                    default:
                        let end = min(m.count, at + 1 + rng.below(12))
                        if at < end { m.insert(contentsOf: m[at..<end], at: at) }
                    }
                }
                Self.expectAgrees(m)
                checked += 1
            }
        }
        #expect(checked > 10_000)
    }
}
