import OrderModel

// A reference model of one order, written from issue 3 (§2 rules, §3 snapshot and statuses)
// and deliberately independent of `OrderSnapshot`: plain dictionaries of counters, money
// summed from the events, statuses spelled as the issue spells them. It never calls
// `OrderSnapshot`; the tests compare the two through `OrderObservation`.

/// Per-sku counters (issue 3 §3). They only grow.
struct RefCounters: Hashable, CustomStringConvertible {
    var ordered: Int64 = 0
    var cancelled: Int64 = 0
    var requested: Int64 = 0
    var packed: Int64 = 0
    var shipped: Int64 = 0
    var delivered: Int64 = 0
    var returnRequested: Int64 = 0
    var returned: Int64 = 0

    var description: String {
        "ord \(ordered) can \(cancelled) req \(requested) pak \(packed) shp \(shipped) dlv \(delivered) rrq \(returnRequested) ret \(returned)"
    }
}

struct RefMoney: Hashable {
    var total: Int64
    var authorized: Int64
    var captured: Int64
    var voided: Int64
    var refunded: Int64
}

struct RefPaymentFigures: Hashable {
    var authorized: Int64 = 0
    var captured: Int64 = 0
    var voided: Int64 = 0
    /// Refunds that named this payment.
    var refunded: Int64 = 0
}

struct RefFulfillmentFigures: Hashable {
    var location: String
    var lines: [SkuQuantity]
    var state: String
    var carrier: String?
    var trackingNo: String?
    /// What FulfillmentCancelled events took back, in order.
    var cancelled: [SkuQuantity] = []

    /// Units still held: per sku, requested less cancelled.
    func holds(_ sku: String) -> Int64 {
        lines.filter { $0.sku == sku }.reduce(0) { $0 + $1.qty } - cancelled.filter { $0.sku == sku }.reduce(0) { $0 + $1.qty }
    }
    var held: [SkuQuantity] { lines.compactMap { holds($0.sku) > 0 ? SkuQuantity(sku: $0.sku, qty: holds($0.sku)) : nil } }
}

struct RefReturnFigures: Hashable {
    var lines: [SkuQuantity]
    var reason: String
    var received: [SkuQuantity]?
}

struct RefRefundFigures: Hashable {
    var amount: Int64
    var paymentID: String?
    var returnID: String?
}

/// What both the reference model and a snapshot are compared on.
struct OrderObservation: Hashable {
    var version: Int
    var lastPosition: UInt64?
    var currency: String
    var customerID: String
    var channel: String
    var unitPrices: [String: Int64]
    var counters: [String: RefCounters]
    var money: RefMoney
    var status: String
    var paymentStatus: String
    var returnStatus: String
    var cancelled: Bool
    var notes: Int
    /// Payments with any non-zero figure.
    var payments: [String: RefPaymentFigures]
    var fulfillments: [String: RefFulfillmentFigures]
    var returns: [String: RefReturnFigures]
    var refunds: [String: RefRefundFigures]
    var eventIDs: [String: UInt64]
    var placedAt: Int64?
    var paidAt: Int64?
    var shippedAt: Int64?
    var deliveredAt: Int64?

    /// The fields that differ, one line each, for a readable failure.
    func differences(from other: OrderObservation) -> [String] {
        let mine = Mirror(reflecting: self).children, theirs = Array(Mirror(reflecting: other).children)
        var out: [String] = []
        for (i, child) in mine.enumerated() {
            guard (child.value as? AnyHashable) != (theirs[i].value as? AnyHashable) else { continue }
            out.append("\(child.label ?? "?"): \(child.value)  ≠  \(theirs[i].value)")
        }
        return out
    }
}

struct ReferenceOrder {
    var placed = false
    var version = 0
    var lastPosition: UInt64?
    var currency = ""
    var customerID = ""
    var channel = ""
    /// Skus in the order OrderPlaced listed them.
    var skus: [String] = []
    var unitPrice: [String: Int64] = [:]
    var counters: [String: RefCounters] = [:]
    /// PriceAdjusted amounts, per sku, as made.
    var adjustments: [String: Int64] = [:]
    /// What is still applied of them, per sku: an adjustment applies to the units active when
    /// made; cancelled units take their share, ⌊applied × cancelled ÷ active⌋ toward zero.
    var applied: [String: Int64] = [:]
    var shipping: Int64 = 0
    var tax: Int64 = 0
    var discount: Int64 = 0
    var payments: [String: RefPaymentFigures] = [:]
    /// Payment ids a PaymentAuthorized already used.
    var authorizedIDs: Set<String> = []
    /// Payment ids that only ever failed (a later PaymentAuthorized may use them).
    var failedOnlyIDs: Set<String> = []
    var fulfillments: [String: RefFulfillmentFigures] = [:]
    var fulfillmentOrder: [String] = []
    var returns: [String: RefReturnFigures] = [:]
    var returnOrder: [String] = []
    var refunds: [String: RefRefundFigures] = [:]
    var cancelled = false
    var notes = 0
    var eventIDs: [String: UInt64] = [:]
    var placedAt: Int64?
    var paidAt: Int64?
    var shippedAt: Int64?
    var deliveredAt: Int64?

