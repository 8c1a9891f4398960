import OrderModel
import Testing

/// SplitMix64: a tiny, fully deterministic generator (no dependence on the standard library's
/// random algorithms), so a seed names the same lifecycle on every machine and toolchain.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<n
    mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    mutating func int(_ range: ClosedRange<Int64>) -> Int64 {
        let width = UInt64(range.upperBound - range.lowerBound) &+ 1
        if width == 0 { return Int64(bitPattern: next()) }
        return range.lowerBound + Int64(next() % width)
    }

    /// True with probability `percent`/100.
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    mutating func element<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// A non-empty subset, in the original order.
    mutating func subset<T>(_ items: [T]) -> [T] {
        precondition(!items.isEmpty)
        var out = items.filter { _ in chance(50) }
        if out.isEmpty { out = [element(items)] }
        return out
    }

    mutating func shuffled<T>(_ items: [T]) -> [T] {
        var a = items
        if a.count < 2 { return a }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
        return a
    }
}

/// One generated event with where and when the log would have stored it.
struct GeneratedEvent: Sendable {
    var event: OrderEvent
    var position: UInt64
    var recordedAt: Int64
    /// Its sequence within the order (the order's version after it).
    var seq: UInt32

    /// When it happened: `ts`, else the recorded time (what `apply` takes as `time`).
    var time: Int64 { event.ts?.microseconds ?? recordedAt }
    var stored: StoredEvent { StoredEvent(event: event, position: position, seq: seq, recordedAt: recordedAt) }
}

/// Text pools shared by the generators: unicode, escapes and control characters on purpose.
enum Pools {
    static let skus = ["SKU-1", "SKU-2", "mug/blue", "чай-500g", "T-shirt \"L\"", "🎧-pro", "sku\\back", "A", "tab\tsku", "x-17"]
    static let currencies = ["USD", "EUR", "JPY", "GBP", "CHF", "SEK"]
    static let channels = ["web", "app", "store", "marketplace", "call-center", "b2b/edi"]
    static let locations = ["DC-EAST", "DC-WEST", "store #12", "Lager Nürnberg", "倉庫-3"]
    static let carriers = ["UPS", "DHL Express", "La Poste", "ヤマト運輸"]
    static let reasons = [
        "customer request", "out of stock", "damaged in transit", "café ☕ closed", "size – too “small”",
        "line1\nline2", "quote \" and backslash \\", "tab\there", "\u{1}\u{1F}control", "emoji 🎉👍🏽", "", "/slash/ ok",
    ]
    static let notes = reasons + ["Called the customer; will ship Monday.", String(repeating: "long note ", count: 60), "日本語のメモ", "\u{7F}del and \u{2028} line separator"]
    static let actorIDs = ["cust-1", "agent.smith", "svc:payments", "ünïcode-agent", "erp\"bridge"]
    /// Attribute objects, as raw JSON text: odd spacing, nesting, escapes, unicode, numbers of every shape.
    static let attributes = [
        #"{"b": 1,  "a":[true,null]}"#,
        #"{}"#,
        #"{ "nested" : { "k" : "v\u00e9\n" } , "n": -1.5e3 , "z":0}"#,
        #"{"emoji":"🎉","esc":"\"q\"\\","sl":"\/"}"#,
        // No raw LF: a JSON line cannot carry one (EVENTS.md §4); a CR is JSON whitespace.
        "{\t\"multi\": [1, 2.50, -0, 1E+2],\r \"deep\": {\"a\": {\"b\": {\"c\": []}}}\t}",
        #"{"dup-looking":"a","dup-looking2":"a","big":123456789012345678901234567890}"#,
    ]
}

