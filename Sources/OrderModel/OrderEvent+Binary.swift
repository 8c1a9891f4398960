/// The compact binary form of an event, stored as a log record's payload (docs/EVENTS.md,
/// "Binary form"). The order id is the record's key and the event type its type code, so
/// neither is repeated here. Integers are zigzag LEB128 varints; strings are a varint length
/// and UTF-8 bytes. The first byte is the codec version: a reader meets a newer version with
/// `unsupported_codec_version`, never with a misreading.
extension OrderEvent {
    public static let binaryVersion: UInt8 = 1

    public func encodeBinary() -> [UInt8] {
        var w = BinaryWriter()
        w.byte(OrderEvent.binaryVersion)
        var flags: UInt8 = 0
        if ts != nil { flags |= 1 }
        if eventID != nil { flags |= 2 }
        if actor != nil { flags |= 4 }
        if channel != nil { flags |= 8 }
        if attributes != nil { flags |= 16 }
        w.byte(flags)
        if let ts { w.int(ts.microseconds); w.int(Int64(ts.offsetMinutes)) }
        if let eventID { w.string(eventID) }
        if let actor { w.byte(UInt8(Actor.Kind.allCases.firstIndex(of: actor.kind)!)); w.string(actor.id) }
        if let channel { w.string(channel) }
        if let attributes { w.string(attributes) }
        switch data {
        case .orderPlaced(let customer, let channel, let currency, let lines, let shipping, let tax, let discount):
            w.string(customer); w.string(channel); w.string(currency)
            w.int(Int64(lines.count))
            for l in lines { w.string(l.sku); w.int(l.qty); w.int(l.unitPriceMinor) }
            w.byte((shipping != nil ? 1 : 0) | (tax != nil ? 2 : 0) | (discount != nil ? 4 : 0))
            if let shipping { w.int(shipping) }
            if let tax { w.int(tax) }
            if let discount { w.int(discount) }
        case .paymentAuthorized(let p, let a), .paymentCaptured(let p, let a), .paymentVoided(let p, let a):
            w.string(p); w.int(a)
        case .paymentFailed(let p, let reason): w.string(p); w.string(reason)
        case .fulfillmentRequested(let f, let location, let lines): w.string(f); w.string(location); w.lines(lines)
        case .fulfillmentPacked(let f), .delivered(let f): w.string(f)
        case .shipped(let f, let carrier, let tracking): w.string(f); w.string(carrier); w.string(tracking)
        case .itemsCancelled(let lines, let reason): w.lines(lines); w.string(reason)
        case .orderCancelled(let reason): w.string(reason)
        case .returnRequested(let r, let lines, let reason): w.string(r); w.lines(lines); w.string(reason)
        case .returnReceived(let r, let lines):
            w.string(r)
            w.byte(lines == nil ? 0 : 1)
            if let lines { w.lines(lines) }
        case .refundIssued(let r, let a, let p, let ret):
            w.string(r); w.int(a)
            w.byte((p != nil ? 1 : 0) | (ret != nil ? 2 : 0))
            if let p { w.string(p) }
            if let ret { w.string(ret) }
        case .priceAdjusted(let sku, let a, let reason): w.string(sku); w.int(a); w.string(reason)
        case .noteAdded(let text): w.string(text)
        case .fulfillmentCancelled(let f, let lines, let reason):
            w.string(f)
            w.byte(lines == nil ? 0 : 1)
            if let lines { w.lines(lines) }
            w.string(reason)
        }
        return w.bytes
    }

    /// `payload` — the binary form of an event without `ts` — with `ts` set to `time`: the
    /// same bytes `encodeBinary` gives for the event with that `ts` (`ts` comes first after
    /// the flags byte). A store gives an event without `ts` its recorded time this way.
    public static func binary(_ payload: [UInt8], withTime time: EventTime) -> [UInt8] {
        precondition(payload.count >= 2 && payload[1] & 1 == 0, "binary(_:withTime:) of an event that has a ts")
        var w = BinaryWriter()
        w.byte(payload[0])
        w.byte(payload[1] | 1)
        w.int(time.microseconds)
        w.int(Int64(time.offsetMinutes))
        w.bytes.append(contentsOf: payload[2...])
        return w.bytes
    }