    /// The largest amount an order may reach (2^53, exact in JSON numbers): authorizations and
    /// the total above it are `amount_out_of_range`.
    static let amountMax: Int64 = 1 << 53

    // MARK: Derived figures (issue 3 §3)

    func c(_ sku: String) -> RefCounters { counters[sku] ?? RefCounters() }
    func active(_ sku: String) -> Int64 { c(sku).ordered - c(sku).cancelled }
    /// Units of a sku that may still be requested for fulfillment or cancelled.
    func open(_ sku: String) -> Int64 { c(sku).ordered - c(sku).cancelled - c(sku).requested }
    func returnable(_ sku: String) -> Int64 { c(sku).delivered - c(sku).returnRequested }

    var authorized: Int64 { payments.values.reduce(0) { $0 + $1.authorized } }
    var captured: Int64 { payments.values.reduce(0) { $0 + $1.captured } }
    var voided: Int64 { payments.values.reduce(0) { $0 + $1.voided } }
    var refunded: Int64 { refunds.values.reduce(0) { $0 + $1.amount } }
    var unitsShipped: Int64 { skus.reduce(0) { $0 + c($1).shipped } }

    /// total = min(2^53, max(0, Σ (ordered − cancelled) × unit_price + Σ applied adjustments
    /// + shipping + tax − the discount's share of the active merchandise, ⌊discount × active
    /// ÷ placed⌋ (placed 0: all of it))); 0 after OrderCancelled.
    var total: Int64 { cancelled ? 0 : min(Self.amountMax, max(0, unclampedTotal(adjusting: nil))) }

    /// What a sku's active units cost, adjustments applied.
    func lineValue(_ sku: String) -> Int64 { active(sku) * unitPrice[sku, default: 0] + applied[sku, default: 0] }

    /// The total before the clamps, with `amount` more adjustment on `sku` if given.
    func unclampedTotal(adjusting change: (sku: String, amount: Int64)?) -> Int64 {
        var active: Int64 = 0, placed: Int64 = 0, adjusted: Int64 = change?.amount ?? 0
        for sku in skus {
            active += self.active(sku) * unitPrice[sku, default: 0]
            placed += c(sku).ordered * unitPrice[sku, default: 0]
            adjusted += applied[sku, default: 0]
        }
        let share = placed == 0 ? discount : Int64(Int128(discount) * Int128(active) / Int128(placed))
        return active + adjusted + shipping + tax - share
    }

    var net: Int64 { captured - refunded }
    var openAuthorization: Int64 { payments.values.reduce(0) { $0 + max(0, $1.authorized - $1.captured - $1.voided) } }

    /// EVENTS.md §7: paid when captured less refunded covers the total, or when nothing is
    /// owed for units still active (a free order).
    var isPaid: Bool {
        if total <= 0 { return net > 0 || (!cancelled && skus.contains { active($0) > 0 }) }
        return net >= total
    }

    var status: String {
        if cancelled || skus.allSatisfy({ c($0).cancelled >= c($0).ordered }) { return "cancelled" }
        if skus.allSatisfy({ c($0).delivered >= active($0) }) { return "delivered" }
        if skus.contains(where: { c($0).delivered > 0 }) { return "partially_delivered" }
        if skus.allSatisfy({ c($0).shipped >= active($0) }) { return "shipped" }
        if skus.contains(where: { c($0).shipped > 0 }) { return "partially_shipped" }
        if skus.contains(where: { c($0).packed > 0 }) { return "packed" }
        if skus.contains(where: { c($0).requested > 0 }) { return "fulfilling" }
        if isPaid { return "paid" }
        if openAuthorization > 0 { return "authorized" }
        if net > 0 || !authorizedIDs.isEmpty { return "awaiting_payment" }
        return "placed"
    }