/// A seeded generator of VALID event sequences for one order. It keeps its own reference
/// model and builds each next event from that model's state so that every rule holds; the
/// model's own rule check must agree that the event is valid.
struct LifecycleGenerator {
    private(set) var rng: SplitMix64
    let orderID: OrderID
    /// The reference order after every event emitted so far.
    private(set) var model = ReferenceOrder()
    /// How many events this lifecycle has.
    let length: Int
    private(set) var emitted = 0
    private var position: UInt64
    private var clock: Int64
    private var serial = 0

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 17)
        let shapes = ["ORD-\(seed)", "o.\(seed):web_2026-11", "B2B:\(seed)", "x\(seed)-" + String(repeating: "z", count: Int(seed % 30))]
        orderID = try! OrderID(shapes[Int(seed % UInt64(shapes.count))])
        length = 1 + rng.below(70)
        position = UInt64(rng.below(1000))
        clock = 1_767_225_600_000_000 + rng.int(0...31_536_000_000_000)  // during 2026
    }

    var isFinished: Bool { emitted >= length }

    /// Every event of the lifecycle of `seed`.
    static func lifecycle(seed: UInt64) -> [GeneratedEvent] {
        var g = LifecycleGenerator(seed: seed)
        var out: [GeneratedEvent] = []
        while !g.isFinished { out.append(g.next()) }
        return out
    }

    private mutating func newID(_ prefix: String) -> String {
        serial += 1
        return "\(prefix)-\(serial)"
    }

    // MARK: Metadata

    /// Where and when the next event is stored: other orders' events sit between this order's.
    private mutating func advance() -> (UInt64, Int64) {
        position += 1 + UInt64(rng.below(40))
        clock += rng.int(1...7_200_000_000)
        return (position, clock)
    }

    mutating func randomTime(near recorded: Int64) -> EventTime {
        let offsets: [Int16] = [0, 0, 60, 120, -300, -330, 330, 345, -210, 840, -720, 59]
        var micros = recorded - rng.int(0...172_800_000_000)
        if rng.chance(40) { micros -= micros % 1_000_000 }  // whole seconds print without a fraction
        return EventTime(microseconds: micros, offsetMinutes: rng.element(offsets))
    }

    /// Optional envelope fields, each present or not.
    private mutating func dress(_ data: EventData, recorded: Int64) -> OrderEvent {
        var e = OrderEvent(orderID: orderID, data: data)
        if rng.chance(50) { e.ts = randomTime(near: recorded) }
        if rng.chance(60) { e.eventID = newID(rng.chance(50) ? "evt" : "idem/ü") }
        if rng.chance(30) { e.actor = Actor(kind: rng.element(Actor.Kind.allCases), id: rng.element(Pools.actorIDs)) }
        if rng.chance(30) { e.channel = rng.element(Pools.channels) }
        if rng.chance(25) { e.attributes = rng.element(Pools.attributes) }
        return e
    }

    // MARK: Next event

    private enum Step: CaseIterable {
        case authorize, capture, void, fail, request, pack, ship, deliver, cancelItems, cancelOrder
        case requestReturn, receiveReturn, refund, adjust, note, cancelFulfillment
    }

    /// The next valid event; the generator's model moves past it.
    mutating func next() -> GeneratedEvent {
        let (position, recorded) = advance()
        let data = model.placed ? nextData() : placedData()
        let event = dress(data, recorded: recorded)
        if let code = model.violation(event) {
            Issue.record("generator bug: the reference model refuses its own event (\(code)): \(event.jsonLine())")
        }
        emitted += 1
        let generated = GeneratedEvent(event: event, position: position, recordedAt: recorded, seq: UInt32(emitted))
        model.apply(event, position: position, time: generated.time)
        return generated
    }

    private mutating func placedData() -> EventData {
        let skus = Array(rng.shuffled(Pools.skus).prefix(1 + rng.below(4)))
        let lines = skus.map { PlacedLine(sku: $0, qty: rng.int(1...5), unitPriceMinor: rng.chance(10) ? 0 : rng.int(1...20_000)) }
        let subtotal = lines.reduce(0) { $0 + $1.qty * $1.unitPriceMinor }
        return .orderPlaced(
            customerID: rng.chance(80) ? "cust-\(rng.below(5000))" : "client “Zoë” 🎁",
            channel: rng.element(Pools.channels), currency: rng.element(Pools.currencies), lines: lines,
            shippingMinor: rng.chance(60) ? rng.int(0...1500) : nil,
            taxMinor: rng.chance(50) ? rng.int(0...3000) : nil,
            discountMinor: rng.chance(30) ? rng.int(0...min(2000, subtotal)) : nil)
    }

    private func available(_ id: String) -> Int64 {
        let p = model.payments[id] ?? RefPaymentFigures()
        return p.authorized - p.voided - p.captured
    }

    private mutating func nextData() -> EventData {
        let m = model
        let authorized = m.authorizedIDs.sorted()
        let capturable = authorized.filter { available($0) > 0 }
        let openSkus = m.skus.filter { m.open($0) > 0 }
        let requested = m.fulfillmentOrder.filter { m.fulfillments[$0]!.state == "requested" }
        let shippable = m.fulfillmentOrder.filter { ["requested", "packed"].contains(m.fulfillments[$0]!.state) }
        let shipped = m.fulfillmentOrder.filter { m.fulfillments[$0]!.state == "shipped" }
        let returnable = m.skus.filter { m.returnable($0) > 0 }
        let openReturns = m.returnOrder.filter { m.returns[$0]!.received == nil }
        let refundable = m.captured - m.refunded

        var weighted: [(Step, Int)] = []
        if m.cancelled {
            if !capturable.isEmpty { weighted.append((.void, 3)) }
            if refundable > 0 { weighted.append((.refund, 3)) }
            weighted.append((.note, 1))
        } else {
            let unpaid = m.authorized - m.voided - m.captured < m.total
            weighted.append((.authorize, unpaid ? 4 : 1))
            if !capturable.isEmpty { weighted.append((.capture, 6)) }
            if !capturable.isEmpty { weighted.append((.void, 1)) }
            weighted.append((.fail, 1))
            if !openSkus.isEmpty { weighted.append((.request, 6)); weighted.append((.cancelItems, 1)) }
            if !requested.isEmpty { weighted.append((.pack, 3)) }
            if !shippable.isEmpty { weighted.append((.ship, 4)); weighted.append((.cancelFulfillment, 2)) }
            if !shipped.isEmpty { weighted.append((.deliver, 4)) }
            if m.unitsShipped == 0 { weighted.append((.cancelOrder, 1)) }
            if !returnable.isEmpty { weighted.append((.requestReturn, 3)) }
            if !openReturns.isEmpty { weighted.append((.receiveReturn, 3)) }
            if refundable > 0 { weighted.append((.refund, 2)) }
            weighted.append((.adjust, 1))
            weighted.append((.note, 1))
        }
        var pick = rng.below(weighted.reduce(0) { $0 + $1.1 })
        var step = Step.note
        for (s, w) in weighted {
            if pick < w { step = s; break }
            pick -= w
        }

        switch step {
        case .authorize:
            let reuse = m.failedOnlyIDs.sorted()
            let id = !reuse.isEmpty && rng.chance(50) ? rng.element(reuse) : newID("pay")
            let owed = max(0, m.total - (m.authorized - m.voided - m.captured))
            let amount: Int64 = rng.chance(3) ? 0 : (rng.chance(60) && owed > 0 ? owed : rng.int(1...max(1, owed + 500)))
            return .paymentAuthorized(paymentID: id, amountMinor: amount)
        case .capture:
            let id = rng.element(capturable)
            let avail = available(id)
            let amount: Int64 = rng.chance(3) ? 0 : (rng.chance(55) ? avail : rng.int(1...avail))
            return .paymentCaptured(paymentID: id, amountMinor: amount)
        case .void:
            let id = rng.element(capturable)
            let avail = available(id)
            return .paymentVoided(paymentID: id, amountMinor: rng.chance(50) ? avail : rng.int(0...avail))
        case .fail:
            let id = !authorized.isEmpty && rng.chance(40) ? rng.element(authorized) : newID("pay")
            return .paymentFailed(paymentID: id, reason: rng.element(["insufficient_funds", "card declined", "3DS ❌ timeout", "fraud\nsuspected"]))
        case .request:
            let lines = rng.subset(openSkus).map { sku in
                let open = m.open(sku)
                return SkuQuantity(sku: sku, qty: rng.chance(40) ? open : rng.int(1...open))
            }
            return .fulfillmentRequested(fulfillmentID: newID("ful"), location: rng.element(Pools.locations), lines: lines)
        case .pack:
            return .fulfillmentPacked(fulfillmentID: rng.element(requested))
        case .ship:
            return .shipped(fulfillmentID: rng.element(shippable), carrier: rng.element(Pools.carriers), trackingNo: "1Z\(rng.below(1_000_000_000))")
        case .deliver:
            return .delivered(fulfillmentID: rng.element(shipped))
        case .cancelItems:
            // Never refused for adjustments or discounts: their shares go with the units.
            let lines = rng.subset(openSkus).map { SkuQuantity(sku: $0, qty: rng.int(1...m.open($0))) }
            return .itemsCancelled(lines: lines, reason: rng.element(Pools.reasons))
        case .cancelFulfillment:
            // The warehouse cannot ship it: wholly, or some of its units (issue 10).
            let id = rng.element(shippable)
            let held = m.fulfillments[id]!.held
            if rng.chance(50) { return .fulfillmentCancelled(fulfillmentID: id, lines: nil, reason: "out of stock at \(m.fulfillments[id]!.location)") }
            let lines = rng.subset(held).map { SkuQuantity(sku: $0.sku, qty: rng.int(1...$0.qty)) }
            return .fulfillmentCancelled(fulfillmentID: id, lines: lines, reason: rng.element(Pools.reasons))
        case .cancelOrder:
            return .orderCancelled(reason: rng.element(Pools.reasons))
        case .requestReturn:
            let lines = rng.subset(returnable).map { SkuQuantity(sku: $0, qty: rng.int(1...m.returnable($0))) }
            return .returnRequested(returnID: newID("ret"), lines: lines, reason: rng.element(Pools.reasons))
        case .receiveReturn:
            let id = rng.element(openReturns)
            if rng.chance(50) { return .returnReceived(returnID: id, lines: nil) }
            let lines = rng.subset(m.returns[id]!.lines).map { SkuQuantity(sku: $0.sku, qty: rng.int(1...$0.qty)) }
            return .returnReceived(returnID: id, lines: lines)
        case .refund:
            var limit = refundable
            var paymentID: String?
            let payable = m.payments.keys.sorted().filter { m.payments[$0]!.captured - m.payments[$0]!.refunded > 0 }
            if !payable.isEmpty && rng.chance(45) {
                let id = rng.element(payable)
                paymentID = id
                limit = min(limit, m.payments[id]!.captured - m.payments[id]!.refunded)
            }
            let returnID = !m.returnOrder.isEmpty && rng.chance(40) ? rng.element(m.returnOrder) : nil
            let amount = rng.chance(40) ? limit : rng.int(1...limit)
            return .refundIssued(refundID: newID("rf"), amountMinor: amount, paymentID: paymentID, returnID: returnID)
        case .adjust:
            // On a line with active units; a cut takes neither the line nor the total below 0.
            let live = m.skus.filter { m.active($0) > 0 }
            guard !live.isEmpty else { return .noteAdded(text: "no line to adjust") }
            let sku = rng.element(live)
            let room = max(0, min(m.lineValue(sku), m.unclampedTotal(adjusting: nil)))
            let low = room > 5000 ? -5000 : -room
            let amount = rng.chance(15) ? -room : rng.int(low...(max(low, 0) + 3000))
            return .priceAdjusted(sku: sku, amountMinor: amount, reason: rng.element(Pools.reasons))
        case .note:
            return .noteAdded(text: rng.element(Pools.notes))
        }
    }
}
