/// An order's state, replayed from its events: what `show` prints, what the rules check
/// against, and what the status lists index. A value: applying an event to a copy and
/// keeping the copy only if every event of the batch passes is how a batch stays atomic.
public struct OrderSnapshot: Hashable, Sendable {
    public struct SkuLine: Hashable, Sendable {
        public var sku: String
        public var unitPriceMinor: Money
        public var ordered: Int64 = 0
        public var cancelled: Int64 = 0
        public var requested: Int64 = 0
        public var packed: Int64 = 0
        public var shipped: Int64 = 0
        public var delivered: Int64 = 0
        public var returnRequested: Int64 = 0
        public var returned: Int64 = 0
        public var adjustmentsMinor: Money = 0

        /// Units still owed to the customer: ordered and not cancelled.
        public var active: Int64 { ordered - cancelled }

        /// The part of the line's price adjustments still applied: an adjustment applies to
        /// the units active when it is made, and cancelling units takes back their share of
        /// what the line holds, ⌊applied × cancelled ÷ active⌋ toward zero (docs/EVENTS.md §7,
        /// "Money").
        public internal(set) var adjustmentsAppliedMinor: Money = 0

        /// What the line's units still active cost: active × price + the adjustments applied.
        public var activeValueMinor: Money { active * unitPriceMinor + adjustmentsAppliedMinor }

        /// `applied`'s share for `units` of `active` units, toward zero, without overflow.
        static func share(of applied: Money, units: Int64, active: Int64) -> Money {
            guard active > 0, units > 0, applied != 0 else { return 0 }
            guard units < active else { return applied }
            let product = applied.magnitude.multipliedFullWidth(by: UInt64(units))
            let share = Int64(UInt64(active).dividingFullWidth(product).quotient)
            return applied < 0 ? -share : share
        }
    }

    public struct Payment: Hashable, Sendable {
        public var id: String
        public var authorized: Money = 0
        public var captured: Money = 0
        public var voided: Money = 0
        public var refunded: Money = 0
        public var authorizations: Int = 0
        public var failures: Int = 0
        public var lastFailureReason: String?
    }

    public struct Fulfillment: Hashable, Sendable {
        public enum State: String, Sendable { case requested, packed, shipped, delivered, cancelled }
        public var id: String
        public var location: String
        public var lines: [SkuQuantity]
        public var state: State = .requested
        public var carrier: String?
        public var trackingNo: String?
        /// Units of `lines` a FulfillmentCancelled took back (released to the order).
        public var cancelledLines: [SkuQuantity] = []

        /// The units the fulfillment still holds: its lines less what was cancelled
        /// (`cancelledLines` holds one entry a sku).
        public var openLines: [SkuQuantity] {
            guard !cancelledLines.isEmpty else { return lines }
            return lines.compactMap { l in
                let left = l.qty - (cancelledLines.first { $0.sku == l.sku }?.qty ?? 0)
                return left > 0 ? SkuQuantity(sku: l.sku, qty: left) : nil
            }
        }
    }

    public struct Return: Hashable, Sendable {
        public var id: String
        public var lines: [SkuQuantity]
        public var reason: String
        /// The units received, once the return is closed.
        public var received: [SkuQuantity]?
    }

    public struct Refund: Hashable, Sendable {
        public var id: String
        public var amountMinor: Money
        public var paymentID: String?
        public var returnID: String?
    }

    public enum Status: String, Sendable, CaseIterable {
        case placed
        /// Money is owed and no authorization is left to capture it (after a refund, a
        /// price increase, a partial capture).
        case awaitingPayment = "awaiting_payment"
        case authorized, paid, fulfilling, packed
        case partiallyShipped = "partially_shipped", shipped
        case partiallyDelivered = "partially_delivered", delivered, cancelled
    }

    public enum PaymentStatus: String, Sendable, CaseIterable {
        case unpaid, authorized
        case partiallyPaid = "partially_paid", paid
        /// Captured less refunded exceeds the total: a refund is due.
        case overpaid
        case partiallyRefunded = "partially_refunded", refunded
    }

    public enum ReturnStatus: String, Sendable, CaseIterable { case none, requested, received }

    public let orderID: OrderID
    /// The order's state, flat (`OrderState`): what the rules read and change. The properties
    /// below are built from it when asked for.
    var state = OrderState()

