/// The JSON form of events: one object per line (JSONL) for import and export
/// (docs/EVENTS.md). Decoding is strict: unknown fields, wrong types and out-of-range values
/// are errors that name the field.
extension OrderEvent {
    /// The largest event, as JSON text, that is accepted (and that export may write).
    public static let jsonBytesMax = EventLimits.jsonLineBytesMax

    /// What one JSONL line holds: the event, the append condition, and (in an export) where it
    /// was stored.
    public struct JSONLine: Sendable {
        public var event: OrderEvent
        public var expectedVersion: ExpectedVersion
        public var position: UInt64?
        public var seq: UInt32?
        public var recordedAt: Int64?
    }

    /// What one JSONL line holds, with the event in its binary form (docs/EVENTS.md §5): what
    /// an import hands the store (`AppendRecord`), with no `OrderEvent` in between.
    public struct JSONRecord: Sendable, Equatable {
        public var orderID: OrderID
        public var type: EventType
        /// The event's canonical binary form.
        public var payload: [UInt8]
        public var expectedVersion: ExpectedVersion
        public var position: UInt64?
        public var seq: UInt32?
        public var recordedAt: Int64?
    }

    public static func decodeJSONLine(_ bytes: [UInt8]) throws(OrderError) -> JSONLine {
        guard bytes.count <= jsonBytesMax else {
            throw OrderError(.eventTooLarge, "event of \(bytes.count) bytes exceeds the limit of \(jsonBytesMax) bytes")
        }
        // The lines producers and exports write take the one-pass path; any other line (and
        // every line with something wrong) is decoded here, by the strict reader that names
        // what is wrong.
        if let r = JSONLineDecoder.decode(bytes) {
            let event = try r.payload.withUnsafeBytes { raw in
                Result { () throws(OrderError) in try decodeBinary(orderID: r.orderID, type: r.type, raw) }
            }.get()
            return JSONLine(event: event, expectedVersion: r.expectedVersion, position: r.position, seq: r.seq, recordedAt: r.recordedAt)
        }
        return try decodeJSONLineStrictly(bytes)
    }

    /// `decodeJSONLine`, with the event in its binary form: straight from the line's bytes for
    /// the lines producers and exports write (`JSONLineDecoder`); through the strict decoder,
    /// which names what is wrong, for any other.
    public static func decodeJSONRecord(_ bytes: [UInt8]) throws(OrderError) -> JSONRecord {
        guard bytes.count <= jsonBytesMax else {
            throw OrderError(.eventTooLarge, "event of \(bytes.count) bytes exceeds the limit of \(jsonBytesMax) bytes")
        }
        if let r = JSONLineDecoder.decode(bytes) { return r }
        let line = try decodeJSONLineStrictly(bytes)
        return JSONRecord(orderID: line.event.orderID, type: line.event.type, payload: line.event.encodeBinary(),
                          expectedVersion: line.expectedVersion, position: line.position, seq: line.seq, recordedAt: line.recordedAt)
    }

