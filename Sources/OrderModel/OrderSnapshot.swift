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
    /// How many events the order has.
    public internal(set) var version: UInt32 = 0
    public internal(set) var lastPosition: UInt64?
    /// Where its OrderPlaced is in the log: orders are "newer" by this.
    public internal(set) var placedPosition: UInt64?
    public internal(set) var currency = ""
    public internal(set) var customerID = ""
    public internal(set) var channel = ""
    public internal(set) var lines: [SkuLine] = []
    public internal(set) var shippingMinor: Money = 0
    public internal(set) var taxMinor: Money = 0
    public internal(set) var discountMinor: Money = 0
    public internal(set) var payments: [Payment] = []
    public internal(set) var fulfillments: [Fulfillment] = []
    public internal(set) var returns: [Return] = []
    public internal(set) var refunds: [Refund] = []
    public internal(set) var isCancelled = false
    public internal(set) var notes = 0
    /// Milestones, µs since the Unix epoch (the event's `ts`, or its recorded time).
    public internal(set) var placedAt: Int64?
    public internal(set) var paidAt: Int64?
    public internal(set) var shippedAt: Int64?
    public internal(set) var deliveredAt: Int64?
    /// Idempotency keys seen, with the position of the event that carried each. An array, not
    /// a dictionary: an order has a handful of events, and a dictionary per order costs more to
    /// build than every lookup it would save (replay of a whole log builds one per order).
    public internal(set) var eventIDs: [(id: String, position: UInt64)] = []

    public func position(ofEventID id: String) -> UInt64? { eventIDs.first { $0.id == id }?.position }

    public static func == (a: OrderSnapshot, b: OrderSnapshot) -> Bool {
        a.orderID == b.orderID && a.version == b.version && a.lastPosition == b.lastPosition && a.placedPosition == b.placedPosition && a.currency == b.currency
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

    public init(orderID: OrderID) { self.orderID = orderID }

    /// The largest amount an order may reach, in minor units (2^53: exact in JSON numbers).
    public static let amountMax: Money = 1 << 53
    /// Units on one line of an event (bounds every counter sum far inside Int64).
    public static let quantityMax: Int64 = 1_000_000
    /// Lines in one event.
    public static let linesMax = 1000

    public var exists: Bool { version > 0 }

    // MARK: Money

    public var authorizedMinor: Money { payments.reduce(0) { $0 + $1.authorized } }
    public var capturedMinor: Money { payments.reduce(0) { $0 + $1.captured } }
    public var voidedMinor: Money { payments.reduce(0) { $0 + $1.voided } }
    public var refundedMinor: Money { refunds.reduce(0) { $0 + $1.amountMinor } }
    public var adjustmentsMinor: Money { lines.reduce(0) { $0 + $1.adjustmentsMinor } }
    /// The adjustments that follow units still active (each line's share).
    public var adjustmentsAppliedMinor: Money { lines.reduce(0) { $0 + $1.adjustmentsAppliedMinor } }
    /// Captured less refunded: what the order has been paid and kept.
    public var netPaidMinor: Money { capturedMinor - refundedMinor }
    /// Authorized less captured less voided: what can still be captured.
    public var openAuthorizationMinor: Money { payments.reduce(0) { $0 + max(0, $1.authorized - $1.captured - $1.voided) } }

    /// Σ ordered × unit price: the merchandise as placed, which the order-level discount was
    /// given against.
    public var placedMerchandiseMinor: Money { lines.reduce(0) { $0 + $1.ordered * $1.unitPriceMinor } }
    /// Σ (ordered − cancelled) × unit price: the merchandise still owed to the customer.
    public var activeMerchandiseMinor: Money { lines.reduce(0) { $0 + $1.active * $1.unitPriceMinor } }

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
        let active = lines.reduce(0) { $0 + $1.active }
        if isCancelled || (!lines.isEmpty && active == 0) { return .cancelled }
        if active > 0 && lines.allSatisfy({ $0.delivered >= $0.active }) { return .delivered }
        if lines.contains(where: { $0.delivered > 0 }) { return .partiallyDelivered }
        if active > 0 && lines.allSatisfy({ $0.shipped >= $0.active }) { return .shipped }
        if lines.contains(where: { $0.shipped > 0 }) { return .partiallyShipped }
        if lines.contains(where: { $0.packed > 0 }) { return .packed }
        if lines.contains(where: { $0.requested > 0 }) { return .fulfilling }
        if isPaid { return .paid }
        if openAuthorizationMinor > 0 { return .authorized }
        if netPaidMinor > 0 || payments.contains(where: { $0.authorizations > 0 }) { return .awaitingPayment }
        return .placed
    }

    /// Captured less refunded covers the total — or nothing is owed: an order with units
    /// still active whose total is 0 (a 100% discount, free items) is paid without a capture.
    var isPaid: Bool {
        let total = totalMinor, net = netPaidMinor
        if total <= 0 { return net > 0 || (!isCancelled && lines.contains { $0.active > 0 }) }
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
        totalMinor > 0 && netPaidMinor <= 0 && openAuthorizationMinor <= 0 && lines.contains { $0.requested > $0.returned }
    }

    public var returnStatus: ReturnStatus {
        if returns.isEmpty { return .none }
        return returns.contains { $0.received == nil } ? .requested : .received
    }

    func lineIndex(_ sku: String) -> Int? { lines.firstIndex { $0.sku == sku } }
    func lineIndex(_ sku: TextView) -> Int? { lines.firstIndex { sku == $0.sku } }
}