    public static func decodeBinary(orderID: OrderID, type: EventType, _ bytes: UnsafeRawBufferPointer) throws(OrderError) -> OrderEvent {
        var r = BinaryReader(bytes: bytes)
        let version = try r.byte()
        guard version == binaryVersion else {
            throw OrderError(.unsupportedCodecVersion, "event codec version \(version); this build reads version \(binaryVersion)", orderID: orderID.value)
        }
        let flags = try r.byte()
        guard flags & ~31 == 0 else { throw r.fail("flags \(flags) has bits other than 1, 2, 4, 8 and 16") }
        var event = OrderEvent(orderID: orderID, data: .noteAdded(text: ""))
        if flags & 1 != 0 {
            let ts = EventTime(microseconds: try r.int(), offsetMinutes: Int16(clamping: try r.int()))
            guard ts.isInRange else { throw r.fail("ts out of range") }
            event.ts = ts
        }
        if flags & 2 != 0 { event.eventID = try r.string() }
        if flags & 4 != 0 {
            let k = Int(try r.byte())
            guard k < Actor.Kind.allCases.count else { throw r.fail("actor kind \(k)") }
            event.actor = Actor(kind: Actor.Kind.allCases[k], id: try r.string())
        }
        if flags & 8 != 0 { event.channel = try r.string() }
        if flags & 16 != 0 { event.attributes = try r.string() }
        switch type {
        case .orderPlaced:
            let customer = try r.string(), channel = try r.string(), currency = try r.string()
            let n = try r.count()
            var lines: [PlacedLine] = []
            lines.reserveCapacity(n)
            for _ in 0..<n { lines.append(PlacedLine(sku: try r.string(), qty: try r.int(), unitPriceMinor: try r.int())) }
            let present = try r.flags(7)
            let shipping = present & 1 != 0 ? try r.int() : nil
            let tax = present & 2 != 0 ? try r.int() : nil
            let discount = present & 4 != 0 ? try r.int() : nil
            event.data = .orderPlaced(customerID: customer, channel: channel, currency: currency, lines: lines, shippingMinor: shipping, taxMinor: tax, discountMinor: discount)
        case .paymentAuthorized: event.data = .paymentAuthorized(paymentID: try r.string(), amountMinor: try r.int())
        case .paymentCaptured: event.data = .paymentCaptured(paymentID: try r.string(), amountMinor: try r.int())
        case .paymentVoided: event.data = .paymentVoided(paymentID: try r.string(), amountMinor: try r.int())
        case .paymentFailed: event.data = .paymentFailed(paymentID: try r.string(), reason: try r.string())
        case .fulfillmentRequested: event.data = .fulfillmentRequested(fulfillmentID: try r.string(), location: try r.string(), lines: try r.lines())
        case .fulfillmentPacked: event.data = .fulfillmentPacked(fulfillmentID: try r.string())
        case .shipped: event.data = .shipped(fulfillmentID: try r.string(), carrier: try r.string(), trackingNo: try r.string())
        case .delivered: event.data = .delivered(fulfillmentID: try r.string())
        case .itemsCancelled: event.data = .itemsCancelled(lines: try r.lines(), reason: try r.string())
        case .orderCancelled: event.data = .orderCancelled(reason: try r.string())
        case .returnRequested: event.data = .returnRequested(returnID: try r.string(), lines: try r.lines(), reason: try r.string())
        case .returnReceived:
            let id = try r.string()
            event.data = .returnReceived(returnID: id, lines: try r.flags(1) == 1 ? try r.lines() : nil)
        case .refundIssued:
            let id = try r.string(), amount = try r.int()
            let present = try r.flags(3)
            let p = present & 1 != 0 ? try r.string() : nil
            let ret = present & 2 != 0 ? try r.string() : nil
            event.data = .refundIssued(refundID: id, amountMinor: amount, paymentID: p, returnID: ret)
        case .priceAdjusted: event.data = .priceAdjusted(sku: try r.string(), amountMinor: try r.int(), reason: try r.string())
        case .noteAdded: event.data = .noteAdded(text: try r.string())
        case .fulfillmentCancelled:
            let id = try r.string()
            let lines = try r.flags(1) == 1 ? try r.lines() : nil
            event.data = .fulfillmentCancelled(fulfillmentID: id, lines: lines, reason: try r.string())
        }
        guard r.atEnd else { throw r.fail("\(r.remaining) unexpected bytes at the end") }
        return event
    }
}

