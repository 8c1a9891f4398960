/// The limits every event is held to, whichever way it came in (JSON import, the binary
/// protocol's APPEND, the Swift API, any later front end), and the one check that applies them
/// (docs/EVENTS.md §4, "Limits of every event"). The invariant they keep: **every event the
/// store accepts exports to a JSON line that imports back to the same stored bytes.**
public enum EventLimits {
    /// The largest string field (ids, reasons, notes, skus, …), in UTF-8 bytes.
    public static let stringBytesMax = 1024
    /// The largest magnitude of any integer field: 2^53, what a JSON number carries exactly.
    public static let integerMagnitudeMax: Int64 = 1 << 53
    /// Units on one line of an event.
    public static let quantityMax: Int64 = 1_000_000
    /// Entries in one `lines` array.
    public static let linesMax = 1000
    /// The longest JSON line, as import reads and export writes it (bytes, without the LF).
    public static let jsonLineBytesMax = 1 << 20
    /// `attributes` nesting, counted from the line's top-level object (level 0) as the JSON
    /// parser does: attributes is level 1, so its own members may go 63 levels deeper.
    static let attributesDepthBase = 1

    /// A string field within `stringBytesMax`.
    @inline(__always)
    public static func check(string value: String, field: String) throws(OrderError) {
        guard value.utf8.count <= stringBytesMax else {
            throw OrderError(.invalidField, "\(field) is longer than \(stringBytesMax) bytes (\(value.utf8.count))", field: field)
        }
    }

    /// An integer field within ±2^53.
    @inline(__always)
    public static func check(integer value: Int64, field: String) throws(OrderError) {
        guard value >= -integerMagnitudeMax && value <= integerMagnitudeMax else {
            throw OrderError(.invalidField, "\(field) \(value) is out of range (±2^53)", field: field)
        }
    }

    /// A unit count within ±2^53 and at most 1,000,000 (the rules refuse < 1: `invalid_quantity`).
    @inline(__always)
    public static func check(quantity value: Int64, field: String) throws(OrderError) {
        try check(integer: value, field: field)
        guard value <= quantityMax else {
            throw OrderError(.invalidField, "\(field) \(value) is more than 1,000,000 units", field: field)
        }
    }

    /// A `lines` array of at most 1000 entries.
    @inline(__always)
    public static func check(count: Int, field: String) throws(OrderError) {
        guard count <= linesMax else {
            throw OrderError(.invalidField, "\(field) has \(count) entries; at most \(linesMax)", field: field)
        }
    }

    /// `attributes` as export writes it and import reads it back unchanged: one JSON object
    /// that the strict parser accepts, starting with `{` and ending with `}` (no surrounding
    /// whitespace, which a parse would drop), with no raw line feed (it would split the export
    /// line; a CR is JSON whitespace and survives), at most 64 levels deep counted from the line.
    public static func check(attributes: String) throws(OrderError) {
        let bytes = Array(attributes.utf8)
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else {
            throw OrderError(.invalidField, "attributes must be a JSON object, starting with '{' and ending with '}'", field: "attributes")
        }
        if let i = bytes.firstIndex(of: 0x0A) {
            throw OrderError(.invalidField, "attributes holds a raw line feed at byte \(i + 1); a JSON line cannot carry one", field: "attributes")
        }
        let value: JSONValue
        do { value = try JSONParser.parse(bytes, depthBase: attributesDepthBase) } catch {
            throw OrderError(.invalidField, "attributes is not valid JSON: \(error.message)", field: "attributes")
        }
        guard case .object(_, let raw) = value else {
            throw OrderError(.invalidField, "attributes must be a JSON object", field: "attributes")
        }
        // The parser gives an empty object's text as "{}" whatever its spacing (EVENTS.md §2):
        // `{ }` would come back from an import as `{}`.
        guard raw == attributes else {
            throw OrderError(.invalidField, "attributes \(attributes.utf8.count <= 16 ? attributes : "of \(attributes.utf8.count) bytes") is an empty object with spaces inside; write {}", field: "attributes")
        }
    }
}

extension EventLimits {
    /// A string field within `stringBytesMax`, read in place.
    @inline(__always)
    static func check(text value: TextView, field: @autoclosure () -> String) throws(OrderError) {
        guard value.bytes.count <= stringBytesMax else {
            let name = field()
            throw OrderError(.invalidField, "\(name) is longer than \(stringBytesMax) bytes (\(value.bytes.count))", field: name)
        }
    }

