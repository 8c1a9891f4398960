/// The fast path of `OrderEvent.decodeJSONRecord` (and `decodeJSONLine`): one pass over a
/// line's bytes, straight to the event's binary form (docs/EVENTS.md §5) — no tree of
/// `JSONValue`s, no String per field, no `OrderEvent`: strings are copied from the line into
/// the binary form as they are.
///
/// It decodes the lines producers and exports write (every field known, plain ASCII strings
/// without escapes, integers without fraction or exponent) and gives up (`nil`) on anything
/// else: an escape, non-ASCII text it would have to validate, an unknown or repeated field, a
/// wrong type, a value past a limit, a syntax error. The strict decoder then decodes the line
/// again and either accepts it or names what is wrong (line, field, byte). So it is never the
/// judge of a line: whatever it accepts, the strict decoder accepts as the same event (a
/// property test and the json-event fuzz target hold it to that).
///
/// Shape after simdjson's "on demand" front end (ondemand/json_iterator.h): keys are matched
/// as bytes against the catalog's names, values are read in place from the line's buffer.
struct JSONLineDecoder {
    /// Giving up: the strict decoder takes over.
    struct Bail: Error {}

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0
    /// The `data` part of the binary form, written as `data` is read.
    private var data = BinaryWriter()
    /// A `lines` list's entries, written as they are read (the count goes before them).
    private var lines = BinaryWriter()
    private var lineCount = 0

    private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    static func decode(_ bytes: [UInt8]) -> OrderEvent.JSONRecord? {
        guard bytes.count <= EventLimits.jsonLineBytesMax else { return nil }
        return bytes.withUnsafeBufferPointer { p in
            var d = JSONLineDecoder(p)
            return try? d.line()
        }
    }

    // MARK: - The line

    private mutating func line() throws(Bail) -> OrderEvent.JSONRecord {
        var orderID: OrderID?
        var type: EventType?
        var ts: EventTime?
        var eventID: Range<Int>?
        var actor: (kind: Actor.Kind, id: Range<Int>)?
        var channel: Range<Int>?
        var expected = ExpectedVersion.any
        var attributes: String?
        var position: UInt64?
        var seq: UInt32?
        var recordedAt: Int64?
        var dataDone = false
        var dataStart: Int?  // `data` came before `type`: decoded once the type is known
        var seen: UInt16 = 0

        space(); try expect(0x7B)
        space()
        if peek == 0x7D { throw Bail() }  // `{}`: no order_id
        while true {
            space()
            let key = try keyBytes()
            space(); try expect(0x3A); space()
            let field: UInt16
            switch key.count {
            case 2 where same(key, "ts"): field = 1 << 0; ts = try time()
            case 3 where same(key, "seq"):
                field = 1 << 1
                let n = try integer()
                guard n >= 1 && n <= Int64(UInt32.max) else { throw Bail() }
                seq = UInt32(n)
            case 4 where same(key, "type"):
                field = 1 << 2
                guard let t = EventType(rawValue: try string()) else { throw Bail() }
                type = t
                if let start = dataStart {
                    let resume = i
                    i = start
                    try eventData(t)
                    dataDone = true
                    i = resume
                }
            case 4 where same(key, "data"):
                field = 1 << 3
                if let type { try eventData(type); dataDone = true } else { dataStart = i; try skipObject() }
            case 5 where same(key, "actor"): field = 1 << 4; actor = try actorObject()
            case 7 where same(key, "channel"): field = 1 << 5; channel = try text()
            case 8 where same(key, "order_id"):
                field = 1 << 6
                do { orderID = try OrderID(try string()) } catch { throw Bail() }
            case 8 where same(key, "event_id"): field = 1 << 7; eventID = try text()
            case 8 where same(key, "position"):
                field = 1 << 8
                let n = try integer()
                guard n >= 0 else { throw Bail() }
                position = UInt64(n)
            case 10 where same(key, "attributes"): field = 1 << 9; attributes = try attributesObject()
            case 11 where same(key, "recorded_at"): field = 1 << 10; recordedAt = try time().microseconds
            case 16 where same(key, "expected_version"):
                field = 1 << 11
                if peek == 0x22 {
                    switch try string() {
                    case "any": expected = .any
                    case "none": expected = .none
                    default: throw Bail()
                    }
                } else {
                    let n = try integer()
                    guard n >= 0 else { throw Bail() }
                    expected = .exactly(Int(n))
                }
            default: throw Bail()
            }
            if try member(field, seen: &seen) { continue }
            break
        }
        space()
        guard i == b.count, let orderID, let type, dataDone else { throw Bail() }
        // The binary form, in its canonical order (OrderEvent.encodeBinary).
        var w = BinaryWriter()
        w.bytes.reserveCapacity(16 + data.bytes.count + (eventID?.count ?? 0) + (channel?.count ?? 0))
        w.byte(OrderEvent.binaryVersion)
        w.byte((ts != nil ? 1 : 0) | (eventID != nil ? 2 : 0) | (actor != nil ? 4 : 0) | (channel != nil ? 8 : 0) | (attributes != nil ? 16 : 0))
        if let ts { w.int(ts.microseconds); w.int(Int64(ts.offsetMinutes)) }
        if let eventID { put(eventID, into: &w) }
        if let actor { w.byte(UInt8(Actor.Kind.allCases.firstIndex(of: actor.kind)!)); put(actor.id, into: &w) }
        if let channel { put(channel, into: &w) }
        if let attributes { w.string(attributes) }
        w.bytes.append(contentsOf: data.bytes)
        return OrderEvent.JSONRecord(orderID: orderID, type: type, payload: w.bytes, expectedVersion: expected, position: position, seq: seq,
                                     recordedAt: recordedAt)
    }

