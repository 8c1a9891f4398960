/// An order's state in the form a checkpoint stores it (docs/FORMAT.md §12, §13): the header's
/// fields in order, little-endian, then the buffer's length and the buffer. Reading one checks
/// every count, range and reference in it, so a state that passed its checksum but not these
/// (a bug, another layout) is refused — never read out of bounds, never trusted blindly.
extension OrderSnapshot {
    /// The layout `appendStoredState` writes (FORMAT.md §12).
    public static let storedStateLayout: UInt32 = 1
    /// Bytes of the header part.
    public static let storedStateHeaderBytes = 144

    /// Appends the state in its stored form to `out`.
    public func appendStoredState(to out: inout [UInt8]) {
        let h = state.header
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
        func text(_ t: TextRef) { u32(t.offset); u32(t.length) }
        u32(h.version); u32(h.flags); u32(h.notes); u32(h.reserved)
        u64(h.lastPosition); u64(h.placedPosition)
        i64(h.shippingMinor); i64(h.taxMinor); i64(h.discountMinor)
        i64(h.placedAt); i64(h.paidAt); i64(h.shippedAt); i64(h.deliveredAt)
        text(h.currency); text(h.customerID); text(h.channel)
        for k in 0..<8 { u32(h.counts[k]) }
        u32(UInt32(state.storage.count))
        out.append(contentsOf: state.storage)
    }