    /// `decodeJSONLine` without its fast path: the reference the fast path is tested against.
    static func decodeJSONLineStrictly(_ bytes: [UInt8]) throws(OrderError) -> JSONLine {
        guard bytes.count <= jsonBytesMax else {
            throw OrderError(.eventTooLarge, "event of \(bytes.count) bytes exceeds the limit of \(jsonBytesMax) bytes")
        }
        let value = try JSONParser.parse(bytes)
        guard case .object(let members, _) = value else { throw OrderError(.invalidJSON, "an event must be a JSON object") }
        var fields = FieldReader(members: members, path: "")
        let orderIDText = try fields.string("order_id")
        let orderID: OrderID
        do { orderID = try OrderID(orderIDText) } catch { throw error }
        func tag(_ e: OrderError) -> OrderError { var e = e; e.orderID = orderID.value; return e }
        do throws(OrderError) {
            let typeName = try fields.string("type")
            guard let type = EventType(rawValue: typeName) else {
                throw OrderError(.unknownType, "unknown event type \"\(typeName)\"", field: "type")
            }
            var ts: EventTime?
            if let text = try fields.optionalString("ts") { ts = try EventTime(rfc3339: text) }
            let eventID = try fields.optionalString("event_id")
            var actor: Actor?
            if var a = try fields.optionalObject("actor") {
                let kindText = try a.string("kind")
                guard let kind = Actor.Kind(rawValue: kindText) else {
                    throw OrderError(.invalidField, "actor.kind must be customer, agent, system or integration, not \"\(kindText)\"", field: "actor.kind")
                }
                actor = Actor(kind: kind, id: try a.string("id"))
                try a.finish()
            }
            let channel = try fields.optionalString("channel")
            var expected = ExpectedVersion.any
            if let v = fields.take("expected_version") {
                switch v {
                case .string("any"): expected = .any
                case .string("none"): expected = .none
                case .number(_, let raw):
                    guard let n = Int(raw), n >= 0 else { throw OrderError(.invalidField, "expected_version must be \"any\", \"none\" or a non-negative integer, not \(raw)", field: "expected_version") }
                    expected = .exactly(n)
                default: throw OrderError(.invalidField, "expected_version must be \"any\", \"none\" or a non-negative integer", field: "expected_version")
                }
            }
            var attributes: String?
            if let v = fields.take("attributes") {
                guard case .object(_, let raw) = v else { throw OrderError(.invalidField, "attributes must be a JSON object", field: "attributes") }
                attributes = raw
            }
            let position = try fields.optionalInt("position")
            if let position, position < 0 { throw OrderError(.invalidField, "position must not be negative, got \(position)", field: "position") }
            let seq = try fields.optionalInt("seq")
            if let seq, seq < 1 || seq > Int64(UInt32.max) { throw OrderError(.invalidField, "seq must be at least 1, got \(seq)", field: "seq") }
            var recordedAt: Int64?
            if let text = try fields.optionalString("recorded_at") {
                do { recordedAt = try EventTime(rfc3339: text).microseconds } catch {
                    throw OrderError(.invalidTimestamp, error.message, field: "recorded_at")
                }
            }
            guard let dataMembers = try fields.optionalObject("data") else {
                throw OrderError(.missingField, "missing field \"data\"", field: "data")
            }
            let data = try decodeData(type, dataMembers)
            try fields.finish()
            let event = OrderEvent(orderID: orderID, ts: ts, eventID: eventID, actor: actor, channel: channel, attributes: attributes, data: data)
            return JSONLine(event: event, expectedVersion: expected, position: position.map { UInt64($0) }, seq: seq.map { UInt32($0) }, recordedAt: recordedAt)
        } catch {
            throw tag(error)
        }
    }