    /// A string of the line as the binary form writes one: its length, then its bytes.
    private func put(_ r: Range<Int>, into w: inout BinaryWriter) { Self.put(b, r, into: &w) }

    private static func put(_ line: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, into w: inout BinaryWriter) {
        w.int(Int64(r.count))
        w.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: line[r]))
    }

    private mutating func actorObject() throws(Bail) -> (kind: Actor.Kind, id: Range<Int>) {
        var kind: Actor.Kind?
        var id: Range<Int>?
        try expect(0x7B)
        while true {
            space()
            let key = try keyBytes()
            space(); try expect(0x3A); space()
            if key.count == 4 && same(key, "kind") && kind == nil {
                guard let k = Actor.Kind(rawValue: try string()) else { throw Bail() }
                kind = k
            } else if key.count == 2 && same(key, "id") && id == nil {
                id = try text()
            } else {
                throw Bail()
            }
            space()
            if peek == 0x2C { i += 1; continue }
            try expect(0x7D)
            break
        }
        guard let kind, let id else { throw Bail() }
        return (kind, id)
    }

    /// `attributes` is kept as the text it was given: its end is found here, and the strict
    /// parser checks it (it is rare, and must be exactly what the strict decoder keeps).
    private mutating func attributesObject() throws(Bail) -> String {
        let start = i
        try skipObject()
        let text = Array(UnsafeBufferPointer(rebasing: b[start..<i]))
        guard case .object(_, let raw)? = try? JSONParser.parse(text, depthBase: EventLimits.attributesDepthBase) else { throw Bail() }
        return raw
    }

    // MARK: - `data`

    /// Every field any event type's `data` has; each type takes its own (EVENTS.md §3).
    /// Strings are ranges of the line; a `lines` list is in `lines` (`lineCount` entries).
    private struct DataFields {
        var customerID: Range<Int>?, channel: Range<Int>?, currency: Range<Int>?
        var hasLines = false
        var shipping: Int64?, tax: Int64?, discount: Int64?
        var paymentID: Range<Int>?, amount: Int64?, reason: Range<Int>?
        var fulfillmentID: Range<Int>?, location: Range<Int>?, carrier: Range<Int>?, trackingNo: Range<Int>?
        var returnID: Range<Int>?, refundID: Range<Int>?, sku: Range<Int>?, text: Range<Int>?
    }

    /// Reads `data` and writes its binary form into `data`.
    private mutating func eventData(_ type: EventType) throws(Bail) {
        var f = DataFields()
        var seen: UInt32 = 0
        lines.bytes.removeAll(keepingCapacity: true)
        lineCount = 0
        try expect(0x7B)
        space()
        if peek == 0x7D {
            i += 1
        } else {
            while true {
                space()
                let key = try keyBytes()
                space(); try expect(0x3A); space()
                let field: UInt32
                switch key.count {
                case 3 where same(key, "sku"): field = 1 << 0; f.sku = try text()
                case 4 where same(key, "text"): field = 1 << 1; f.text = try text()
                case 5 where same(key, "lines"):
                    field = 1 << 2
                    if type == .orderPlaced { try placedLines() } else { try skuQuantities() }
                    f.hasLines = true
                case 6 where same(key, "reason"): field = 1 << 3; f.reason = try text()
                case 7 where same(key, "channel"): field = 1 << 4; f.channel = try text()
                case 7 where same(key, "carrier"): field = 1 << 5; f.carrier = try text()
                case 8 where same(key, "currency"): field = 1 << 6; f.currency = try text()
                case 8 where same(key, "location"): field = 1 << 7; f.location = try text()
                case 9 where same(key, "tax_minor"): field = 1 << 8; f.tax = try integer()
                case 9 where same(key, "return_id"): field = 1 << 9; f.returnID = try text()
                case 9 where same(key, "refund_id"): field = 1 << 10; f.refundID = try text()
                case 10 where same(key, "payment_id"): field = 1 << 11; f.paymentID = try text()
                case 11 where same(key, "customer_id"): field = 1 << 12; f.customerID = try text()
                case 11 where same(key, "tracking_no"): field = 1 << 13; f.trackingNo = try text()
                case 12 where same(key, "amount_minor"): field = 1 << 14; f.amount = try integer()
                case 14 where same(key, "shipping_minor"): field = 1 << 15; f.shipping = try integer()
                case 14 where same(key, "discount_minor"): field = 1 << 16; f.discount = try integer()
                case 14 where same(key, "fulfillment_id"): field = 1 << 17; f.fulfillmentID = try text()
                default: throw Bail()
                }
                if try member(field, seen: &seen) { continue }
                break
            }
        }
        // Each type takes exactly its fields: any other present is the strict decoder's
        // "unknown field" to report.
        func only(_ allowed: UInt32) throws(Bail) { guard seen & ~allowed == 0 else { throw Bail() } }
        let sku: UInt32 = 1 << 0, text: UInt32 = 1 << 1, lines: UInt32 = 1 << 2, reason: UInt32 = 1 << 3
        let channel: UInt32 = 1 << 4, carrier: UInt32 = 1 << 5, currency: UInt32 = 1 << 6, location: UInt32 = 1 << 7
        let tax: UInt32 = 1 << 8, returnID: UInt32 = 1 << 9, refundID: UInt32 = 1 << 10, paymentID: UInt32 = 1 << 11
        let customerID: UInt32 = 1 << 12, trackingNo: UInt32 = 1 << 13, amount: UInt32 = 1 << 14
        let shipping: UInt32 = 1 << 15, discount: UInt32 = 1 << 16, fulfillmentID: UInt32 = 1 << 17
        func need<T>(_ v: T?) throws(Bail) -> T { guard let v else { throw Bail() }; return v }
        // In OrderEvent.encodeBinary's order, each type's fields.
        var w = BinaryWriter()
        w.bytes.reserveCapacity(64 + self.lines.bytes.count)
        func str(_ r: Range<Int>?) throws(Bail) { put(try need(r), into: &w) }
        func int(_ v: Int64?) throws(Bail) { w.int(try need(v)) }
        func list() throws(Bail) {
            guard f.hasLines else { throw Bail() }
            w.int(Int64(lineCount))
            w.bytes.append(contentsOf: self.lines.bytes)
        }
        switch type {
        case .orderPlaced:
            try only(customerID | channel | currency | lines | shipping | tax | discount)
            try str(f.customerID); try str(f.channel); try str(f.currency); try list()
            w.byte((f.shipping != nil ? 1 : 0) | (f.tax != nil ? 2 : 0) | (f.discount != nil ? 4 : 0))
            if let v = f.shipping { w.int(v) }
            if let v = f.tax { w.int(v) }
            if let v = f.discount { w.int(v) }
        case .paymentAuthorized, .paymentCaptured, .paymentVoided:
            try only(paymentID | amount)
            try str(f.paymentID); try int(f.amount)
        case .paymentFailed:
            try only(paymentID | reason)
            try str(f.paymentID); try str(f.reason)
        case .fulfillmentRequested:
            try only(fulfillmentID | location | lines)
            try str(f.fulfillmentID); try str(f.location); try list()
        case .fulfillmentPacked, .delivered:
            try only(fulfillmentID)
            try str(f.fulfillmentID)
        case .shipped:
            try only(fulfillmentID | carrier | trackingNo)
            try str(f.fulfillmentID); try str(f.carrier); try str(f.trackingNo)
        case .itemsCancelled:
            try only(lines | reason)
            try list(); try str(f.reason)
        case .orderCancelled:
            try only(reason)
            try str(f.reason)
        case .returnRequested:
            try only(returnID | lines | reason)
            try str(f.returnID); try list(); try str(f.reason)
        case .returnReceived:
            try only(returnID | lines)
            try str(f.returnID)
            w.byte(f.hasLines ? 1 : 0)
            if f.hasLines { try list() }
        case .refundIssued:
            try only(refundID | amount | paymentID | returnID)
            try str(f.refundID); try int(f.amount)
            w.byte((f.paymentID != nil ? 1 : 0) | (f.returnID != nil ? 2 : 0))
            if let p = f.paymentID { put(p, into: &w) }
            if let r = f.returnID { put(r, into: &w) }
        case .priceAdjusted:
            try only(sku | amount | reason)
            try str(f.sku); try int(f.amount); try str(f.reason)
        case .noteAdded:
            try only(text)
            try str(f.text)
        case .fulfillmentCancelled:
            try only(fulfillmentID | lines | reason)
            try str(f.fulfillmentID)
            w.byte(f.hasLines ? 1 : 0)
            if f.hasLines { try list() }
            try str(f.reason)
        }
        data = w
    }

    /// OrderPlaced's lines, written into `lines` as (sku, qty, unit price).
    private mutating func placedLines() throws(Bail) {
        try array { d throws(Bail) in
            var sku: Range<Int>?, qty: Int64?, price: Int64?
            try d.object { d, key throws(Bail) in
                if key.count == 3 && d.same(key, "sku") && sku == nil { sku = try d.text() }
                else if key.count == 3 && d.same(key, "qty") && qty == nil { qty = try d.quantity() }
                else if key.count == 16 && d.same(key, "unit_price_minor") && price == nil { price = try d.integer() }
                else { throw Bail() }
            }
            guard let sku, let qty, let price else { throw Bail() }
            let line = d.b
            Self.put(line, sku, into: &d.lines)
            d.lines.int(qty)
            d.lines.int(price)
            d.lineCount += 1
        }
    }

    /// A (sku, qty) list, written into `lines`.
    private mutating func skuQuantities() throws(Bail) {
        try array { d throws(Bail) in
            var sku: Range<Int>?, qty: Int64?
            try d.object { d, key throws(Bail) in
                if key.count == 3 && d.same(key, "sku") && sku == nil { sku = try d.text() }
                else if key.count == 3 && d.same(key, "qty") && qty == nil { qty = try d.quantity() }
                else { throw Bail() }
            }
            guard let sku, let qty else { throw Bail() }
            let line = d.b
            Self.put(line, sku, into: &d.lines)
            d.lines.int(qty)
            d.lineCount += 1
        }
    }

    /// An array of objects, at most `EventLimits.linesMax` of them; `item` reads each.
    private mutating func array(_ item: (inout JSONLineDecoder) throws(Bail) -> Void) throws(Bail) {
        try expect(0x5B)
        space()
        if peek == 0x5D { i += 1; return }
        var count = 0
        while true {
            space()
            count += 1
            guard count <= EventLimits.linesMax else { throw Bail() }
            try item(&self)
            space()
            if peek == 0x2C { i += 1; continue }
            try expect(0x5D)
            return
        }
    }

    /// A non-empty object; `member` reads the value of each key (and refuses unknown keys).
    private mutating func object(_ member: (inout JSONLineDecoder, Range<Int>) throws(Bail) -> Void) throws(Bail) {
        try expect(0x7B)
        while true {
            space()
            let key = try keyBytes()
            space(); try expect(0x3A); space()
            try member(&self, key)
            space()
            if peek == 0x2C { i += 1; continue }
            try expect(0x7D)
            return
        }
    }

    // MARK: - Values

    private var peek: UInt8 { i < b.count ? b[i] : 0 }

    @inline(__always) private mutating func space() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    /// After an object member's value: records its field (a field given twice is not judged
    /// here), then true when a `,` follows, false at the object's closing `}`.
    @inline(__always) private mutating func member<Mask: FixedWidthInteger>(_ field: Mask, seen: inout Mask) throws(Bail) -> Bool {
        guard seen & field == 0 else { throw Bail() }
        seen |= field
        space()
        if peek == 0x2C { i += 1; return true }
        try expect(0x7D)
        return false
    }

    @inline(__always) private mutating func expect(_ c: UInt8) throws(Bail) {
        guard i < b.count, b[i] == c else { throw Bail() }
        i += 1
    }

    private func same(_ key: Range<Int>, _ name: StaticString) -> Bool {
        name.withUTF8Buffer { n in
            var k = key.lowerBound
            for c in n {
                guard b[k] == c else { return false }
                k += 1
            }
            return true
        }
    }

    /// A key: a string of plain ASCII (no escape); its bytes' range.
    private mutating func keyBytes() throws(Bail) -> Range<Int> {
        try expect(0x22)
        let start = i
        while i < b.count {
            let c = b[i]
            if c == 0x22 { i += 1; return start..<(i - 1) }
            guard c >= 0x20 && c != 0x5C && c < 0x80 else { throw Bail() }
            i += 1
        }
        throw Bail()
    }

    /// A string of plain ASCII without escapes, within `EventLimits.stringBytesMax`.
    private mutating func string() throws(Bail) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[try text()]), as: UTF8.self)
    }

    /// `string()` as the range of its bytes in the line.
    private mutating func text() throws(Bail) -> Range<Int> {
        let r = try keyBytes()
        guard r.count <= EventLimits.stringBytesMax else { throw Bail() }
        return r
    }

    private mutating func time() throws(Bail) -> EventTime {
        let r = try keyBytes()
        // A string field like any other: the strict decoder refuses one past the limit.
        guard r.count <= EventLimits.stringBytesMax else { throw Bail() }
        do { return try EventTime.parse(rfc3339: UnsafeBufferPointer(rebasing: b[r])) } catch { throw Bail() }
    }

    /// An integer within ±2^53 written as JSON does (no leading zero, no fraction, no
    /// exponent: the strict decoder refuses those, or reads them as another value).
    private mutating func integer() throws(Bail) -> Int64 {
        var negative = false
        if peek == 0x2D { negative = true; i += 1 }
        let start = i
        var n: Int64 = 0
        while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
            guard i - start < 16 else { throw Bail() }  // 2^53 has 16 digits
            n = n * 10 + Int64(b[i] - 0x30)
            i += 1
        }
        let digits = i - start
        guard digits > 0, !(digits > 1 && b[start] == 0x30), n <= EventLimits.integerMagnitudeMax else { throw Bail() }
        let next = peek
        guard next != 0x2E && next != 0x65 && next != 0x45 else { throw Bail() }
        return negative ? -n : n
    }

    private mutating func quantity() throws(Bail) -> Int64 {
        let n = try integer()
        guard n <= EventLimits.quantityMax else { throw Bail() }
        return n
    }

    /// Moves past one object, strings and nesting included, without judging it (the caller
    /// parses what it skipped, or the strict decoder does).
    private mutating func skipObject() throws(Bail) {
        try expect(0x7B)
        var depth = 1
        while i < b.count {
            let c = b[i]
            i += 1
            switch c {
            case 0x22:
                while i < b.count && b[i] != 0x22 {
                    if b[i] == 0x5C { i += 1 }
                    i += 1
                }
                guard i < b.count else { throw Bail() }
                i += 1
            case 0x7B, 0x5B:
                depth += 1
                guard depth <= JSONParser.depthMax else { throw Bail() }
            case 0x7D, 0x5D:
                depth -= 1
                if depth == 0 {
                    guard c == 0x7D else { throw Bail() }
                    return
                }
            default: break
            }
        }
        throw Bail()
    }
}
