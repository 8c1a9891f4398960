import LogStorage

/// Order-lifecycle-shaped records for benchmarks and demos of the storage engine: keys like
/// real order ids, and ~120-byte payloads shaped like a compact binary encoding of order
/// events (field tags, varints, short ids and names), not random bytes, so compression
/// figures mean something. Deterministic for a given seed.
public struct OrderLikeWorkload: Sendable {
    /// The steps of a typical order's life; record `type` is the index + 1.
    public static let lifecycle = ["OrderPlaced", "PaymentAuthorized", "PaymentCaptured", "FulfillmentRequested", "FulfillmentPacked", "Shipped", "Delivered"]

    static let carriers = ["UPS", "DHL", "FedEx", "USPS", "GLS", "DPD"]
    static let locations = ["WH-BER-1", "WH-AMS-2", "WH-NYC-1", "WH-SFO-3"]
    static let channels = ["web", "app", "pos", "marketplace"]
    static let currencies = ["USD", "EUR", "GBP"]

    public var seed: UInt64

    public init(seed: UInt64 = 42) { self.seed = seed }

    public func key(order: Int) -> LogKey {
        try! LogKey("ord-\(order + 1_000_000)")
    }

    /// The payload of step `step` (0-based, into `lifecycle`) of order `order`.
    public func payload(order: Int, step: Int) -> [UInt8] {
        var rng = SplitMix(seed: seed &+ UInt64(order) &* 0x9E37_79B9 &+ UInt64(step))
        var w = PayloadWriter()
        w.byte(1)                                  // codec version
        w.byte(UInt8(step + 1))                    // event type
        w.varint(UInt64(1_700_000_000_000_000 + order * 1000 + step * 60_000_000))  // ts (µs)
        w.string("evt-\(order)-\(step)")           // event_id
        w.string("system")                         // actor kind
        w.string(Self.channels[Int(rng.next() % 4)])
        switch step {
        case 0:
            w.string("cus-\(rng.next() % 2_000_000)")
            w.string(Self.currencies[Int(rng.next() % 3)])
            let lines = 1 + Int(rng.next() % 3)
            w.varint(UInt64(lines))
            for _ in 0..<lines {
                w.string("SKU-\(10_000 + rng.next() % 5000)")
                w.varint(1 + rng.next() % 3)
                w.varint(499 + rng.next() % 20_000)
            }
            w.varint(rng.next() % 1500)
        case 1, 2:
            w.string("pay-\(order)")
            w.varint(1999 + rng.next() % 40_000)
            w.string("card")
        case 3:
            w.string("ful-\(order)-1")
            w.string(Self.locations[Int(rng.next() % 4)])
            w.string("SKU-\(10_000 + rng.next() % 5000)")
            w.varint(1 + rng.next() % 3)
        case 5:
            w.string("ful-\(order)-1")
            let carrier = Self.carriers[Int(rng.next() % 6)]
            w.string(carrier)
            w.string("\(carrier.prefix(2).uppercased())\(100_000_000 + rng.next() % 900_000_000)")
        default:
            w.string("ful-\(order)-1")
        }
        // Attributes kept as-is: a short JSON object, as integrations send them.
        w.string("{\"source\":\"\(Self.channels[Int(rng.next() % 4)])\",\"region\":\"eu-\(rng.next() % 4)\",\"trace\":\"\(String(rng.next() % 0xFFFF_FFFF, radix: 16))\"}")
        return w.bytes
    }

    public func request(order: Int, step: Int) -> AppendRequest {
        AppendRequest(key: key(order: order), type: RecordType(UInt16(step + 1)), payload: payload(order: order, step: step))
    }

    /// Record `n` of a stream in which `concurrentOrders` orders are in flight at once and
    /// each takes `lifecycle.count` steps: orders interleave the way a live shop's do.
    public func request(streamIndex n: Int, concurrentOrders: Int = 1000) -> AppendRequest {
        let steps = Self.lifecycle.count
        let wave = n / (concurrentOrders * steps)
        let within = n % (concurrentOrders * steps)
        let step = within / concurrentOrders
        let order = wave * concurrentOrders + within % concurrentOrders
        return request(order: order, step: step)
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct PayloadWriter {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(160) }
    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }
    mutating func string(_ s: String) {
        varint(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
}
