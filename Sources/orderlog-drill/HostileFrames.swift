import Foundation
import OrderModel
import OrderWorkload
import WireProtocol

/// Well-formed frames carrying hostile values: every request type, every event type, extreme
/// integers, strings at and past every limit, invalid UTF-8 inside event payloads, odd
/// attributes, ids that do and do not exist (a long order among them). Seeded: a run can be
/// repeated. The frames are valid at the frame level unless `mangle` says otherwise, so they
/// reach the server's handling of decoded values — what the codec fuzzers cannot.
struct HostileFrames {
    var rng: SplitMix64
    /// Order ids that exist (so requests reach real state), the long order first.
    let knownOrders: [String]

    init(seed: UInt64, knownOrders: [String]) {
        rng = SplitMix64(seed: seed)
        self.knownOrders = knownOrders
    }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(1, n))) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    static let integers: [Int64] = [
        0, 1, -1, 2, 7, 100, 999_999, 1_000_000, 1_000_001, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, -(1 << 53) - 1,
        Int64(Int32.max), Int64(UInt32.max), 1 << 62, -(1 << 62), .max, .min, .max - 1, .min + 1,
        EventTime.microsecondsMin, EventTime.microsecondsMax, EventTime.microsecondsMax + 1, 1_798_761_600_000_000,
    ]

    mutating func integer() -> Int64 { chance(70) ? pick(Self.integers) : Int64(bitPattern: rng.next()) }
    mutating func u64() -> UInt64 { chance(70) ? UInt64(bitPattern: pick(Self.integers)) : rng.next() }
    mutating func u32() -> UInt32 { pick([0, 1, 2, 10, 1000, 10_000, 100_000, 100_001, UInt32.max, UInt32.max - 1, UInt32(truncatingIfNeeded: rng.next())]) }

    /// Strings at and past every limit, with escapes, control characters and Unicode.
    mutating func string() -> String {
        switch below(10) {
        case 0: return ""
        case 1: return String(repeating: "a", count: pick([1023, 1024, 1025, 5000]))
        case 2: return String(repeating: "\u{1}", count: pick([10, 1024, 1025]))
        case 3: return String(repeating: "é", count: pick([512, 513]))
        case 4: return "\"\\\n\r\t\u{0}\u{7F}\u{2028}🎉"
        case 5: return String(repeating: "x", count: pick([70_000, 200_000]))
        case 6: return pick(knownOrders)
        default: return "v\(below(50))"
        }
    }

    /// A string for a `str` field of a frame (at most 65,535 bytes).
    mutating func wireString() -> String {
        let s = string()
        return s.utf8.count > 60_000 ? String(repeating: "w", count: 60_000) : s
    }

    mutating func orderID() -> String {
        switch below(12) {
        case 0: return ""
        case 1: return "bad id"
        case 2: return String(repeating: "O", count: 65)
        case 3: return "ORD-ü"
        case 4...7: return pick(knownOrders)
        default: return "HOSTILE-\(below(200))"
        }
    }

    mutating func lines(_ count: Int? = nil) -> [SkuQuantity] {
        (0..<(count ?? pick([0, 1, 2, 3, 1001]))).map { _ in SkuQuantity(sku: chance(50) ? pick(["A", "B", "SKU-1"]) : string(), qty: integer()) }
    }

    static let attributes = [
        "{}", "{not json", "[1,2]", "", " {} ", #"{"a":1,"a":2}"#, "{\"a\":\n1}", #"{"n":01}"#, #"{"n":NaN}"#, #"{"s":"\ud800"}"#,
        #"{"ok":true,"n":-1.5e3}"#, String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
        "{\"deep\":" + String(repeating: "{\"a\":", count: 63) + "1" + String(repeating: "}", count: 64),
        "{\"big\":\"" + String(repeating: "x", count: 900_000) + "\"}",
    ]

    /// An event of any type with hostile values, as the binary form — sometimes mangled
    /// afterwards (bytes flipped, invalid UTF-8 inserted, cut short).
    mutating func payload(type: EventType) -> [UInt8] {
        var e = OrderEvent(orderID: try! OrderID("X"), data: .noteAdded(text: ""))
        if chance(40) { e.ts = EventTime(microseconds: integer(), offsetMinutes: Int16(truncatingIfNeeded: pick([0, 60, 1439, 1440, -1440, 32767]))) }
        if chance(40) { e.eventID = string() }
        if chance(20) { e.actor = Actor(kind: pick(Actor.Kind.allCases), id: string()) }
        if chance(20) { e.channel = string() }
        if chance(30) { e.attributes = pick(Self.attributes) }
        switch type {
        case .orderPlaced:
            e.data = .orderPlaced(customerID: string(), channel: string(), currency: pick(["EUR", "USD", "eur", "EURO", ""]),
                                  lines: (0..<pick([0, 1, 3, 1001])).map { i in PlacedLine(sku: chance(80) ? "S\(i)" : string(), qty: integer(), unitPriceMinor: integer()) },
                                  shippingMinor: chance(50) ? integer() : nil, taxMinor: chance(50) ? integer() : nil, discountMinor: chance(50) ? integer() : nil)
        case .paymentAuthorized: e.data = .paymentAuthorized(paymentID: string(), amountMinor: integer())
        case .paymentCaptured: e.data = .paymentCaptured(paymentID: string(), amountMinor: integer())
        case .paymentVoided: e.data = .paymentVoided(paymentID: string(), amountMinor: integer())
        case .paymentFailed: e.data = .paymentFailed(paymentID: string(), reason: string())
        case .fulfillmentRequested: e.data = .fulfillmentRequested(fulfillmentID: string(), location: string(), lines: lines())
        case .fulfillmentPacked: e.data = .fulfillmentPacked(fulfillmentID: string())
        case .shipped: e.data = .shipped(fulfillmentID: string(), carrier: string(), trackingNo: string())
        case .delivered: e.data = .delivered(fulfillmentID: string())
        case .itemsCancelled: e.data = .itemsCancelled(lines: lines(), reason: string())
        case .orderCancelled: e.data = .orderCancelled(reason: string())
        case .returnRequested: e.data = .returnRequested(returnID: string(), lines: lines(), reason: string())
        case .returnReceived: e.data = .returnReceived(returnID: string(), lines: chance(50) ? lines() : nil)
        case .refundIssued: e.data = .refundIssued(refundID: string(), amountMinor: integer(), paymentID: chance(50) ? string() : nil, returnID: chance(50) ? string() : nil)
        case .priceAdjusted: e.data = .priceAdjusted(sku: string(), amountMinor: integer(), reason: string())
        case .noteAdded: e.data = .noteAdded(text: string())
        case .fulfillmentCancelled: e.data = .fulfillmentCancelled(fulfillmentID: string(), lines: chance(50) ? lines() : nil, reason: string())
        }
        var bytes = e.encodeBinary()
        if chance(25) && !bytes.isEmpty {
            for _ in 0..<(1 + below(3)) {
                let i = below(bytes.count)
                switch below(4) {
                case 0: bytes[i] ^= UInt8(1 << below(8))
                case 1: bytes.insert(contentsOf: pick([[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F]]), at: i)
                case 2: bytes.removeSubrange(i..<bytes.count)
                default: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                }
                if bytes.isEmpty { break }
            }
        }
        return bytes
    }

    mutating func asOf() -> WireAsOf {
        switch below(3) {
        case 0: .now
        case 1: .time(integer())
        default: .position(chance(50) ? UInt64(below(1000)) : u64())
        }
    }

    /// One request, as the server could meet it after HELLO.
    mutating func message() -> Message {
        switch below(20) {
        case 0...6:
            let events = (0..<pick([1, 1, 2, 5])).map { _ -> WireEvent in
                let type = chance(95) ? pick(EventType.allCases) : .noteAdded
                let code: UInt16 = chance(95) ? type.code : pick([0, 17, 33, 65535])
                let expected: WireExpectedVersion = pick([.any, .any, .none, .exactly(u64()), .exactly(UInt64(below(5)))])
                return WireEvent(expectedVersion: expected, orderID: orderID(), type: code, payload: payload(type: type),
                                 recordedAt: chance(80) ? 0 : integer())
            }
            return .append(chance(3) ? [] : events)
        case 7: return .getHistory(orderID: orderID(), afterSeq: u32())
        case 8, 9: return .getSnapshot(orderID: orderID(), asOf: asOf(), offset: chance(70) ? 0 : u32())
        case 10: return .listOrders(by: chance(50) ? .customer(wireString()) : .status(pick(OrderSnapshot.Status.allCases.map(\.rawValue) + ["", "PLACED", wireString()])),
                                    limit: u32(), cursor: chance(50) ? "" : pick(["0", "-1", "99999999999999999999", wireString()]))
        case 11: return .getTotals(asOf: asOf(), after: chance(70) ? "" : wireString())
        case 12: return .subscribe(from: pick([.end, .position(u64()), .time(integer()), .position(0)]), credits: u32(), typeMask: u32(), orderPrefix: chance(70) ? "" : wireString())
        case 13: return .credit(u32())
        case 14: return .unsubscribe
        case 15: return .ping(nonce: u64())
        case 16: return .hello(protocolVersion: 1, clientName: wireString(), token: "")
        case 17: return pick([.welcome(serverVersion: "x", protocolVersion: 1, role: "admin", limits: WireLimits()), .events([]), .pong(nonce: 1),
                              .appended([]), .subscriptionEnded(code: "x", message: "y", nextPosition: u64())])
        default: return .getSnapshot(orderID: pick(knownOrders), asOf: .position(UInt64(below(200_000))), offset: 0)
        }
    }

    /// A frame of `message`: its request id from a few (so CREDIT and UNSUBSCRIBE sometimes
    /// name a live subscription), its encoding within `frameMax` (a larger one is cut back
    /// to a PING, as no sane client sends what the server refuses at the frame level).
    mutating func frame(frameMax: Int) -> [UInt8] {
        let bytes = Frame(requestID: UInt32(2 + below(6)), message: message()).encoded()
        return bytes.count - 4 <= frameMax ? bytes : Frame(requestID: 1, message: .ping(nonce: 0)).encoded()
    }
}