    /// Every limit of docs/EVENTS.md §4 that does not depend on the order's state, checked on
    /// an event's binary form: string lengths, integer ranges, line counts, `attributes` a
    /// canonical JSON object, and the export line within 1 MiB (a `ts` the reader already
    /// held to its range). The one check of every way in: JSON import, the binary protocol,
    /// the Swift API (`OrderEvent.validate` encodes and comes here).
    ///
    /// Throws `invalid_field` (naming the field, as JSON paths: `data.lines[2].sku`) or
    /// `event_too_large`, without the order id (callers attach it).
    public static func validate(_ e: EventView, orderID: OrderID) throws(OrderError) {
        if let id = e.eventID { try check(text: id, field: "event_id") }
        if let actor = e.actor { try check(text: actor.id, field: "actor.id") }
        if let channel = e.channel { try check(text: channel, field: "channel") }
        if let attributes = e.attributes { try check(attributes: attributes.string) }
        func str(_ value: TextView, _ name: StaticString) throws(OrderError) { try check(text: value, field: "data.\(name)") }
        func int(_ value: Int64, _ name: StaticString) throws(OrderError) { try check(integer: value, field: "data.\(name)") }
        func lines(_ lines: LinesView, _ name: StaticString) throws(OrderError) {
            try check(count: lines.count, field: "data.\(name)")
            for (i, l) in lines.enumerated() {
                try check(text: l.sku, field: "data.\(name)[\(i)].sku")
                try check(quantity: l.qty, field: "data.\(name)[\(i)].qty")
            }
        }
        switch e.data {
        case .orderPlaced(let customer, let channel, let currency, let placed, let shipping, let tax, let discount):
            try str(customer, "customer_id"); try str(channel, "channel"); try str(currency, "currency")
            try check(count: placed.count, field: "data.lines")
            for (i, l) in placed.enumerated() {
                try check(text: l.sku, field: "data.lines[\(i)].sku")
                try check(quantity: l.qty, field: "data.lines[\(i)].qty")
                try check(integer: l.unitPriceMinor, field: "data.lines[\(i)].unit_price_minor")
            }
            if let shipping { try int(shipping, "shipping_minor") }
            if let tax { try int(tax, "tax_minor") }
            if let discount { try int(discount, "discount_minor") }
        case .paymentAuthorized(let p, let a), .paymentCaptured(let p, let a), .paymentVoided(let p, let a):
            try str(p, "payment_id"); try int(a, "amount_minor")
        case .paymentFailed(let p, let reason): try str(p, "payment_id"); try str(reason, "reason")
        case .fulfillmentRequested(let f, let location, let l): try str(f, "fulfillment_id"); try str(location, "location"); try lines(l, "lines")
        case .fulfillmentPacked(let f), .delivered(let f): try str(f, "fulfillment_id")
        case .shipped(let f, let carrier, let tracking): try str(f, "fulfillment_id"); try str(carrier, "carrier"); try str(tracking, "tracking_no")
        case .itemsCancelled(let l, let reason): try lines(l, "lines"); try str(reason, "reason")
        case .orderCancelled(let reason): try str(reason, "reason")
        case .returnRequested(let r, let l, let reason): try str(r, "return_id"); try lines(l, "lines"); try str(reason, "reason")
        case .returnReceived(let r, let l): try str(r, "return_id"); if let l { try lines(l, "lines") }
        case .refundIssued(let r, let a, let p, let ret):
            try str(r, "refund_id"); try int(a, "amount_minor")
            if let p { try str(p, "payment_id") }
            if let ret { try str(ret, "return_id") }
        case .priceAdjusted(let sku, let a, let reason): try str(sku, "sku"); try int(a, "amount_minor"); try str(reason, "reason")
        case .noteAdded(let text): try str(text, "text")
        case .fulfillmentCancelled(let f, let l, let reason): try str(f, "fulfillment_id"); if let l { try lines(l, "lines") }; try str(reason, "reason")
        }
        // The export line: escaping can make a string up to six times longer than its bytes,
        // so the binary form's size says little. A cheap bound first; the exact length only
        // for events near the limit.
        if exportLineBytesBound(e) > jsonLineBytesMax {
            let event = try OrderEvent.decodeBinary(orderID: orderID, type: e.type, e.bytes)
            let length = event.exportLineBytesWorstCase
            if length > jsonLineBytesMax {
                throw OrderError(.eventTooLarge, "the event's JSON line (as export writes it) would be \(length) bytes, over the limit of \(jsonLineBytesMax)")
            }
        }
    }

