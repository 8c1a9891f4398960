/// An event's JSON form (docs/EVENTS.md §2–§3) written from its binary form: the one writer of
/// event JSON. `OrderEvent.jsonLine` encodes and comes here; export, subscriptions and Kafka
/// fetches write stored events' bytes through it directly, building no `OrderEvent` and no
/// `String`.
extension EventView {
    /// Where a stored event is in the log: what its export line adds to the event.
    public struct Stored {
        public var position: UInt64
        public var seq: UInt32
        /// µs since the epoch, UTC.
        public var recordedAt: Int64

        public init(position: UInt64, seq: UInt32, recordedAt: Int64) {
            self.position = position
            self.seq = seq
            self.recordedAt = recordedAt
        }
    }

    /// Appends the event as one line of JSON (no newline), fields in catalog order. With
    /// `stored`, the export form: `ts` defaults to the recorded time, and `position`, `seq`
    /// and `recorded_at` are added. `orderID` is the order id's UTF-8 bytes.
    ///
    /// Total on any view: a recorded time outside years 0001–9999 still prints (as text
    /// `EventTime(rfc3339:)` refuses) — callers that must not write one check first
    /// (`StoredEvent.exportLine`, `checkExportable`).
    public func writeJSONLine(to w: inout JSONBytes, orderID: UnsafeRawBufferPointer, stored: Stored? = nil) {
        w.raw("{\"order_id\":"); w.string(orderID)
        w.raw(",\"type\":"); w.string(type.rawValue)
        if let ts = ts ?? stored.map({ EventTime(microseconds: $0.recordedAt) }) { w.raw(",\"ts\":"); w.time(ts) }
        if let eventID { w.raw(",\"event_id\":"); w.string(eventID) }
        if let actor {
            w.raw(",\"actor\":{\"kind\":"); w.string(actor.kind.rawValue); w.raw(",\"id\":"); w.string(actor.id); w.raw("}")
        }
        if let channel { w.raw(",\"channel\":"); w.string(channel) }
        if let attributes { w.raw(",\"attributes\":"); w.raw(attributes.bytes) }
        w.raw(",\"data\":"); writeDataJSON(to: &w)
        if let stored {
            w.raw(",\"position\":"); w.unsigned(stored.position)
            w.raw(",\"seq\":"); w.unsigned(UInt64(stored.seq))
            w.raw(",\"recorded_at\":"); w.time(EventTime(microseconds: stored.recordedAt))
        }
        w.raw("}")
    }

    /// Appends the `data` object.
    public func writeDataJSON(to w: inout JSONBytes) {
        var first = true
        func key(_ k: StaticString) { w.raw(first ? "{\"" : ",\""); first = false; w.raw(k); w.raw("\":") }
        func str(_ k: StaticString, _ v: TextView) { key(k); w.string(v) }
        func int(_ k: StaticString, _ v: Int64) { key(k); w.int(v) }
        func lines(_ k: StaticString, _ v: LinesView) {
            key(k); w.raw("[")
            var separator = false
            for l in v {
                w.raw(separator ? ",{\"sku\":" : "{\"sku\":"); separator = true
                w.string(l.sku); w.raw(",\"qty\":"); w.int(l.qty); w.raw("}")
            }
            w.raw("]")
        }
        switch data {
        case .orderPlaced(let customer, let channel, let currency, let placed, let shipping, let tax, let discount):
            str("customer_id", customer); str("channel", channel); str("currency", currency)
            key("lines"); w.raw("[")
            var separator = false
            for l in placed {
                w.raw(separator ? ",{\"sku\":" : "{\"sku\":"); separator = true
                w.string(l.sku); w.raw(",\"qty\":"); w.int(l.qty); w.raw(",\"unit_price_minor\":"); w.int(l.unitPriceMinor); w.raw("}")
            }
            w.raw("]")
            if let shipping { int("shipping_minor", shipping) }
            if let tax { int("tax_minor", tax) }
            if let discount { int("discount_minor", discount) }
        case .paymentAuthorized(let p, let a), .paymentCaptured(let p, let a), .paymentVoided(let p, let a):
            str("payment_id", p); int("amount_minor", a)
        case .paymentFailed(let p, let reason): str("payment_id", p); str("reason", reason)
        case .fulfillmentRequested(let f, let location, let l): str("fulfillment_id", f); str("location", location); lines("lines", l)
        case .fulfillmentPacked(let f), .delivered(let f): str("fulfillment_id", f)
        case .shipped(let f, let carrier, let tracking): str("fulfillment_id", f); str("carrier", carrier); str("tracking_no", tracking)
        case .itemsCancelled(let l, let reason): lines("lines", l); str("reason", reason)
        case .orderCancelled(let reason): str("reason", reason)
        case .returnRequested(let r, let l, let reason): str("return_id", r); lines("lines", l); str("reason", reason)
        case .returnReceived(let r, let l): str("return_id", r); if let l { lines("lines", l) }
        case .refundIssued(let r, let a, let p, let ret):
            str("refund_id", r); int("amount_minor", a)
            if let p { str("payment_id", p) }
            if let ret { str("return_id", ret) }
        case .priceAdjusted(let sku, let a, let reason): str("sku", sku); int("amount_minor", a); str("reason", reason)
        case .noteAdded(let text): str("text", text)
        case .fulfillmentCancelled(let f, let l, let reason): str("fulfillment_id", f); if let l { lines("lines", l) }; str("reason", reason)
        }
        w.raw(first ? "{}" : "}")
    }
}