    /// Reads a state `appendStoredState` wrote, from the whole of `bytes`. Throws
    /// `corrupt_payload` naming what is wrong.
    public init(orderID: OrderID, storedState bytes: UnsafeRawBufferPointer) throws(OrderError) {
        func fail(_ what: String) -> OrderError { OrderError(.corruptPayload, "stored state of order \(orderID): \(what)", orderID: orderID.value) }
        guard bytes.count >= Self.storedStateHeaderBytes + 4 else { throw fail("\(bytes.count) bytes; at least \(Self.storedStateHeaderBytes + 4)") }
        var at = 0
        func u32() -> UInt32 { defer { at += 4 }; return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64() -> UInt64 { defer { at += 8 }; return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func i64() -> Int64 { Int64(bitPattern: u64()) }
        func text() -> TextRef { TextRef(offset: u32(), length: u32()) }
        var h = OrderState.Header()
        h.version = u32(); h.flags = u32(); h.notes = u32(); h.reserved = u32()
        h.lastPosition = u64(); h.placedPosition = u64()
        h.shippingMinor = i64(); h.taxMinor = i64(); h.discountMinor = i64()
        h.placedAt = i64(); h.paidAt = i64(); h.shippedAt = i64(); h.deliveredAt = i64()
        h.currency = text(); h.customerID = text(); h.channel = text()
        for k in 0..<8 { h.counts[k] = u32() }
        let length = Int(u32())
        guard at + length == bytes.count else { throw fail("buffer of \(length) bytes in \(bytes.count - at)") }
        self.init(orderID: orderID)
        state = OrderState(header: h, storage: Array(UnsafeRawBufferPointer(rebasing: bytes[at...])))
        if let problem = state.problem() { throw fail(problem) }
    }
}

extension OrderState {
    /// What makes this state unusable, or nil: tables that do not fit the buffer, text or unit
    /// references outside it, an unknown fulfillment state — and any value the rules never let
    /// an order reach (a count, an amount or a sum out of its range), so arithmetic on a state
    /// that passed its checksum but was never written by the rules cannot overflow.
    func problem() -> String? {
        if header.counts[7] != 0 || header.reserved != 0 { return "reserved fields are not 0" }
        if let numbers = numericProblem() { return numbers }
        var tables = 0
        for k in 0..<7 {
            let (bytes, o1) = Int(header.counts[k]).multipliedReportingOverflow(by: Int(Table.sizes[k]))
            let (sum, o2) = tables.addingReportingOverflow(bytes)
            guard !o1, !o2 else { return "table \(k) too large" }
            tables = sum
        }
        guard tables <= storage.count else { return "tables of \(tables) bytes in a buffer of \(storage.count)" }
        if header.flags & ~1 != 0 { return "flags \(header.flags)" }
        let textBytes = storage.count - tables
        func bad(_ t: TextRef) -> Bool { !t.isNone && Int(t.offset) + Int(t.length) > textBytes }
        if bad(header.currency) || bad(header.customerID) || bad(header.channel) { return "header text outside the text" }
        let lines = count(.lines), units = count(.units)
        for i in 0..<lines where bad(record(.lines, i, as: LineRecord.self).sku) { return "line \(i): text outside the text" }
        for i in 0..<count(.payments) {
            let p = record(.payments, i, as: PaymentRecord.self)
            if bad(p.id) || bad(p.lastFailureReason) { return "payment \(i): text outside the text" }
        }
        for i in 0..<count(.fulfillments) {
            let f = record(.fulfillments, i, as: FulfillmentRecord.self)
            if bad(f.id) || bad(f.location) || bad(f.carrier) || bad(f.trackingNo) { return "fulfillment \(i): text outside the text" }
            if Int(f.state) >= FulfillmentRecord.states.count { return "fulfillment \(i): state \(f.state)" }
            if Int(f.firstUnit) + Int(f.unitCount) > units { return "fulfillment \(i): units outside the table" }
        }
        for i in 0..<units {
            let u = record(.units, i, as: UnitRecord.self)
            if bad(u.sku) || bad(u.cancelSku) { return "unit \(i): text outside the text" }
            if Int(u.line) >= lines { return "unit \(i): line \(u.line) of \(lines)" }
        }
        for i in 0..<count(.returns) {
            let r = record(.returns, i, as: ReturnRecord.self)
            if bad(r.id) || bad(r.reason) { return "return \(i): text outside the text" }
            if Int(r.firstUnit) + Int(r.unitCount) > units || Int(r.firstReceived) + Int(r.receivedCount) > units { return "return \(i): units outside the table" }
        }
        for i in 0..<count(.refunds) {
            let r = record(.refunds, i, as: RefundRecord.self)
            if bad(r.id) || bad(r.paymentID) || bad(r.returnID) { return "refund \(i): text outside the text" }
        }
        for i in 0..<count(.eventIDs) where bad(record(.eventIDs, i, as: EventIDRecord.self).id) { return "event id \(i): text outside the text" }
        return nil
    }
}

extension OrderSnapshot {
    /// Whether `other` holds the same state, byte for byte (two replays of the same events do).
    public func hasSameState(as other: OrderSnapshot) -> Bool {
        orderID == other.orderID && state.header == other.state.header && state.storage == other.state.storage
    }
}

extension OrderState {
    /// The ranges the rules keep an order in (EVENTS.md §4, §7), checked with arithmetic that
    /// cannot trap.
    private func numericProblem() -> String? {
        let amountMax = OrderSnapshot.amountMax, quantityMax = OrderSnapshot.quantityMax
        let eventsMax: UInt32 = 1 << 24
        let h = header
        guard h.version >= 1, h.version <= eventsMax, h.notes <= eventsMax else { return "version \(h.version) or notes \(h.notes) out of range" }
        guard h.placedPosition != .max, h.lastPosition != .max, h.placedPosition <= h.lastPosition else { return "positions out of order" }
        for v in [h.shippingMinor, h.taxMinor, h.discountMinor] where v < 0 || v > amountMax { return "amount \(v) out of range" }
        guard count(.lines) <= OrderSnapshot.linesMax else { return "\(count(.lines)) lines" }
        var merchandise: Int64 = h.shippingMinor + h.taxMinor
        for i in 0..<count(.lines) {
            let l = record(.lines, i, as: LineRecord.self)
            for q in [l.ordered, l.cancelled, l.requested, l.packed, l.shipped, l.delivered, l.returnRequested, l.returned] where q < 0 || q > quantityMax {
                return "line \(i): quantity \(q) out of range"
            }
            guard l.cancelled <= l.ordered, l.unitPriceMinor >= 0, l.unitPriceMinor <= amountMax,
                  l.adjustmentsMinor.magnitude <= UInt64(amountMax), l.adjustmentsAppliedMinor.magnitude <= UInt64(amountMax) else {
                return "line \(i): values out of range"
            }
            let (product, o1) = l.ordered.multipliedReportingOverflow(by: l.unitPriceMinor)
            let (sum, o2) = merchandise.addingReportingOverflow(product)
            guard !o1, !o2, sum <= amountMax else { return "the order's total is out of range" }
            merchandise = sum
        }
        var authorized: Int64 = 0
        for i in 0..<count(.payments) {
            let p = record(.payments, i, as: PaymentRecord.self)
            for v in [p.authorized, p.captured, p.voided, p.refunded] where v < 0 || v > amountMax { return "payment \(i): amount out of range" }
            guard p.authorizations <= eventsMax, p.failures <= eventsMax else { return "payment \(i): counts out of range" }
            authorized += p.authorized
            guard authorized <= amountMax else { return "authorizations out of range" }
        }
        var refunded: Int64 = 0
        for i in 0..<count(.refunds) {
            let r = record(.refunds, i, as: RefundRecord.self)
            guard r.amountMinor >= 0, r.amountMinor <= amountMax else { return "refund \(i): amount out of range" }
            refunded += r.amountMinor
            guard refunded <= amountMax else { return "refunds out of range" }
        }
        for i in 0..<count(.units) {
            let u = record(.units, i, as: UnitRecord.self)
            guard u.qty >= 0, u.qty <= quantityMax, u.cancelled >= 0, u.cancelled <= u.qty else { return "unit \(i): quantity out of range" }
        }
        return nil
    }
}
