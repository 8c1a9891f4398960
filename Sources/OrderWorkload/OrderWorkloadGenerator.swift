import OrderModel

/// A realistic, seeded stream of order events: many orders in flight at once, so an order's
/// events are spread through the log, with cancellations, split shipments, returns and partial
/// refunds at configurable rates. Every event it emits passes the lifecycle rules.
public struct OrderWorkloadGenerator: Sendable {
    public struct Options: Sendable {
        public var orders = 1000
        public var seed: UInt64 = 1
        /// Orders whose events interleave at any moment.
        public var inFlight = 1000
        public var cancelRate = 0.05
        public var returnRate = 0.08
        public var splitShipmentRate = 0.15
        public var partialRefundRate = 0.03
        /// A fulfillment the warehouse cannot ship: cancelled and requested again elsewhere.
        public var rerouteRate = 0.03
        /// Of the returns, the share where fewer units come back than were asked for.
        public var partialReceiptRate = 0.3
        /// Refunded in full before anything shipped, then cancelled.
        public var refundBeforeShippingRate = 0.01
        /// A surcharge (gift wrap, express) after payment, authorized and captured on its own.
        public var surchargeRate = 0.02
        /// The first order's placement time, µs since the Unix epoch (default 2026-01-01T00:00:00Z).
        public var startMicroseconds: Int64 = 1_767_225_600_000_000
        public var customers = 50_000
        /// The most recently placed orders left mid-life (the file ends as a live shop's log
        /// would: some orders paid, some packed, some on their way). nil: min(inFlight, orders / 10).
        public var openOrders: Int?
        /// Order ids are this prefix and an 8-digit number (several generators with different
        /// prefixes never collide).
        public var idPrefix = "ORD-"
        public init() {}
    }

    public let options: Options
    public init(options: Options) { self.options = options }

    static let channels = ["web", "app", "store", "marketplace", "call_center"]
    /// Mostly 2-decimal currencies, with a 0-decimal (JPY) and a 3-decimal one (BHD).
    static let currencies = ["USD", "USD", "USD", "EUR", "GBP", "USD", "EUR", "JPY", "BHD"]
    static let locations = ["WH-BER-1", "WH-AMS-2", "WH-NYC-1", "WH-SFO-3", "WH-LON-1"]
    static let carriers = ["UPS", "DHL", "FedEx", "USPS", "DPD"]

    /// Calls `emit` for every event, in stream order.
    public func generate(_ emit: (OrderEvent) throws -> Void) rethrows {
        var rng = SplitMix64(seed: options.seed)
        var active: [[OrderEvent]] = []   // remaining events of each in-flight order, reversed
        var nextOrder = 0
        let open = options.openOrders ?? min(options.inFlight, options.orders / 10)
        func startOrder() {
            var plan = self.plan(order: nextOrder, rng: &rng)
            if nextOrder >= options.orders - open {
                plan.removeLast(plan.count - 1 - Int(rng.next() % UInt64(plan.count)))
            }
            plan.reverse()
            active.append(plan)
            nextOrder += 1
        }
        while nextOrder < options.orders && active.count < options.inFlight { startOrder() }
        while !active.isEmpty {
            let i = Int(rng.next() % UInt64(active.count))
            let event = active[i].removeLast()
            try emit(event)
            if active[i].isEmpty {
                active.swapAt(i, active.count - 1)
                active.removeLast()
                if nextOrder < options.orders { startOrder() }
            }
        }
    }

