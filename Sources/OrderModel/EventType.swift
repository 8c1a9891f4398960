/// The order event catalog. `code` is what the log stores as the record type; codes never
/// change meaning (docs/EVENTS.md, "Catalog").
public enum EventType: String, CaseIterable, Sendable, Hashable {
    case orderPlaced = "OrderPlaced"
    case paymentAuthorized = "PaymentAuthorized"
    case paymentCaptured = "PaymentCaptured"
    case paymentVoided = "PaymentVoided"
    case paymentFailed = "PaymentFailed"
    case fulfillmentRequested = "FulfillmentRequested"
    case fulfillmentPacked = "FulfillmentPacked"
    case shipped = "Shipped"
    case delivered = "Delivered"
    case itemsCancelled = "ItemsCancelled"
    case orderCancelled = "OrderCancelled"
    case returnRequested = "ReturnRequested"
    case returnReceived = "ReturnReceived"
    case refundIssued = "RefundIssued"
    case priceAdjusted = "PriceAdjusted"
    case noteAdded = "NoteAdded"
    case fulfillmentCancelled = "FulfillmentCancelled"

    public var code: UInt16 {
        switch self {
        case .orderPlaced: 1
        case .paymentAuthorized: 2
        case .paymentCaptured: 3
        case .paymentVoided: 4
        case .paymentFailed: 5
        case .fulfillmentRequested: 6
        case .fulfillmentPacked: 7
        case .shipped: 8
        case .delivered: 9
        case .itemsCancelled: 10
        case .orderCancelled: 11
        case .returnRequested: 12
        case .returnReceived: 13
        case .refundIssued: 14
        case .priceAdjusted: 15
        case .noteAdded: 16
        case .fulfillmentCancelled: 17
        }
    }

    public init?(code: UInt16) {
        guard let type = EventType.allCases.first(where: { $0.code == code }) else { return nil }
        self = type
    }
}