    /// How many events the order has.
    public var version: UInt32 { state.header.version }
    public var lastPosition: UInt64? { state.header.lastPosition == .max ? nil : state.header.lastPosition }
    /// Where its OrderPlaced is in the log: orders are "newer" by this.
    public var placedPosition: UInt64? { state.header.placedPosition == .max ? nil : state.header.placedPosition }
    public var currency: String { state.string(state.header.currency) ?? "" }
    public var customerID: String { state.string(state.header.customerID) ?? "" }
    public var channel: String { state.string(state.header.channel) ?? "" }
    public var shippingMinor: Money { state.header.shippingMinor }
    public var taxMinor: Money { state.header.taxMinor }
    public var discountMinor: Money { state.header.discountMinor }
    public var isCancelled: Bool { state.header.flags & 1 != 0 }
    public var notes: Int { Int(state.header.notes) }
    /// Milestones, µs since the Unix epoch (the event's `ts`, or its recorded time).
    public var placedAt: Int64? { Self.time(state.header.placedAt) }
    public var paidAt: Int64? { Self.time(state.header.paidAt) }
    public var shippedAt: Int64? { Self.time(state.header.shippedAt) }
    public var deliveredAt: Int64? { Self.time(state.header.deliveredAt) }
    private static func time(_ t: Int64) -> Int64? { t == .min ? nil : t }

    public var lines: [SkuLine] {
        (0..<state.count(.lines)).map { i in
            let r = state.record(.lines, i, as: LineRecord.self)
            var l = SkuLine(sku: state.string(r.sku) ?? "", unitPriceMinor: r.unitPriceMinor, ordered: r.ordered, cancelled: r.cancelled,
                            requested: r.requested, packed: r.packed, shipped: r.shipped, delivered: r.delivered,
                            returnRequested: r.returnRequested, returned: r.returned, adjustmentsMinor: r.adjustmentsMinor)
            l.adjustmentsAppliedMinor = r.adjustmentsAppliedMinor
            return l
        }
    }

    public var payments: [Payment] {
        (0..<state.count(.payments)).map { i in
            let r = state.record(.payments, i, as: PaymentRecord.self)
            return Payment(id: state.string(r.id) ?? "", authorized: r.authorized, captured: r.captured, voided: r.voided, refunded: r.refunded,
                           authorizations: Int(r.authorizations), failures: Int(r.failures), lastFailureReason: state.string(r.lastFailureReason))
        }
    }

    public var fulfillments: [Fulfillment] {
        (0..<state.count(.fulfillments)).map { i in
            let r = state.record(.fulfillments, i, as: FulfillmentRecord.self)
            let units = self.units(first: r.firstUnit, count: r.unitCount)
            let cancelled = units.filter { $0.cancelRank > 0 }.sorted { $0.cancelRank < $1.cancelRank }
                .map { SkuQuantity(sku: state.string($0.cancelSku) ?? sku(of: $0), qty: $0.cancelled) }
            return Fulfillment(id: state.string(r.id) ?? "", location: state.string(r.location) ?? "",
                               lines: units.map { SkuQuantity(sku: sku(of: $0), qty: $0.qty) }, state: r.fulfillmentState,
                               carrier: state.string(r.carrier), trackingNo: state.string(r.trackingNo), cancelledLines: cancelled)
        }
    }

    public var returns: [Return] {
        (0..<state.count(.returns)).map { i in
            let r = state.record(.returns, i, as: ReturnRecord.self)
            let received = r.isReceived == 0 ? nil : units(first: r.firstReceived, count: r.receivedCount).map { SkuQuantity(sku: sku(of: $0), qty: $0.qty) }
            return Return(id: state.string(r.id) ?? "", lines: units(first: r.firstUnit, count: r.unitCount).map { SkuQuantity(sku: sku(of: $0), qty: $0.qty) },
                          reason: state.string(r.reason) ?? "", received: received)
        }
    }

    public var refunds: [Refund] {
        (0..<state.count(.refunds)).map { i in
            let r = state.record(.refunds, i, as: RefundRecord.self)
            return Refund(id: state.string(r.id) ?? "", amountMinor: r.amountMinor, paymentID: state.string(r.paymentID), returnID: state.string(r.returnID))
        }
    }

    /// Idempotency keys seen, with the position of the event that carried each, oldest first.
    public var eventIDs: [(id: String, position: UInt64)] {
        (0..<state.count(.eventIDs)).map { i in
            let r = state.record(.eventIDs, i, as: EventIDRecord.self)
            return (state.string(r.id) ?? "", r.position)
        }
    }