    private static func decodeData(_ type: EventType, _ d: FieldReader) throws(OrderError) -> EventData {
        var d = d
        let data: EventData
        switch type {
        case .orderPlaced:
            let customer = try d.string("customer_id"), channel = try d.string("channel"), currency = try d.string("currency")
            var lines: [PlacedLine] = []
            for (i, line) in try d.objects("lines").enumerated() {
                var l = line
                lines.append(PlacedLine(sku: try l.string("sku"), qty: try l.quantity("qty"), unitPriceMinor: try l.int("unit_price_minor")))
                try l.finish()
                _ = i
            }
            data = .orderPlaced(customerID: customer, channel: channel, currency: currency, lines: lines,
                                shippingMinor: try d.optionalInt("shipping_minor"), taxMinor: try d.optionalInt("tax_minor"),
                                discountMinor: try d.optionalInt("discount_minor"))
        case .paymentAuthorized: data = .paymentAuthorized(paymentID: try d.string("payment_id"), amountMinor: try d.int("amount_minor"))
        case .paymentCaptured: data = .paymentCaptured(paymentID: try d.string("payment_id"), amountMinor: try d.int("amount_minor"))
        case .paymentVoided: data = .paymentVoided(paymentID: try d.string("payment_id"), amountMinor: try d.int("amount_minor"))
        case .paymentFailed: data = .paymentFailed(paymentID: try d.string("payment_id"), reason: try d.string("reason"))
        case .fulfillmentRequested:
            data = .fulfillmentRequested(fulfillmentID: try d.string("fulfillment_id"), location: try d.string("location"), lines: try d.skuQuantities("lines"))
        case .fulfillmentPacked: data = .fulfillmentPacked(fulfillmentID: try d.string("fulfillment_id"))
        case .shipped: data = .shipped(fulfillmentID: try d.string("fulfillment_id"), carrier: try d.string("carrier"), trackingNo: try d.string("tracking_no"))
        case .delivered: data = .delivered(fulfillmentID: try d.string("fulfillment_id"))
        case .itemsCancelled: data = .itemsCancelled(lines: try d.skuQuantities("lines"), reason: try d.string("reason"))
        case .orderCancelled: data = .orderCancelled(reason: try d.string("reason"))
        case .returnRequested: data = .returnRequested(returnID: try d.string("return_id"), lines: try d.skuQuantities("lines"), reason: try d.string("reason"))
        case .returnReceived:
            let returnID = try d.string("return_id")
            data = .returnReceived(returnID: returnID, lines: d.has("lines") ? try d.skuQuantities("lines") : nil)
        case .refundIssued:
            data = .refundIssued(refundID: try d.string("refund_id"), amountMinor: try d.int("amount_minor"),
                                 paymentID: try d.optionalString("payment_id"), returnID: try d.optionalString("return_id"))
        case .priceAdjusted: data = .priceAdjusted(sku: try d.string("sku"), amountMinor: try d.int("amount_minor"), reason: try d.string("reason"))
        case .noteAdded: data = .noteAdded(text: try d.string("text"))
        case .fulfillmentCancelled:
            let id = try d.string("fulfillment_id")
            let lines = d.has("lines") ? try d.skuQuantities("lines") : nil
            data = .fulfillmentCancelled(fulfillmentID: id, lines: lines, reason: try d.string("reason"))
        }
        try d.finish()
        return data
    }

    /// The event as one line of JSON (no newline), fields in catalog order. With `stored`, the
    /// export form: `ts` defaults to the recorded time, and `position`, `seq` and `recorded_at`
    /// are added.
    public func jsonLine(stored: StoredEvent? = nil) -> String {
        var w = JSONWriter()
        w.raw("{\"order_id\":"); w.string(orderID.value)
        w.raw(",\"type\":"); w.string(type.rawValue)
        if let ts = ts ?? stored.map({ EventTime(microseconds: $0.recordedAt) }) { w.raw(",\"ts\":"); w.string(ts.rfc3339) }
        if let eventID { w.raw(",\"event_id\":"); w.string(eventID) }
        if let actor {
            w.raw(",\"actor\":{\"kind\":"); w.string(actor.kind.rawValue); w.raw(",\"id\":"); w.string(actor.id); w.raw("}")
        }
        if let channel { w.raw(",\"channel\":"); w.string(channel) }
        if let attributes { w.raw(",\"attributes\":"); w.raw(attributes) }
        w.raw(",\"data\":"); w.raw(data.json)
        if let stored {
            w.raw(",\"position\":\(stored.position),\"seq\":\(stored.seq),\"recorded_at\":")
            w.string(EventTime(microseconds: stored.recordedAt).rfc3339)
        }
        w.raw("}")
        return w.text
    }
}

extension EventData {
    /// The `data` object as JSON text.
    public var json: String {
        var w = JSONWriter()
        var first = true
        func key(_ k: String) { w.raw(first ? "{" : ","); first = false; w.string(k); w.raw(":") }
        func str(_ k: String, _ v: String) { key(k); w.string(v) }
        func int(_ k: String, _ v: Int64) { key(k); w.raw(String(v)) }
        func lines(_ k: String, _ v: [SkuQuantity]) {
            key(k); w.raw("[")
            for (i, l) in v.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"sku\":"); w.string(l.sku); w.raw(",\"qty\":\(l.qty)}")
            }
            w.raw("]")
        }
        switch self {
        case .orderPlaced(let customer, let channel, let currency, let placed, let shipping, let tax, let discount):
            str("customer_id", customer); str("channel", channel); str("currency", currency)
            key("lines"); w.raw("[")
            for (i, l) in placed.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"sku\":"); w.string(l.sku); w.raw(",\"qty\":\(l.qty),\"unit_price_minor\":\(l.unitPriceMinor)}")
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
        return w.text
    }
}

