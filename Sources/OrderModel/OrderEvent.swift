/// A line of an OrderPlaced event.
public struct PlacedLine: Hashable, Sendable {
    public var sku: String
    public var qty: Int64
    public var unitPriceMinor: Money

    public init(sku: String, qty: Int64, unitPriceMinor: Money) {
        self.sku = sku
        self.qty = qty
        self.unitPriceMinor = unitPriceMinor
    }
}

/// A quantity of one sku (fulfillment, cancellation and return lines).
public struct SkuQuantity: Hashable, Sendable {
    public var sku: String
    public var qty: Int64

    public init(sku: String, qty: Int64) {
        self.sku = sku
        self.qty = qty
    }
}

/// The type-specific part of an event (its `data`).
public enum EventData: Hashable, Sendable {
    case orderPlaced(customerID: String, channel: String, currency: String, lines: [PlacedLine], shippingMinor: Money?, taxMinor: Money?, discountMinor: Money?)
    case paymentAuthorized(paymentID: String, amountMinor: Money)
    case paymentCaptured(paymentID: String, amountMinor: Money)
    case paymentVoided(paymentID: String, amountMinor: Money)
    case paymentFailed(paymentID: String, reason: String)
    case fulfillmentRequested(fulfillmentID: String, location: String, lines: [SkuQuantity])
    case fulfillmentPacked(fulfillmentID: String)
    case shipped(fulfillmentID: String, carrier: String, trackingNo: String)
    case delivered(fulfillmentID: String)
    case itemsCancelled(lines: [SkuQuantity], reason: String)
    case orderCancelled(reason: String)
    case returnRequested(returnID: String, lines: [SkuQuantity], reason: String)
    case returnReceived(returnID: String, lines: [SkuQuantity]?)
    case refundIssued(refundID: String, amountMinor: Money, paymentID: String?, returnID: String?)
    case priceAdjusted(sku: String, amountMinor: Money, reason: String)
    case noteAdded(text: String)
    /// A fulfillment not yet shipped is cancelled — wholly (`lines` nil) or some of its
    /// units — and its units released: they can be cancelled, or requested again elsewhere.
    case fulfillmentCancelled(fulfillmentID: String, lines: [SkuQuantity]?, reason: String)

    public var type: EventType {
        switch self {
        case .orderPlaced: .orderPlaced
        case .paymentAuthorized: .paymentAuthorized
        case .paymentCaptured: .paymentCaptured
        case .paymentVoided: .paymentVoided
        case .paymentFailed: .paymentFailed
        case .fulfillmentRequested: .fulfillmentRequested
        case .fulfillmentPacked: .fulfillmentPacked
        case .shipped: .shipped
        case .delivered: .delivered
        case .itemsCancelled: .itemsCancelled
        case .orderCancelled: .orderCancelled
        case .returnRequested: .returnRequested
        case .returnReceived: .returnReceived
        case .refundIssued: .refundIssued
        case .priceAdjusted: .priceAdjusted
        case .noteAdded: .noteAdded
        case .fulfillmentCancelled: .fulfillmentCancelled
        }
    }
}

/// One order event as a producer sends it (docs/EVENTS.md).
public struct OrderEvent: Hashable, Sendable {
    public var orderID: OrderID
    /// When it happened (defaults to the time it is recorded).
    public var ts: EventTime?
    /// Idempotency key, scoped to the order.
    public var eventID: String?
    public var actor: Actor?
    /// The channel of this event (metadata for the timeline; the order's channel is OrderPlaced's).
    public var channel: String?
    /// A JSON object kept and returned byte for byte as given.
    public var attributes: String?
    public var data: EventData

    public var type: EventType { data.type }

    public init(orderID: OrderID, ts: EventTime? = nil, eventID: String? = nil, actor: Actor? = nil, channel: String? = nil, attributes: String? = nil, data: EventData) {
        self.orderID = orderID
        self.ts = ts
        self.eventID = eventID
        self.actor = actor
        self.channel = channel
        self.attributes = attributes
        self.data = data
    }
}

/// An event as stored: with its place in the log.
public struct StoredEvent: Hashable, Sendable {
    public var event: OrderEvent
    /// Its position in the whole log.
    public var position: UInt64
    /// Its sequence within its order (1, 2, …): the order's version after it.
    public var seq: UInt32
    /// When the log recorded it, µs since the Unix epoch.
    public var recordedAt: Int64

    public init(event: OrderEvent, position: UInt64, seq: UInt32, recordedAt: Int64) {
        self.event = event
        self.position = position
        self.seq = seq
        self.recordedAt = recordedAt
    }

    /// The event's time: its `ts`, or when it was recorded.
    public var effectiveTime: Int64 { event.ts?.microseconds ?? recordedAt }
}