    private func units(first: UInt32, count: UInt32) -> [UnitRecord] {
        (Int(first)..<Int(first + count)).map { state.record(.units, $0, as: UnitRecord.self) }
    }

    /// A unit's sku as its event spelled it.
    private func sku(of u: UnitRecord) -> String {
        state.string(u.sku) ?? state.string(state.record(.lines, Int(u.line), as: LineRecord.self).sku) ?? ""
    }

    public func position(ofEventID id: String) -> UInt64? {
        state.firstIndex(.eventIDs, as: EventIDRecord.self, key: \.id, equals: id).map { state.record(.eventIDs, $0, as: EventIDRecord.self).position }
    }

    public static func == (a: OrderSnapshot, b: OrderSnapshot) -> Bool {
        if a.orderID == b.orderID && a.state.header == b.state.header && a.state.storage == b.state.storage { return true }
        return a.orderID == b.orderID && a.version == b.version && a.lastPosition == b.lastPosition && a.placedPosition == b.placedPosition && a.currency == b.currency
            && a.customerID == b.customerID && a.channel == b.channel && a.lines == b.lines && a.shippingMinor == b.shippingMinor
            && a.taxMinor == b.taxMinor && a.discountMinor == b.discountMinor && a.payments == b.payments
            && a.fulfillments == b.fulfillments && a.returns == b.returns && a.refunds == b.refunds && a.isCancelled == b.isCancelled
            && a.notes == b.notes && a.placedAt == b.placedAt && a.paidAt == b.paidAt && a.shippedAt == b.shippedAt
            && a.deliveredAt == b.deliveredAt && a.eventIDs.elementsEqual(b.eventIDs, by: { $0.id == $1.id && $0.position == $1.position })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(orderID)
        hasher.combine(version)
        hasher.combine(lastPosition)
    }

    /// Bytes the snapshot holds in memory: its header and its one buffer.
    public var byteCount: Int { MemoryLayout<OrderSnapshot>.size + state.storage.capacity }

    public init(orderID: OrderID) { self.orderID = orderID }

    /// The largest amount an order may reach, in minor units (2^53: exact in JSON numbers).
    public static let amountMax: Money = 1 << 53
    /// Units on one line of an event (bounds every counter sum far inside Int64).
    public static let quantityMax: Int64 = 1_000_000
    /// Lines in one event.
    public static let linesMax = 1000

    public var exists: Bool { version > 0 }

    // MARK: Money

    public var authorizedMinor: Money { state.sum(.payments, as: PaymentRecord.self) { $0.authorized } }
    public var capturedMinor: Money { state.sum(.payments, as: PaymentRecord.self) { $0.captured } }
    public var voidedMinor: Money { state.sum(.payments, as: PaymentRecord.self) { $0.voided } }
    public var refundedMinor: Money { state.sum(.refunds, as: RefundRecord.self) { $0.amountMinor } }
    public var adjustmentsMinor: Money { state.sum(.lines, as: LineRecord.self) { $0.adjustmentsMinor } }
    /// The adjustments that follow units still active (each line's share).
    public var adjustmentsAppliedMinor: Money { state.sum(.lines, as: LineRecord.self) { $0.adjustmentsAppliedMinor } }
    /// Captured less refunded: what the order has been paid and kept.
    public var netPaidMinor: Money { capturedMinor - refundedMinor }
    /// Authorized less captured less voided: what can still be captured.
    public var openAuthorizationMinor: Money { state.sum(.payments, as: PaymentRecord.self) { max(0, $0.authorized - $0.captured - $0.voided) } }

    /// Σ ordered × unit price: the merchandise as placed, which the order-level discount was
    /// given against.
    public var placedMerchandiseMinor: Money { state.sum(.lines, as: LineRecord.self) { $0.ordered * $0.unitPriceMinor } }
    /// Σ (ordered − cancelled) × unit price: the merchandise still owed to the customer.
    public var activeMerchandiseMinor: Money { state.sum(.lines, as: LineRecord.self) { $0.active * $0.unitPriceMinor } }

    /// The part of the order-level discount still applied: its share of the merchandise still
    /// active, rounded down — ⌊discount × active ÷ placed⌋ (docs/EVENTS.md §7, "Money"). As in
    /// Salesforce Order Management, an order-level adjustment is spread over the items, so
    /// cancelling items cancels their share and a cancellation is never refused for it.
    public var discountAppliedMinor: Money {
        OrderSnapshot.discountShare(discountMinor, active: activeMerchandiseMinor, placed: placedMerchandiseMinor)
    }

