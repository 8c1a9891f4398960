/// The one error type of `OrderModel`: a stable code to match on, and where the problem is
/// (the order, the event's index in its batch or its line in a file, the field).
public struct OrderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        // Reading events
        case invalidJSON = "invalid_json"
        case missingField = "missing_field"
        case invalidField = "invalid_field"
        case unknownField = "unknown_field"
        case unknownType = "unknown_type"
        case invalidOrderID = "invalid_order_id"
        case invalidTimestamp = "invalid_timestamp"
        case eventTooLarge = "event_too_large"
        case unsupportedCodecVersion = "unsupported_codec_version"
        case corruptPayload = "corrupt_payload"
        // Lifecycle rules (docs/EVENTS.md, "Rules", gives the order they are checked in)
        case versionConflict = "version_conflict"
        case firstEventNotPlaced = "first_event_not_placed"
        case alreadyPlaced = "already_placed"
        case duplicateSku = "duplicate_sku"
        case invalidQuantity = "invalid_quantity"
        case negativeAmount = "negative_amount"
        case invalidCurrency = "invalid_currency"
        case duplicateID = "duplicate_id"
        case unknownSku = "unknown_sku"
        case overCapture = "over_capture"
        case overVoid = "over_void"
        case overRefund = "over_refund"
        /// A capture, void or refund names a payment that was never authorized.
        case unknownPayment = "unknown_payment"
        case unknownReturn = "unknown_return"
        case overFulfillment = "over_fulfillment"
        case overCancellation = "over_cancellation"
        case negativeTotal = "negative_total"
        case unknownFulfillment = "unknown_fulfillment"
        case invalidTransition = "invalid_transition"
        case cancelAfterShipment = "cancel_after_shipment"
        case orderCancelled = "order_cancelled"
        case overReturn = "over_return"
        case returnAlreadyReceived = "return_already_received"
        /// A sum would leave ±2^53 minor units (the range JSON numbers carry exactly).
        case amountOutOfRange = "amount_out_of_range"
    }

    public var code: Code
    public var message: String
    public var orderID: String?
    public var field: String?

    public init(_ code: Code, _ message: String, orderID: String? = nil, field: String? = nil) {
        self.code = code
        self.message = message
        self.orderID = orderID
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(detail)" }

    /// The message with the order and field it concerns, without the code (for where the
    /// code travels separately, as in `APPEND_REJECTED`).
    public var detail: String {
        var text = message
        if let orderID { text += " (order \(orderID)" + (field.map { ", field \($0)" } ?? "") + ")" }
        else if let field { text += " (field \(field))" }
        return text
    }
}
