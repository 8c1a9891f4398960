import Testing
@testable import WireProtocol

/// One frame of every message type, with awkward values (empty, unicode, extremes).
let sampleFrames: [Frame] = {
    let stored = WireStoredEvent(position: .max, seq: 7, recordedAt: -1, orderID: "ORD-1", type: 3, payload: [1, 0, 0xFF])
    let messages: [Message] = [
        .hello(protocolVersion: 1, clientName: "storefront-eu ✓", token: ""),
        .welcome(serverVersion: "0.1.0", protocolVersion: 1, role: "producer", limits: WireLimits()),
        .append([WireEvent(orderID: "A", type: 1, payload: []),
                 WireEvent(expectedVersion: .none, orderID: "B", type: 16, payload: [9]),
                 WireEvent(expectedVersion: .exactly(.max), orderID: "C:1", type: 2, payload: Array(repeating: 7, count: 300))]),
        .append([]),
        .appended([.stored(position: 0, seq: 1), .duplicate(position: 99)]),
        .appendRejected(index: 3, code: "over_capture", message: "PaymentCaptured for order A: …"),
        .getHistory(orderID: "ORD-1", afterSeq: 0),
        .getHistory(orderID: "ORD-1", afterSeq: 7),
        .history([stored, stored], more: false),
        .history([stored], more: true),
        .getSnapshot(orderID: "ORD-1", asOf: .now, offset: 0),
        .getSnapshot(orderID: "ORD-1", asOf: .time(-5), offset: 7),
        .getSnapshot(orderID: "ORD-1", asOf: .position(12), offset: .max),
        .snapshot(found: true, json: Array("{\"order_id\":\"ORD-1\"}".utf8), totalBytes: 20, position: 3),
        .snapshot(found: false, json: [], totalBytes: 0, position: 0),
        .listOrders(by: .customer("CUS-1"), limit: 100, cursor: ""),
        .listOrders(by: .status("shipped"), limit: 0, cursor: "ORD-9"),
        .orders(total: 2, ids: ["a", "b"], next: ""),
        .orders(total: 9, ids: ["a"], next: "7"),
        .getTotals(asOf: .now, after: ""), .getTotals(asOf: .time(-7), after: "EURweb"), .getTotals(asOf: .position(9), after: ""),
        .totals([WireTotalsRow(currency: "EUR", channel: "web", orders: 3, total: 100, captured: -1, refunded: .max)], end: 12, next: "EURweb"),
        .subscribe(from: .position(5), credits: 1000, typeMask: 0b101, orderPrefix: "ORD-"),
        .subscribe(from: .end, credits: 1, typeMask: 0, orderPrefix: ""),
        .subscribe(from: .time(1_700_000_000_000_000), credits: 0, typeMask: .max, orderPrefix: "x"),
        .subscribed(startPosition: 42),
        .events([stored]),
        .events([]),
        .credit(500),
        .unsubscribe,
        .subscriptionEnded(code: "closed", message: "bye", nextPosition: 43),
        .ping(nonce: 1), .pong(nonce: .max),
        .error(code: "malformed_frame", message: "frame flags 0x1 are reserved"),
        .close(reason: ""),
    ]
    return messages.enumerated().map { Frame(requestID: UInt32($0.offset) &* 2_654_435_761, message: $0.element) }
}()

func decodeAll(_ bytes: [UInt8], chunk: Int, max: Int = 1 << 20) throws -> [Frame] {
    var decoder = FrameDecoder(maxFrameBytes: max)
    var frames: [Frame] = []
    var i = 0
    while i < bytes.count {
        decoder.append(bytes[i..<min(bytes.count, i + chunk)])
        i += chunk
        while let f = try decoder.next() { frames.append(f) }
    }
    #expect(decoder.bufferedBytes == 0)
    return frames
}

@Suite("Wire protocol frames")
struct FrameCodecTests {
    @Test("every message type survives encode and decode unchanged")
    func roundTrip() throws {
        for frame in sampleFrames {
            #expect(try decodeAll(frame.encoded(), chunk: .max) == [frame], "\(frame.message.type)")
        }
        #expect(Set(sampleFrames.map(\.message.type)) == Set(MessageType.allCases))
    }