    /// ⌊discount × active ÷ placed⌋ without overflow (each within 2^53, so the quotient is
    /// at most `discount`); the whole discount when nothing was placed at a price.
    static func discountShare(_ discount: Money, active: Money, placed: Money) -> Money {
        guard placed > 0, active < placed else { return discount }
        guard active > 0, discount > 0 else { return 0 }
        let product = discount.multipliedFullWidth(by: active)
        return placed.dividingFullWidth(product).quotient
    }

    /// Σ (ordered − cancelled) × unit price + the adjustments that follow active units +
    /// shipping + tax − the discount still applied, and never below 0; 0 once the order is
    /// cancelled.
    public var totalMinor: Money {
        if isCancelled { return 0 }
        return Self.total(active: activeMerchandiseMinor, adjustments: adjustmentsAppliedMinor, shipping: shippingMinor, tax: taxMinor,
                          discount: discountAppliedMinor)
    }

    /// The total from its parts: never below 0 nor above 2^53, so no cancellation is refused
    /// for the arithmetic of adjustments or discounts that go with the cancelled units.
    static func total(active: Money, adjustments: Money, shipping: Money, tax: Money, discount: Money) -> Money {
        min(amountMax, max(0, active + adjustments + shipping + tax - discount))
    }

    // MARK: Statuses (docs/EVENTS.md, "Statuses")

    public var status: Status {
        // One pass over the lines for what the statuses below ask of them.
        var active: Int64 = 0
        var allDelivered = true, anyDelivered = false, allShipped = true, anyShipped = false, anyPacked = false, anyRequested = false
        _ = state.firstIndex(.lines, as: LineRecord.self) { l, _ in
            active += l.active
            allDelivered = allDelivered && l.delivered >= l.active
            anyDelivered = anyDelivered || l.delivered > 0
            allShipped = allShipped && l.shipped >= l.active
            anyShipped = anyShipped || l.shipped > 0
            anyPacked = anyPacked || l.packed > 0
            anyRequested = anyRequested || l.requested > 0
            return false
        }
        if isCancelled || (state.count(.lines) > 0 && active == 0) { return .cancelled }
        if active > 0 && allDelivered { return .delivered }
        if anyDelivered { return .partiallyDelivered }
        if active > 0 && allShipped { return .shipped }
        if anyShipped { return .partiallyShipped }
        if anyPacked { return .packed }
        if anyRequested { return .fulfilling }
        if isPaid { return .paid }
        if openAuthorizationMinor > 0 { return .authorized }
        if netPaidMinor > 0 || state.contains(.payments, as: PaymentRecord.self, where: { $0.authorizations > 0 }) { return .awaitingPayment }
        return .placed
    }

    /// Captured less refunded covers the total — or nothing is owed: an order with units
    /// still active whose total is 0 (a 100% discount, free items) is paid without a capture.
    var isPaid: Bool {
        let total = totalMinor, net = netPaidMinor
        if total <= 0 { return net > 0 || (!isCancelled && state.contains(.lines, as: LineRecord.self) { $0.active > 0 }) }
        return net >= total
    }

    /// docs/EVENTS.md §7: refunds count (net paid = captured − refunded), "authorized" means
    /// an authorization can still be captured, and an overpayment shows.
    public var paymentStatus: PaymentStatus {
        let refunded = refundedMinor, net = netPaidMinor
        if refunded > 0 && net <= 0 { return .refunded }
        if net > totalMinor { return .overpaid }
        if isPaid { return .paid }
        if net > 0 { return refunded > 0 ? .partiallyRefunded : .partiallyPaid }
        if openAuthorizationMinor > 0 { return .authorized }
        return .unpaid
    }

    /// Units were requested for fulfillment while nothing is paid or authorized and money is
    /// owed: shown (`attention` in the JSON form), not refused — a shop may ship on account.
    public var fulfilledUnpaid: Bool {
        // Units sent and not come back: a return refunded in full owes nothing.
        totalMinor > 0 && netPaidMinor <= 0 && openAuthorizationMinor <= 0 && state.contains(.lines, as: LineRecord.self) { $0.requested > $0.returned }
    }

    public var returnStatus: ReturnStatus {
        if state.count(.returns) == 0 { return .none }
        return state.contains(.returns, as: ReturnRecord.self) { $0.isReceived == 0 } ? .requested : .received
    }

    func lineIndex(_ sku: TextView) -> Int? { state.firstIndex(.lines, as: LineRecord.self, key: \.sku, equals: sku) }
}
