/// A stored event read in place from the log: its order id's bytes (the record's key), the
/// event's binary form as a view, and where it is in the log. What export-form writers take
/// (export, subscriptions, Kafka fetches), so a stored event becomes JSON bytes without an
/// `OrderEvent` or a `String` made on the way.
///
/// Valid only inside the closure that lent it (a log scan): it must not escape.
public struct StoredEventView {
    /// The order id's UTF-8 bytes.
    public let orderID: UnsafeRawBufferPointer
    public let event: EventView
    public let stored: EventView.Stored

    public init(orderID: UnsafeRawBufferPointer, event: EventView, stored: EventView.Stored) {
        self.orderID = orderID
        self.event = event
        self.stored = stored
    }

    /// Appends the event's export line (no newline), as `StoredEvent.exportLine` gives it.
    /// Throws `corrupt_payload` naming the position when the recorded time is one no line can
    /// carry (outside years 0001–9999: stored by a build that did not check it); nothing is
    /// appended then. (A `ts` out of range never reads into a view.)
    public func writeExportLine(to w: inout JSONBytes) throws(OrderError) {
        guard EventTime(microseconds: stored.recordedAt).isInRange else {
            throw OrderError(.corruptPayload, "stored event at position \(stored.position) has recorded time \(stored.recordedAt) µs, outside years 0001–9999",
                             orderID: String(decoding: orderID, as: UTF8.self), field: "recorded_at")
        }
        event.writeJSONLine(to: &w, orderID: orderID, stored: stored)
    }
}