    @Test("a stream decodes the same byte at a time, in odd chunks, and all at once", arguments: [1, 2, 3, 7, 64, 4096, Int.max])
    func chunking(chunk: Int) throws {
        let stream = sampleFrames.flatMap { $0.encoded() }
        #expect(try decodeAll(stream, chunk: chunk) == sampleFrames)
    }

    @Test("the header is laid out as docs/PROTOCOL.md §2 says")
    func headerLayout() {
        let bytes = Frame(requestID: 0x0102_0304, message: .ping(nonce: 0x0A0B)).encoded()
        #expect(bytes == [0, 0, 0, 16, 1, 64, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B])
    }

    @Test("a frame over the limit is refused from its header alone, before its payload arrives")
    func tooLarge() {
        var decoder = FrameDecoder(maxFrameBytes: 1000)
        decoder.append([0, 0, 0x10, 0])  // 4096
        #expect(throws: WireError(.frameTooLarge, "frame of 4096 bytes exceeds the limit of 1000")) { try decoder.next() }
    }

    @Test("bad version, reserved flags, a short length and an unknown type are refused with their codes")
    func badHeaders() {
        func code(_ bytes: [UInt8]) -> WireError.Code? {
            var d = FrameDecoder()
            d.append(bytes)
            do { _ = try d.next(); return nil } catch { return error.code }
        }
        let ping = Frame(requestID: 1, message: .ping(nonce: 1)).encoded()
        var v2 = ping; v2[4] = 2
        var flags = ping; flags[7] = 1
        var unknown = ping; unknown[5] = 99
        #expect(code(v2) == .unsupportedVersion)
        #expect(code(flags) == .malformedFrame)
        #expect(code(unknown) == .unknownMessage)
        #expect(code([0, 0, 0, 3]) == .malformedFrame)
    }

    @Test("an incomplete frame yields nothing, at every cut, until its last byte arrives")
    func incomplete() throws {
        let bytes = sampleFrames[2].encoded()
        for cut in 0..<bytes.count {
            var d = FrameDecoder(maxFrameBytes: 1 << 20)
            d.append(bytes[0..<cut])
            #expect(try d.next() == nil, "cut at \(cut)")
            d.append(bytes[cut...])
            #expect(try d.next() == sampleFrames[2])
        }
    }

    @Test("payloads with bytes left over, or fields cut short, are malformed and name the field")
    func malformedPayloads() {
        func decode(_ frame: [UInt8]) -> WireError? {
            var d = FrameDecoder(maxFrameBytes: 1 << 20)
            d.append(frame)
            do { _ = try d.next(); return nil } catch { return error }
        }
        // A ping with one byte too many, length adjusted.
        var extra = Frame(requestID: 1, message: .ping(nonce: 1)).encoded() + [0]
        extra[3] += 1
        #expect(decode(extra)?.code == .malformedFrame)
        #expect(decode(extra)?.message.contains("left over") == true)
        // A hello whose client name claims more bytes than the payload has.
        var hello = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "abc", token: "")).encoded()
        hello[14] = 0xFF
        #expect(decode(hello)?.message.contains("client name") == true)
        // An append that claims 65,535 events in a few bytes is refused before allocating.
        var append = Frame(requestID: 1, message: .append([])).encoded()
        append[12] = 0xFF; append[13] = 0xFF
        #expect(decode(append)?.message.contains("cannot fit") == true)
        // Invalid UTF-8 in a string.
        var bad = Frame(requestID: 1, message: .getHistory(orderID: "ab", afterSeq: 0)).encoded()
        bad[14] = 0xC0
        #expect(decode(bad)?.message.contains("UTF-8") == true)
    }

    @Test("random and mutated bytes never crash the decoder: a frame, a wait, or an error")
    func fuzz() {
        var rng = SystemRandomNumberGenerator()
        let valid = sampleFrames.map { $0.encoded() }
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = valid[round % valid.count]
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            var d = FrameDecoder(maxFrameBytes: 1 << 16)
            d.append(bytes)
            while true {
                do { if try d.next() == nil { break } } catch { break }
            }
        }
    }
}
