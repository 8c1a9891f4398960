/// An event's binary form (docs/EVENTS.md §5) read in place: what the lifecycle rules check
/// and apply. Reading it checks everything `OrderEvent.decodeBinary` checks (codec version,
/// flags, ranges, UTF-8, counts, no bytes left over) but builds no `OrderEvent`: its strings
/// and line lists stay views of the bytes until a rule keeps one (a payment's id, a
/// fulfillment's lines). Replays, audits and the store's writes apply events this way.
///
/// A view is valid only while the bytes it was read from are: inside the closure that lent
/// them (`withUnsafeBytes`, a log scan). It must not escape it.
public struct EventView {
    public let type: EventType
    /// When it happened, if given.
    public var ts: EventTime?
    public var eventID: TextView?
    public var actor: (kind: Actor.Kind, id: TextView)?
    public var channel: TextView?
    public var attributes: TextView?
    public var data: DataView
    /// The bytes it was read from.
    public let bytes: UnsafeRawBufferPointer
    /// Whether `bytes` are the canonical form — what `encodeBinary` writes for the event they
    /// hold: every varint in its shortest form and the `ts` offset within 16 bits. A reader
    /// accepts the longer forms too (EVENTS.md §5); a writer stores only canonical bytes, so
    /// canonical ones can be stored as received.
    public let isCanonical: Bool

    /// The type-specific part, as `EventData` with views for its strings and lines.
    public enum DataView {
        case orderPlaced(customerID: TextView, channel: TextView, currency: TextView, lines: PlacedLinesView, shippingMinor: Money?, taxMinor: Money?, discountMinor: Money?)
        case paymentAuthorized(paymentID: TextView, amountMinor: Money)
        case paymentCaptured(paymentID: TextView, amountMinor: Money)
        case paymentVoided(paymentID: TextView, amountMinor: Money)
        case paymentFailed(paymentID: TextView, reason: TextView)
        case fulfillmentRequested(fulfillmentID: TextView, location: TextView, lines: LinesView)
        case fulfillmentPacked(fulfillmentID: TextView)
        case shipped(fulfillmentID: TextView, carrier: TextView, trackingNo: TextView)
        case delivered(fulfillmentID: TextView)
        case itemsCancelled(lines: LinesView, reason: TextView)
        case orderCancelled(reason: TextView)
        case returnRequested(returnID: TextView, lines: LinesView, reason: TextView)
        case returnReceived(returnID: TextView, lines: LinesView?)
        case refundIssued(refundID: TextView, amountMinor: Money, paymentID: TextView?, returnID: TextView?)
        case priceAdjusted(sku: TextView, amountMinor: Money, reason: TextView)
        case noteAdded(text: TextView)
        case fulfillmentCancelled(fulfillmentID: TextView, lines: LinesView?, reason: TextView)
    }