    var paymentStatus: String {
        if refunded > 0 && net <= 0 { return "refunded" }
        if net > total { return "overpaid" }
        if isPaid { return "paid" }
        if net > 0 { return refunded > 0 ? "partially_refunded" : "partially_paid" }
        if openAuthorization > 0 { return "authorized" }
        return "unpaid"
    }

    var returnStatus: String {
        if returns.isEmpty { return "none" }
        return returns.values.contains { $0.received == nil } ? "requested" : "received"
    }

    var observation: OrderObservation {
        OrderObservation(
            version: version, lastPosition: lastPosition, currency: currency, customerID: customerID, channel: channel,
            unitPrices: unitPrice, counters: counters,
            money: RefMoney(total: total, authorized: authorized, captured: captured, voided: voided, refunded: refunded),
            status: status, paymentStatus: paymentStatus, returnStatus: returnStatus,
            cancelled: cancelled, notes: notes,
            payments: payments.filter { $0.value != RefPaymentFigures() },
            fulfillments: fulfillments, returns: returns, refunds: refunds, eventIDs: eventIDs,
            placedAt: placedAt, paidAt: paidAt, shippedAt: shippedAt, deliveredAt: deliveredAt)
    }

    // MARK: Rules (issue 3 §2, rules 3–8)

    /// The code of the first rule `e` breaks, or nil when the order accepts it.
    func violation(_ e: OrderEvent) -> OrderError.Code? {
        guard placed else {
            guard case .orderPlaced(_, _, let currency, let lines, let shipping, let tax, let discount) = e.data else {
                return .firstEventNotPlaced
            }
            if lines.isEmpty { return .invalidQuantity }
            if Set(lines.map(\.sku)).count != lines.count { return .duplicateSku }
            if lines.contains(where: { $0.qty < 1 }) { return .invalidQuantity }
            if lines.contains(where: { $0.unitPriceMinor < 0 }) { return .negativeAmount }
            if [shipping, tax, discount].contains(where: { ($0 ?? 0) < 0 }) { return .negativeAmount }
            if lines.contains(where: { $0.qty > 1_000_000 }) { return .invalidQuantity }
            let letters = Array(currency.unicodeScalars)
            if letters.count != 3 || !letters.allSatisfy({ $0.value >= 65 && $0.value <= 90 }) { return .invalidCurrency }
            var gross = Double(shipping ?? 0) + Double(tax ?? 0)
            for l in lines { gross += Double(l.qty) * Double(l.unitPriceMinor) }
            if lines.contains(where: { $0.unitPriceMinor > Self.amountMax }) || [shipping, tax, discount].contains(where: { ($0 ?? 0) > Self.amountMax })
                || gross > Double(Self.amountMax) { return .amountOutOfRange }
            if gross - Double(discount ?? 0) < 0 { return .negativeTotal }
            return nil
        }
        switch e.data {
        case .orderPlaced:
            return .alreadyPlaced
        case .paymentAuthorized(let id, let amount):
            if amount < 0 { return .negativeAmount }
            if authorizedIDs.contains(id) { return .duplicateID }
            if authorized + amount > Self.amountMax { return .amountOutOfRange }
            return cancelled ? .orderCancelled : nil
        case .paymentCaptured(let id, let amount):
            if amount < 0 { return .negativeAmount }
            if !authorizedIDs.contains(id) { return .unknownPayment }
            let p = payments[id] ?? RefPaymentFigures()
            if p.captured + amount > p.authorized - p.voided { return .overCapture }
            return cancelled ? .orderCancelled : nil
        case .paymentVoided(let id, let amount):
            if amount < 0 { return .negativeAmount }
            if !authorizedIDs.contains(id) { return .unknownPayment }
            let p = payments[id] ?? RefPaymentFigures()
            if p.voided + amount > p.authorized - p.captured { return .overVoid }
            return nil
        case .paymentFailed:
            return cancelled ? .orderCancelled : nil
        case .fulfillmentRequested(let id, _, let lines):
            if fulfillments[id] != nil { return .duplicateID }
            if let bad = lineViolation(lines) { return bad }
            if lines.contains(where: { $0.qty > open($0.sku) }) { return .overFulfillment }
            return cancelled ? .orderCancelled : nil
        case .fulfillmentPacked(let id):
            guard let f = fulfillments[id] else { return .unknownFulfillment }
            if f.state != "requested" { return .invalidTransition }
            return cancelled ? .orderCancelled : nil
        case .shipped(let id, _, _):
            guard let f = fulfillments[id] else { return .unknownFulfillment }
            if f.state != "requested" && f.state != "packed" { return .invalidTransition }
            return cancelled ? .orderCancelled : nil
        case .delivered(let id):
            guard let f = fulfillments[id] else { return .unknownFulfillment }
            if f.state != "shipped" { return .invalidTransition }
            return cancelled ? .orderCancelled : nil
        case .itemsCancelled(let lines, _):
            if let bad = lineViolation(lines) { return bad }
            if lines.contains(where: { $0.qty > open($0.sku) }) { return .overCancellation }
            return cancelled ? .orderCancelled : nil
        case .orderCancelled:
            if unitsShipped > 0 { return .cancelAfterShipment }
            return cancelled ? .orderCancelled : nil
        case .returnRequested(let id, let lines, _):
            if returns[id] != nil { return .duplicateID }
            if let bad = lineViolation(lines) { return bad }
            if cancelled { return .orderCancelled }
            if lines.contains(where: { $0.qty > returnable($0.sku) }) { return .overReturn }
            return nil
        case .returnReceived(let id, let lines):
            guard let r = returns[id] else { return .unknownReturn }
            if r.received != nil { return .returnAlreadyReceived }
            if let lines, !lines.isEmpty {
                if lines.contains(where: { $0.qty < 1 }) { return .invalidQuantity }
                if Set(lines.map(\.sku)).count != lines.count { return .duplicateSku }
                for l in lines where l.qty > r.lines.filter({ $0.sku == l.sku }).reduce(0, { $0 + $1.qty }) { return .overReturn }
            }
            return cancelled ? .orderCancelled : nil
        case .refundIssued(let id, let amount, let paymentID, let returnID):
            if amount < 0 { return .negativeAmount }
            if refunds[id] != nil { return .duplicateID }
            if refunded + amount > captured { return .overRefund }
            if let paymentID {
                if !authorizedIDs.contains(paymentID) { return .unknownPayment }
                let p = payments[paymentID] ?? RefPaymentFigures()
                if amount > p.captured - p.refunded { return .overRefund }
            }
            if let returnID, returns[returnID] == nil { return .unknownReturn }
            return nil
        case .priceAdjusted(let sku, let amount, _):
            if amount.magnitude > UInt64(Self.amountMax) { return .amountOutOfRange }
            if unitPrice[sku] == nil { return .unknownSku }
            if (adjustments[sku, default: 0] + amount).magnitude > UInt64(Self.amountMax) { return .amountOutOfRange }
            if amount < 0 && lineValue(sku) + amount < 0 { return .negativeTotal }
            let after = unclampedTotal(adjusting: (sku, amount))
            if amount < 0 && after < 0 { return .negativeTotal }
            if after > Self.amountMax { return .amountOutOfRange }
            if cancelled { return .orderCancelled }
            return active(sku) == 0 ? .invalidQuantity : nil
        case .fulfillmentCancelled(let id, let lines, _):
            guard let f = fulfillments[id] else { return .unknownFulfillment }
            if f.state != "requested" && f.state != "packed" { return .invalidTransition }
            if let lines {
                if let bad = lineViolation(lines) { return bad }
                if lines.contains(where: { $0.qty > f.holds($0.sku) }) { return .overCancellation }
            }
            return cancelled ? .orderCancelled : nil
        case .noteAdded:
            return nil
        }
    }

