import OrderModel
import OrderStore
import WireProtocol

extension WireEvent {
    /// The append this wire event asks for, in its binary form, or the reason it cannot be
    /// one: an order id or type code the catalog refuses, a payload past the largest event.
    /// The store reads and checks the payload itself (`OrderStore.check(_: [AppendRecord])`).
    func appendRecord() throws(OrderError) -> AppendRecord {
        let id = try OrderID(orderID)
        guard let eventType = EventType(code: type) else {
            throw OrderError(.unknownType, "unknown event type code \(type)", orderID: orderID)
        }
        guard payload.count <= OrderEvent.jsonBytesMax else {
            throw OrderError(.eventTooLarge, "event payload of \(payload.count) bytes exceeds \(OrderEvent.jsonBytesMax)", orderID: orderID)
        }
        let expected: ExpectedVersion = switch expectedVersion {
        case .any: .any
        case .none: .none
        case .exactly(let n): .exactly(Int(clamping: n))
        }
        return AppendRecord(orderID: id, type: eventType, payload: payload, expectedVersion: expected, recordedAt: recordedAt == 0 ? nil : recordedAt)
    }
}