    /// Reads the binary form of an event of `type`. Throws `unsupported_codec_version` or
    /// `corrupt_payload` (naming the byte) as `decodeBinary` does, for the same inputs.
    public static func read(type: EventType, _ bytes: UnsafeRawBufferPointer) throws(OrderError) -> EventView {
        var r = BinaryReader(bytes: bytes)
        let version = try r.byte()
        guard version == OrderEvent.binaryVersion else {
            throw OrderError(.unsupportedCodecVersion, "event codec version \(version); this build reads version \(OrderEvent.binaryVersion)")
        }
        let flags = try r.byte()
        guard flags & ~31 == 0 else { throw r.fail("flags \(flags) has bits other than 1, 2, 4, 8 and 16") }
        var ts: EventTime?
        if flags & 1 != 0 {
            let micros = try r.int(), offset = try r.int()
            if Int64(Int16(clamping: offset)) != offset { r.canonical = false }
            let t = EventTime(microseconds: micros, offsetMinutes: Int16(clamping: offset))
            guard t.isInRange else { throw r.fail("ts out of range") }
            ts = t
        }
        let eventID = flags & 2 != 0 ? try r.text() : nil
        var actor: (kind: Actor.Kind, id: TextView)?
        if flags & 4 != 0 {
            let k = Int(try r.byte())
            guard k < Actor.Kind.allCases.count else { throw r.fail("actor kind \(k)") }
            actor = (Actor.Kind.allCases[k], try r.text())
        }
        let channel = flags & 8 != 0 ? try r.text() : nil
        let attributes = flags & 16 != 0 ? try r.text() : nil
        let data: DataView
        switch type {
        case .orderPlaced:
            let customer = try r.text(), channel = try r.text(), currency = try r.text()
            let lines = try r.placedLines()
            let present = try r.flags(7)
            let shipping = present & 1 != 0 ? try r.int() : nil
            let tax = present & 2 != 0 ? try r.int() : nil
            let discount = present & 4 != 0 ? try r.int() : nil
            data = .orderPlaced(customerID: customer, channel: channel, currency: currency, lines: lines, shippingMinor: shipping, taxMinor: tax, discountMinor: discount)
        case .paymentAuthorized: data = .paymentAuthorized(paymentID: try r.text(), amountMinor: try r.int())
        case .paymentCaptured: data = .paymentCaptured(paymentID: try r.text(), amountMinor: try r.int())
        case .paymentVoided: data = .paymentVoided(paymentID: try r.text(), amountMinor: try r.int())
        case .paymentFailed: data = .paymentFailed(paymentID: try r.text(), reason: try r.text())
        case .fulfillmentRequested: data = .fulfillmentRequested(fulfillmentID: try r.text(), location: try r.text(), lines: try r.linesView())
        case .fulfillmentPacked: data = .fulfillmentPacked(fulfillmentID: try r.text())
        case .shipped: data = .shipped(fulfillmentID: try r.text(), carrier: try r.text(), trackingNo: try r.text())
        case .delivered: data = .delivered(fulfillmentID: try r.text())
        case .itemsCancelled: data = .itemsCancelled(lines: try r.linesView(), reason: try r.text())
        case .orderCancelled: data = .orderCancelled(reason: try r.text())
        case .returnRequested: data = .returnRequested(returnID: try r.text(), lines: try r.linesView(), reason: try r.text())
        case .returnReceived:
            let id = try r.text()
            data = .returnReceived(returnID: id, lines: try r.flags(1) == 1 ? try r.linesView() : nil)
        case .refundIssued:
            let id = try r.text(), amount = try r.int()
            let present = try r.flags(3)
            let p = present & 1 != 0 ? try r.text() : nil
            let ret = present & 2 != 0 ? try r.text() : nil
            data = .refundIssued(refundID: id, amountMinor: amount, paymentID: p, returnID: ret)
        case .priceAdjusted: data = .priceAdjusted(sku: try r.text(), amountMinor: try r.int(), reason: try r.text())
        case .noteAdded: data = .noteAdded(text: try r.text())
        case .fulfillmentCancelled:
            let id = try r.text()
            let lines = try r.flags(1) == 1 ? try r.linesView() : nil
            data = .fulfillmentCancelled(fulfillmentID: id, lines: lines, reason: try r.text())
        }
        guard r.atEnd else { throw r.fail("\(r.remaining) unexpected bytes at the end") }
        return EventView(type: type, ts: ts, eventID: eventID, actor: actor, channel: channel, attributes: attributes, data: data,
                         bytes: bytes, isCanonical: r.canonical)
    }
}

/// UTF-8 text inside an event's bytes (checked when the event was read).
public struct TextView: CustomStringConvertible {
    public let bytes: UnsafeRawBufferPointer

    /// The text as a String (a copy of its bytes).
    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { string }
    public var isEmpty: Bool { bytes.isEmpty }