    /// An upper bound of the export line's length: every string escaped at six bytes a byte,
    /// every number at 20 characters, a generous allowance for keys and punctuation.
    static func exportLineBytesBound(_ e: EventView) -> Int {
        var strings = (e.eventID?.bytes.count ?? 0) + (e.actor?.id.bytes.count ?? 0) + (e.channel?.bytes.count ?? 0)
        var numbers = 0
        var entries = 0
        func sum(_ l: LinesView) { for x in l { strings += x.sku.bytes.count }; numbers += l.count; entries = l.count }
        switch e.data {
        case .orderPlaced(let customer, let channel, let currency, let placed, _, _, _):
            strings += customer.bytes.count + channel.bytes.count + currency.bytes.count
            for l in placed { strings += l.sku.bytes.count }
            numbers += 3 + 2 * placed.count
            entries = placed.count
        case .fulfillmentRequested(_, _, let l), .itemsCancelled(let l, _), .returnRequested(_, let l, _), .returnReceived(_, let l?),
             .fulfillmentCancelled(_, let l?, _):
            sum(l)
            strings += 2 * stringBytesMax
        default:
            strings += 4 * stringBytesMax
            numbers += 1
        }
        return 6 * strings + 20 * numbers + 64 * entries + (e.attributes?.bytes.count ?? 0) + 1024
    }
}

extension OrderEvent {
    /// Checks every limit of docs/EVENTS.md §4 that does not depend on the order's state:
    /// string lengths, integer ranges, line counts, `ts` in range, `attributes` a canonical
    /// JSON object, and the export line within 1 MiB. The rules (§6) come after it.
    ///
    /// Throws `invalid_field` (naming the field, as JSON paths: `data.lines[2].sku`),
    /// `invalid_timestamp` or `event_too_large`, with the order id attached.
    public func validate() throws(OrderError) {
        do throws(OrderError) {
            try validateFields()
        } catch {
            var e = error
            e.orderID = orderID.value
            throw e
        }
    }

    private func validateFields() throws(OrderError) {
        // A time out of range has no binary form; every other limit is checked on the bytes,
        // by the one check every way in shares (`EventLimits.validate(_:orderID:)`).
        if let ts, !ts.isInRange {
            throw OrderError(.invalidTimestamp, "ts \(ts) is outside years 0001–9999 (in UTC and in its offset) or its offset outside ±23:59", field: "ts")
        }
        let bytes = encodeBinary()
        let checked = bytes.withUnsafeBytes { raw in
            Result { () throws(OrderError) in try EventLimits.validate(EventView.read(type: type, raw), orderID: orderID) }
        }
        try checked.get()
    }

    /// `EventLimits.exportLineBytesBound` of this event (whose `ts`, if any, is in range).
    var exportLineBytesBound: Int {
        encodeBinary().withUnsafeBytes { raw in
            (try? EventView.read(type: type, raw)).map(EventLimits.exportLineBytesBound) ?? Int.max
        }
    }

    /// The export line's exact length in the longest form export can give it: a `ts` (if
    /// missing, the store fills one in) and `recorded_at` with fractions and offsets, the
    /// largest position and seq.
    var exportLineBytesWorstCase: Int {
        var event = self
        let longest = EventTime(microseconds: 253_402_214_399_999_999, offsetMinutes: 1439)  // 9999-12-31T23:59:59.999999+23:59
        if event.ts == nil { event.ts = longest }
        let stored = StoredEvent(event: event, position: .max, seq: .max, recordedAt: EventTime.microsecondsMax)
        return event.jsonLine(stored: stored).utf8.count
    }
}

extension StoredEvent {
    /// The event's export line (`jsonLine(stored:)`), or an error naming its position when a
    /// stored value is one no line can carry: a `ts` or recorded time outside years 0001–9999
    /// (stored by a build that did not check them). Formatting never traps on stored data.
    public func exportLine() throws(OrderError) -> String {
        if let ts = event.ts, !ts.isInRange {
            throw OrderError(.corruptPayload, "stored event at position \(position) has ts \(ts.microseconds) µs offset \(ts.offsetMinutes) min, outside years 0001–9999", orderID: event.orderID.value, field: "ts")
        }
        guard EventTime(microseconds: recordedAt).isInRange else {
            throw OrderError(.corruptPayload, "stored event at position \(position) has recorded time \(recordedAt) µs, outside years 0001–9999", orderID: event.orderID.value, field: "recorded_at")
        }
        return event.jsonLine(stored: self)
    }
}