/// Takes the fields of one JSON object by name, and at the end refuses any it did not take.
struct FieldReader {
    private var members: [(String, JSONValue)]
    let path: String

    init(members: [(String, JSONValue)], path: String) {
        self.members = members
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func has(_ key: String) -> Bool { members.contains { $0.0 == key } }

    mutating func take(_ key: String) -> JSONValue? {
        guard let i = members.firstIndex(where: { $0.0 == key }) else { return nil }
        return members.remove(at: i).1
    }

    func finish() throws(OrderError) {
        if let extra = members.first {
            throw OrderError(.unknownField, "unknown field \"\(name(extra.0))\"", field: name(extra.0))
        }
    }

    mutating func string(_ key: String) throws(OrderError) -> String {
        guard let v = try optionalString(key) else { throw OrderError(.missingField, "missing field \"\(name(key))\"", field: name(key)) }
        return v
    }

    mutating func optionalString(_ key: String) throws(OrderError) -> String? {
        guard let v = take(key) else { return nil }
        guard case .string(let s) = v else { throw OrderError(.invalidField, "\(name(key)) must be a string", field: name(key)) }
        try EventLimits.check(string: s, field: name(key))
        return s
    }

    mutating func int(_ key: String) throws(OrderError) -> Int64 {
        guard let v = try optionalInt(key) else { throw OrderError(.missingField, "missing field \"\(name(key))\"", field: name(key)) }
        return v
    }

    mutating func optionalInt(_ key: String) throws(OrderError) -> Int64? {
        guard let v = take(key) else { return nil }
        guard case .number(_, let raw) = v, let n = Int64(raw) else {
            throw OrderError(.invalidField, "\(name(key)) must be an integer (minor units / counts), got \(v.kindName)", field: name(key))
        }
        try EventLimits.check(integer: n, field: name(key))
        return n
    }

    /// A unit count: at most a million per line, which keeps every product of a quantity and
    /// a price (each within ±2^53) far from overflow once the order total is bounded.
    mutating func quantity(_ key: String) throws(OrderError) -> Int64 {
        let n = try int(key)
        try EventLimits.check(quantity: n, field: name(key))
        return n
    }

    mutating func optionalObject(_ key: String) throws(OrderError) -> FieldReader? {
        guard let v = take(key) else { return nil }
        guard case .object(let m, _) = v else { throw OrderError(.invalidField, "\(name(key)) must be an object", field: name(key)) }
        return FieldReader(members: m, path: name(key))
    }

    mutating func objects(_ key: String) throws(OrderError) -> [FieldReader] {
        guard let v = take(key) else { throw OrderError(.missingField, "missing field \"\(name(key))\"", field: name(key)) }
        guard case .array(let items) = v else { throw OrderError(.invalidField, "\(name(key)) must be an array", field: name(key)) }
        try EventLimits.check(count: items.count, field: name(key))
        var result: [FieldReader] = []
        for (i, item) in items.enumerated() {
            guard case .object(let m, _) = item else { throw OrderError(.invalidField, "\(name(key))[\(i)] must be an object", field: "\(name(key))[\(i)]") }
            result.append(FieldReader(members: m, path: "\(name(key))[\(i)]"))
        }
        return result
    }

    mutating func skuQuantities(_ key: String) throws(OrderError) -> [SkuQuantity] {
        var lines: [SkuQuantity] = []
        for line in try objects(key) {
            var l = line
            lines.append(SkuQuantity(sku: try l.string("sku"), qty: try l.quantity("qty")))
            try l.finish()
        }
        return lines
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(_, let raw): raw
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
