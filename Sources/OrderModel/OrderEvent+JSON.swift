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
    /// are added. Written by the one writer of event JSON, `EventView.writeJSONLine`, from the
    /// event's binary form.
    public func jsonLine(stored: StoredEvent? = nil) -> String {
        var w = JSONBytes()
        withView { view in
            var id = orderID.value
            id.withUTF8 { view.writeJSONLine(to: &w, orderID: UnsafeRawBufferPointer($0), stored: stored.map { .init(position: $0.position, seq: $0.seq, recordedAt: $0.recordedAt) }) }
        }
        return w.text
    }

    /// Lends `body` a view of the event's binary form. A `ts` outside years 0001–9999 has no
    /// binary form (every way in refuses one): it is left out of the bytes and put back on
    /// the view, so writing JSON stays total.
    func withView<R>(_ body: (EventView) -> R) -> R {
        var plain = self
        plain.ts = nil
        return plain.encodeBinary().withUnsafeBytes { raw in
            // Bytes `encodeBinary` just wrote always read back (every check of `read` holds
            // for them once `ts` is out).
            var view = try! EventView.read(type: type, raw)
            view.ts = ts
            return body(view)
        }
    }
}

extension EventData {
    /// The `data` object as JSON text.
    public var json: String {
        var w = JSONBytes()
        OrderEvent(orderID: OrderID(trusted: "-"), data: self).withView { $0.writeDataJSON(to: &w) }
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