struct BinaryWriter {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(128) }
    mutating func byte(_ b: UInt8) { bytes.append(b) }
    mutating func int(_ v: Int64) {
        var z = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while z >= 0x80 { bytes.append(UInt8(z & 0x7F) | 0x80); z >>= 7 }
        bytes.append(UInt8(z))
    }
    mutating func string(_ s: String) {
        int(Int64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
    mutating func lines(_ lines: [SkuQuantity]) {
        int(Int64(lines.count))
        for l in lines { string(l.sku); int(l.qty) }
    }
}

struct BinaryReader {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    /// False once a value was read from a longer form than a writer makes (a varint with
    /// redundant high zero bytes).
    var canonical = true

    var atEnd: Bool { i == bytes.count }
    var remaining: Int { bytes.count - i }

    func fail(_ what: String) -> OrderError {
        OrderError(.corruptPayload, "event payload does not decode: \(what) at byte \(i)")
    }

    /// A byte of presence flags that may hold only the bits of `allowed`.
    mutating func flags(_ allowed: UInt8) throws(OrderError) -> UInt8 {
        let b = try byte()
        guard b & ~allowed == 0 else { i -= 1; throw fail("presence byte \(b) has bits outside \(allowed)") }
        return b
    }

    mutating func byte() throws(OrderError) -> UInt8 {
        guard i < bytes.count else { throw fail("cut short") }
        defer { i += 1 }
        return bytes[i]
    }

    mutating func int() throws(OrderError) -> Int64 {
        var z: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw fail("varint too long") }
            // The tenth byte holds bit 63 only: more would be silently dropped.
            guard shift < 63 || b <= 1 else { throw fail("varint has bits past bit 63") }
            z |= UInt64(b & 0x7F) << shift
            if b < 0x80 {
                // A last byte of 0 after others adds nothing: the shortest form ends earlier.
                if b == 0 && shift > 0 { canonical = false }
                break
            }
            shift += 7
        }
        return Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1)))
    }

    mutating func count() throws(OrderError) -> Int {
        let n = try int()
        guard n >= 0, n <= Int64(remaining) else { throw fail("count \(n)") }
        return Int(n)
    }

    mutating func string() throws(OrderError) -> String {
        let n = try count()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])
        // Invalid UTF-8 is refused, not repaired: a repaired string would be stored as
        // something other than what was sent. ASCII (nearly every id) needs no validation and
        // takes the fast path; replay decodes millions of strings.
        var ascii = true
        for b in raw where b >= 0x80 { ascii = false; break }
        let s: String
        if ascii {
            s = String(decoding: raw, as: UTF8.self)
        } else {
            guard let valid = String(validating: raw, as: UTF8.self) else { throw fail("string of \(n) bytes is not valid UTF-8") }
            s = valid
        }
        i += n
        return s
    }

    mutating func lines() throws(OrderError) -> [SkuQuantity] {
        let n = try count()
        var result: [SkuQuantity] = []
        result.reserveCapacity(n)
        for _ in 0..<n { result.append(SkuQuantity(sku: try string(), qty: try int())) }
        return result
    }
}