    private func lineViolation(_ lines: [SkuQuantity]) -> OrderError.Code? {
        if lines.isEmpty || lines.contains(where: { $0.qty < 1 }) { return .invalidQuantity }
        if Set(lines.map(\.sku)).count != lines.count { return .duplicateSku }
        if lines.contains(where: { unitPrice[$0.sku] == nil }) { return .unknownSku }
        return nil
    }

    // MARK: Changes

    /// Applies an accepted event. `time` is its `ts`, else its recorded time.
    mutating func apply(_ e: OrderEvent, position: UInt64, time: Int64) {
        switch e.data {
        case .orderPlaced(let customer, let channel, let currency, let lines, let shipping, let tax, let discount):
            placed = true
            customerID = customer
            self.channel = channel
            self.currency = currency
            for l in lines {
                skus.append(l.sku)
                unitPrice[l.sku] = l.unitPriceMinor
                counters[l.sku] = RefCounters(ordered: l.qty)
            }
            self.shipping = shipping ?? 0
            self.tax = tax ?? 0
            self.discount = discount ?? 0
            placedAt = time
        case .paymentAuthorized(let id, let amount):
            payments[id, default: RefPaymentFigures()].authorized += amount
            authorizedIDs.insert(id)
            failedOnlyIDs.remove(id)
        case .paymentCaptured(let id, let amount):
            payments[id, default: RefPaymentFigures()].captured += amount
        case .paymentVoided(let id, let amount):
            payments[id, default: RefPaymentFigures()].voided += amount
        case .paymentFailed(let id, _):
            if !authorizedIDs.contains(id) { failedOnlyIDs.insert(id) }
        case .fulfillmentRequested(let id, let location, let lines):
            fulfillments[id] = RefFulfillmentFigures(location: location, lines: lines, state: "requested")
            fulfillmentOrder.append(id)
            for l in lines { counters[l.sku]!.requested += l.qty }
        case .fulfillmentPacked(let id):
            fulfillments[id]!.state = "packed"
            for l in fulfillments[id]!.held { counters[l.sku]!.packed += l.qty }
        case .shipped(let id, let carrier, let trackingNo):
            fulfillments[id]!.state = "shipped"
            fulfillments[id]!.carrier = carrier
            fulfillments[id]!.trackingNo = trackingNo
            for l in fulfillments[id]!.held { counters[l.sku]!.shipped += l.qty }
            if shippedAt == nil { shippedAt = time }
        case .delivered(let id):
            fulfillments[id]!.state = "delivered"
            for l in fulfillments[id]!.held { counters[l.sku]!.delivered += l.qty }
        case .itemsCancelled(let lines, _):
            for l in lines {
                let a = applied[l.sku, default: 0], n = active(l.sku)
                applied[l.sku] = a - (l.qty >= n ? a : Int64(Int128(a) * Int128(l.qty) / Int128(n)))
                counters[l.sku]!.cancelled += l.qty
            }
        case .orderCancelled:
            cancelled = true
            for sku in skus { counters[sku]!.cancelled = counters[sku]!.ordered; applied[sku] = 0 }
            for id in fulfillmentOrder where fulfillments[id]!.state == "requested" || fulfillments[id]!.state == "packed" {
                fulfillments[id]!.state = "cancelled"
            }
        case .returnRequested(let id, let lines, let reason):
            returns[id] = RefReturnFigures(lines: lines, reason: reason)
            returnOrder.append(id)
            for l in lines { counters[l.sku]!.returnRequested += l.qty }
        case .returnReceived(let id, let lines):
            let units = lines ?? returns[id]!.lines
            returns[id]!.received = units
            for l in units { counters[l.sku]!.returned += l.qty }
            // Asked for and not received: returnable again.
            for l in returns[id]!.lines {
                let came = units.filter { $0.sku == l.sku }.reduce(0) { $0 + $1.qty }
                if l.qty > came { counters[l.sku]!.returnRequested -= l.qty - came }
            }
        case .refundIssued(let id, let amount, let paymentID, let returnID):
            refunds[id] = RefRefundFigures(amount: amount, paymentID: paymentID, returnID: returnID)
            if let paymentID { payments[paymentID, default: RefPaymentFigures()].refunded += amount }
        case .priceAdjusted(let sku, let amount, _):
            adjustments[sku, default: 0] += amount
            applied[sku, default: 0] += amount
        case .noteAdded:
            notes += 1
        case .fulfillmentCancelled(let id, let lines, _):
            let wasPacked = fulfillments[id]!.state == "packed"
            let units = lines ?? fulfillments[id]!.held
            for u in units {
                if let k = fulfillments[id]!.cancelled.firstIndex(where: { $0.sku == u.sku }) { fulfillments[id]!.cancelled[k].qty += u.qty }
                else { fulfillments[id]!.cancelled.append(u) }
            }
            for l in units {
                counters[l.sku]!.requested -= l.qty
                if wasPacked { counters[l.sku]!.packed -= l.qty }
            }
            if fulfillments[id]!.held.isEmpty { fulfillments[id]!.state = "cancelled" }
        }
        // docs/EVENTS.md §7: a milestone is set by whichever event first makes it hold.
        if paidAt == nil && isPaid { paidAt = time }
        if deliveredAt == nil && status == "delivered" { deliveredAt = time }
        version += 1
        lastPosition = position
        if let id = e.eventID { eventIDs[id] = position }
    }
}