    /// One order's whole life, valid under the rules.
    func plan(order: Int, rng: inout SplitMix64) -> [OrderEvent] {
        let digits = String(order + 1)
        let id = try! OrderID(options.idPrefix + String(repeating: "0", count: max(0, 8 - digits.count)) + digits)
        var events: [OrderEvent] = []
        var t = options.startMicroseconds + Int64(order) * 45_000_000 + Int64(rng.next() % 30_000_000)
        var n = 0
        func add(_ data: EventData, actor: Actor, channel: String? = nil, minutes: ClosedRange<Int64> = 1...30) {
            n += 1
            t += 60_000_000 * (minutes.lowerBound + Int64(rng.next() % UInt64(minutes.upperBound - minutes.lowerBound + 1)))
            events.append(OrderEvent(orderID: id, ts: EventTime(microseconds: t), eventID: "\(id.value)-e\(n)", actor: actor, channel: channel, data: data))
        }
        func chance(_ p: Double) -> Bool { Double(rng.next() % 1_000_000) / 1_000_000 < p }

        let channel = Self.channels[Int(rng.next() % UInt64(Self.channels.count))]
        let currency = Self.currencies[Int(rng.next() % UInt64(Self.currencies.count))]
        let customer = "CUS-\(100_000 + Int(rng.next() % UInt64(options.customers)))"
        var skus = Set<String>()
        var lines: [PlacedLine] = []
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let sku = "SKU-\(10_000 + rng.next() % 5000)"
            guard skus.insert(sku).inserted else { continue }
            lines.append(PlacedLine(sku: sku, qty: 1 + Int64(rng.next() % 3), unitPriceMinor: 499 + Int64(rng.next() % 200) * 100))
        }
        let shipping: Money = rng.next() % 3 == 0 ? 0 : 599
        let subtotal = lines.reduce(0) { $0 + $1.qty * $1.unitPriceMinor }
        let tax = subtotal * 8 / 100
        let total = subtotal + shipping + tax
        let customerActor = Actor(kind: .customer, id: customer)
        let payments = Actor(kind: .integration, id: "payments")
        let warehouse = Actor(kind: .system, id: "wms")
        add(.orderPlaced(customerID: customer, channel: channel, currency: currency, lines: lines, shippingMinor: shipping, taxMinor: tax, discountMinor: nil),
            actor: customerActor, channel: channel, minutes: 0...0)
        if chance(0.02) { add(.paymentFailed(paymentID: "PAY-\(order)-0", reason: "card_declined"), actor: payments) }
        let pay = "PAY-\(order)-1"
        add(.paymentAuthorized(paymentID: pay, amountMinor: total), actor: payments, minutes: 0...2)
        if chance(options.cancelRate) {
            add(.orderCancelled(reason: "customer_request"), actor: Actor(kind: .agent, id: "agent-\(rng.next() % 40)"), channel: "call_center", minutes: 5...120)
            add(.paymentVoided(paymentID: pay, amountMinor: total), actor: payments)
            return events
        }
        add(.paymentCaptured(paymentID: pay, amountMinor: total), actor: payments, minutes: 1...60)
        if chance(options.refundBeforeShippingRate) {
            // Refunded in full before anything shipped (a fraud check, a change of mind).
            add(.refundIssued(refundID: "REF-\(order)-0", amountMinor: total, paymentID: pay, returnID: nil), actor: payments, minutes: 10...240)
            add(.orderCancelled(reason: "refunded_before_shipping"), actor: Actor(kind: .agent, id: "agent-\(rng.next() % 40)"), channel: "call_center", minutes: 1...30)
            return events
        }
        if chance(options.surchargeRate) {
            // Gift wrap added after payment: its own authorization and capture.
            let surcharge: Money = 300 + Money(rng.next() % 5) * 100
            add(.priceAdjusted(sku: lines[0].sku, amountMinor: surcharge, reason: "gift_wrap"), actor: customerActor, channel: channel, minutes: 5...120)
            add(.paymentAuthorized(paymentID: "PAY-\(order)-2", amountMinor: surcharge), actor: payments, minutes: 0...2)
            add(.paymentCaptured(paymentID: "PAY-\(order)-2", amountMinor: surcharge), actor: payments, minutes: 1...60)
        }
        // Fulfillments: everything at once, or split in two.
        var groups: [[SkuQuantity]] = [lines.map { SkuQuantity(sku: $0.sku, qty: $0.qty) }]
        let units = lines.reduce(0) { $0 + $1.qty }
        if units >= 2 && chance(options.splitShipmentRate) {
            var first: [SkuQuantity] = [], second: [SkuQuantity] = []
            for (k, l) in lines.enumerated() {
                if l.qty >= 2 && k == 0 { first.append(SkuQuantity(sku: l.sku, qty: 1)); second.append(SkuQuantity(sku: l.sku, qty: l.qty - 1)) }
                else if k % 2 == 0 { first.append(SkuQuantity(sku: l.sku, qty: l.qty)) } else { second.append(SkuQuantity(sku: l.sku, qty: l.qty)) }
            }
            groups = [first, second].filter { !$0.isEmpty }
        }
        for (k, group) in groups.enumerated() {
            var f = "FUL-\(order)-\(k + 1)"
            var location = Self.locations[Int(rng.next() % 5)]
            add(.fulfillmentRequested(fulfillmentID: f, location: location, lines: group), actor: warehouse, minutes: 5...240)
            if chance(options.rerouteRate) {
                // The warehouse cannot ship it: cancelled, and requested again from another.
                add(.fulfillmentCancelled(fulfillmentID: f, lines: nil, reason: "out_of_stock_at_\(location)"), actor: warehouse, minutes: 30...600)
                location = Self.locations[(Self.locations.firstIndex(of: location)! + 1) % Self.locations.count]
                f += "-R"
                add(.fulfillmentRequested(fulfillmentID: f, location: location, lines: group), actor: warehouse, minutes: 5...120)
            }
            if !chance(0.1) { add(.fulfillmentPacked(fulfillmentID: f), actor: warehouse, minutes: 30...600) }
            let carrier = Self.carriers[Int(rng.next() % 5)]
            add(.shipped(fulfillmentID: f, carrier: carrier, trackingNo: "\(carrier.prefix(2).uppercased())\(100_000_000 + rng.next() % 900_000_000)"), actor: warehouse, minutes: 60...1440)
            add(.delivered(fulfillmentID: f), actor: Actor(kind: .integration, id: "carrier-events"), minutes: 600...5760)
        }
        if chance(0.05) { add(.noteAdded(text: "Customer asked about delivery window"), actor: Actor(kind: .agent, id: "agent-\(rng.next() % 40)"), channel: "call_center") }
        if chance(options.returnRate) {
            let line = lines[0]
            let r = "RET-\(order)-1"
            if line.qty >= 2 && chance(options.partialReceiptRate) {
                // Two asked back, one came: the other stays returnable.
                add(.returnRequested(returnID: r, lines: [SkuQuantity(sku: line.sku, qty: 2)], reason: "does_not_fit"), actor: customerActor, channel: channel, minutes: 1440...10080)
                add(.returnReceived(returnID: r, lines: [SkuQuantity(sku: line.sku, qty: 1)]), actor: warehouse, minutes: 1440...7200)
            } else {
                add(.returnRequested(returnID: r, lines: [SkuQuantity(sku: line.sku, qty: 1)], reason: "does_not_fit"), actor: customerActor, channel: channel, minutes: 1440...10080)
                add(.returnReceived(returnID: r, lines: nil), actor: warehouse, minutes: 1440...7200)
            }
            add(.refundIssued(refundID: "REF-\(order)-1", amountMinor: line.unitPriceMinor, paymentID: pay, returnID: r), actor: payments, minutes: 10...600)
        } else if chance(options.partialRefundRate) {
            add(.refundIssued(refundID: "REF-\(order)-1", amountMinor: max(1, total / 10), paymentID: pay, returnID: nil), actor: Actor(kind: .agent, id: "agent-\(rng.next() % 40)"), minutes: 60...2880)
        }
        return events
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform for a seed.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