    /// Whether `s` is this text as Swift compares Strings: equal bytes, or — only when either
    /// is not ASCII — canonically equivalent Unicode ("é" and "e" + U+0301 are one sku), so
    /// the rules decide on bytes exactly as they did on Strings.
    @inline(__always)
    public static func == (a: TextView, s: String) -> Bool {
        // In place for a native String (no copy of it); a bridged one takes the slow path.
        let fast = s.utf8.withContiguousStorageIfAvailable { u -> Bool? in
            if u.count == a.bytes.count && sameBytes(u.baseAddress, a.bytes.baseAddress, u.count) { return true }
            if isASCII(UnsafeRawBufferPointer(u)) && isASCII(a.bytes) { return false }
            return nil
        }
        if let answer = fast ?? nil { return answer }
        return a.string == s
    }

    @inline(__always)
    public static func == (a: TextView, b: TextView) -> Bool {
        if a.bytes.count == b.bytes.count && sameBytes(a.bytes.baseAddress, b.bytes.baseAddress, a.bytes.count) { return true }
        if isASCII(a.bytes) && isASCII(b.bytes) { return false }
        return a.string == b.string
    }
}

@inline(__always)
func isASCII(_ b: UnsafeRawBufferPointer) -> Bool {
    for x in b where x >= 0x80 { return false }
    return true
}

/// Whether `n` bytes at `a` and `b` are equal. The bytes compared are short (ids, skus): a loop
/// is as fast as a call, and keeps OrderModel free of a libc import.
@inline(__always)
func sameBytes(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer?, _ n: Int) -> Bool {
    guard n > 0, let a, let b else { return true }
    for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
    return true
}

/// A `lines` list of (sku, qty) inside an event's bytes, read when iterated (it was checked
/// when the event was read).
public struct LinesView: Sequence {
    let bytes: UnsafeRawBufferPointer
    public let count: Int
    public var isEmpty: Bool { count == 0 }

    public struct Line { public let sku: TextView; public let qty: Int64 }

    public struct Iterator: IteratorProtocol {
        var r: BinaryReader
        var left: Int
        public mutating func next() -> Line? {
            guard left > 0 else { return nil }
            left -= 1
            // Checked when the event was read: these reads cannot fail.
            let sku = try! r.text()
            return Line(sku: sku, qty: try! r.int())
        }
    }

    public func makeIterator() -> Iterator { Iterator(r: BinaryReader(bytes: bytes), left: count) }
}

/// OrderPlaced's lines (sku, qty, unit price) inside an event's bytes.
public struct PlacedLinesView: Sequence {
    let bytes: UnsafeRawBufferPointer
    public let count: Int
    public var isEmpty: Bool { count == 0 }

    public struct Line { public let sku: TextView; public let qty: Int64; public let unitPriceMinor: Money }

    public struct Iterator: IteratorProtocol {
        var r: BinaryReader
        var left: Int
        public mutating func next() -> Line? {
            guard left > 0 else { return nil }
            left -= 1
            let sku = try! r.text()
            return Line(sku: sku, qty: try! r.int(), unitPriceMinor: try! r.int())
        }
    }

    public func makeIterator() -> Iterator { Iterator(r: BinaryReader(bytes: bytes), left: count) }
}

extension BinaryReader {
    /// A string as a view of its bytes, checked as `string()` checks it.
    mutating func text() throws(OrderError) -> TextView {
        let n = try count()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])
        var ascii = true
        for b in raw where b >= 0x80 { ascii = false; break }
        if !ascii, String(validating: raw, as: UTF8.self) == nil { throw fail("string of \(n) bytes is not valid UTF-8") }
        i += n
        return TextView(bytes: raw)
    }

    /// A (sku, qty) list, each line checked, as a view of its bytes.
    mutating func linesView() throws(OrderError) -> LinesView {
        let n = try count()
        let start = i
        for _ in 0..<n { _ = try text(); _ = try int() }
        return LinesView(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), count: n)
    }

    /// OrderPlaced's (sku, qty, price) list, each line checked, as a view of its bytes.
    mutating func placedLines() throws(OrderError) -> PlacedLinesView {
        let n = try count()
        let start = i
        for _ in 0..<n { _ = try text(); _ = try int(); _ = try int() }
        return PlacedLinesView(bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), count: n)
    }
}
