/// One order's state in flat form: a fixed-size header, and one buffer holding fixed-size
/// records in seven tables — lines, payments, fulfillments, units, returns, refunds, event ids —
/// followed by the text they refer to (docs/FORMAT.md, "Order state").
///
/// Why flat: an order's state was a tree of arrays of structs of Strings — about ten heap
/// allocations an order, each retained when a snapshot was copied and released when it was
/// dropped, which a profile of an import found in every event (issue 11). Here an order is its
/// header plus one array of bytes: copying it is one retain, dropping it one release, and the
/// bytes are what a checkpoint writes. The rules (`OrderSnapshot+Rules.swift`) read and change
/// the records in place; `OrderSnapshot`'s public arrays are built from them on request.
///
/// Records are plain values with a fixed layout (every field 4 or 8 bytes, 8-byte multiples),
/// stored unaligned-safe with `storeBytes` and read with `loadUnaligned`. A record refers to
/// text by `TextRef` (offset from the start of the text, length): text is only appended, so
/// a reference stays valid as tables grow in front of it.
struct OrderState: Sendable {
    /// The tables, in the order they are laid out in the buffer.
    enum Table: Int, CaseIterable {
        case lines, payments, fulfillments, units, returns, refunds, eventIDs

        /// Each table's record size in bytes, by raw value.
        static let sizes = SIMD8<UInt32>(
            UInt32(MemoryLayout<LineRecord>.size), UInt32(MemoryLayout<PaymentRecord>.size),
            UInt32(MemoryLayout<FulfillmentRecord>.size), UInt32(MemoryLayout<UnitRecord>.size),
            UInt32(MemoryLayout<ReturnRecord>.size), UInt32(MemoryLayout<RefundRecord>.size),
            UInt32(MemoryLayout<EventIDRecord>.size), 0)
    }

    /// The fixed part. Optional values are sentinels: `UInt64.max` for no position,
    /// `Int64.min` for no time, `TextRef.none` for no text.
    struct Header: Sendable, Equatable {
        var version: UInt32 = 0
        /// Bit 0: the order is cancelled.
        var flags: UInt32 = 0
        var notes: UInt32 = 0
        var reserved: UInt32 = 0
        var lastPosition: UInt64 = .max
        var placedPosition: UInt64 = .max
        var shippingMinor: Int64 = 0
        var taxMinor: Int64 = 0
        var discountMinor: Int64 = 0
        var placedAt: Int64 = .min
        var paidAt: Int64 = .min
        var shippedAt: Int64 = .min
        var deliveredAt: Int64 = .min
        var currency = TextRef.none
        var customerID = TextRef.none
        var channel = TextRef.none
        /// Records in each table, by `Table.rawValue` (the eighth lane is unused).
        var counts = SIMD8<UInt32>()
    }

    var header = Header()
    /// The tables, back to back in `Table` order, then the text.
    private(set) var storage: [UInt8] = []

    init() {}

    init(header: Header, storage: [UInt8]) {
        self.header = header
        self.storage = storage
    }

    // MARK: Tables

    @inline(__always) func count(_ t: Table) -> Int { Int(header.counts[t.rawValue]) }

    /// Where table `t` starts in `storage`.
    @inline(__always) func start(_ t: Table) -> Int {
        var o = 0
        for k in 0..<t.rawValue { o += Int(header.counts[k]) * Int(Table.sizes[k]) }
        return o
    }

    /// Where the text starts in `storage`: after the last table.
    @inline(__always) var textStart: Int { Int((header.counts &* Table.sizes).wrappedSum()) }

    @inline(__always) func record<R: BitwiseCopyable>(_ t: Table, _ i: Int, as _: R.Type = R.self) -> R {
        precondition(i >= 0 && i < count(t))
        let o = start(t) + i * MemoryLayout<R>.size
        return storage.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: R.self) }
    }

    @inline(__always) mutating func setRecord<R: BitwiseCopyable>(_ t: Table, _ i: Int, _ r: R) {
        precondition(i >= 0 && i < count(t))
        let o = start(t) + i * MemoryLayout<R>.size
        storage.withUnsafeMutableBytes { $0.storeBytes(of: r, toByteOffset: o, as: R.self) }
    }

    @inline(__always) mutating func update<R: BitwiseCopyable>(_ t: Table, _ i: Int, as _: R.Type = R.self, _ body: (inout R) -> Void) {
        var r = record(t, i, as: R.self)
        body(&r)
        setRecord(t, i, r)
    }

    /// Adds `r` at the end of table `t` (the tables after it move up); returns its index.
    @discardableResult
    mutating func append<R: BitwiseCopyable>(_ t: Table, _ r: R) -> Int {
        let size = MemoryLayout<R>.size
        let at = start(t) + count(t) * size
        let tail = storage.count - at
        storage.append(contentsOf: repeatElement(0, count: size))
        storage.withUnsafeMutableBytes { b in
            if tail > 0 { (b.baseAddress! + at + size).copyMemory(from: b.baseAddress! + at, byteCount: tail) }
            b.storeBytes(of: r, toByteOffset: at, as: R.self)
        }
        header.counts[t.rawValue] += 1
        return count(t) - 1
    }

    /// Calls `body` with each record of `t` in order; stops at the first true it returns and
    /// gives that record's index.
    @inline(__always)
    func firstIndex<R: BitwiseCopyable>(_ t: Table, as _: R.Type = R.self, where body: (R, UnsafeRawBufferPointer) -> Bool) -> Int? {
        let n = count(t), s = start(t), size = MemoryLayout<R>.size, text = textStart
        return storage.withUnsafeBytes { b -> Int? in
            let texts = UnsafeRawBufferPointer(rebasing: b[text...])
            for i in 0..<n where body(b.loadUnaligned(fromByteOffset: s + i * size, as: R.self), texts) { return i }
            return nil
        }
    }

    /// Σ of `body` over the records of `t`.
    @inline(__always)
    func sum<R: BitwiseCopyable>(_ t: Table, as _: R.Type = R.self, _ body: (R) -> Int64) -> Int64 {
        let n = count(t), s = start(t), size = MemoryLayout<R>.size
        return storage.withUnsafeBytes { b in
            var total: Int64 = 0
            for i in 0..<n { total += body(b.loadUnaligned(fromByteOffset: s + i * size, as: R.self)) }
            return total
        }
    }

    /// Whether `body` holds for some record of `t`.
    @inline(__always)
    func contains<R: BitwiseCopyable>(_ t: Table, as _: R.Type = R.self, where body: (R) -> Bool) -> Bool {
        firstIndex(t, as: R.self) { r, _ in body(r) } != nil
    }

    /// The index of the first record of `t` whose text (picked by `key`) is `text`.
    @inline(__always)
    func firstIndex<R: BitwiseCopyable>(_ t: Table, as _: R.Type = R.self, key: (R) -> TextRef, equals text: TextView) -> Int? {
        firstIndex(t, as: R.self) { r, texts in sameText(key(r).bytes(in: texts), text.bytes) }
    }

    /// `firstIndex(_:key:equals:)` for a String (the public API's lookups).
    func firstIndex<R: BitwiseCopyable>(_ t: Table, as _: R.Type = R.self, key: (R) -> TextRef, equals text: String) -> Int? {
        var s = text
        return s.withUTF8 { u in firstIndex(t, as: R.self) { r, texts in sameText(key(r).bytes(in: texts), UnsafeRawBufferPointer(u)) } }
    }

    // MARK: Text

    /// Appends `bytes` to the text; returns a reference to them.
    mutating func text(_ bytes: UnsafeRawBufferPointer) -> TextRef {
        let offset = storage.count - textStart
        storage.append(contentsOf: bytes)
        return TextRef(offset: UInt32(offset), length: UInt32(bytes.count))
    }

    mutating func text(_ t: TextView) -> TextRef { text(t.bytes) }

    mutating func text(_ t: TextView?) -> TextRef { t.map { text($0.bytes) } ?? .none }

    /// The text `ref` refers to, as a String; nil for `.none`.
    func string(_ ref: TextRef) -> String? {
        guard !ref.isNone else { return nil }
        let at = textStart + Int(ref.offset)
        return storage.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[at..<(at + Int(ref.length))]), as: UTF8.self) }
    }

    /// Whether the text `ref` refers to has exactly `t`'s bytes (no Unicode equivalence: the
    /// question is whether a spelling must be kept, not whether two skus are one).
    func text(_ ref: TextRef, hasBytesOf t: TextView) -> Bool {
        storage.withUnsafeBytes { b in
            let mine = ref.bytes(in: UnsafeRawBufferPointer(rebasing: b[textStart...]))
            return mine.count == t.bytes.count && sameBytes(mine.baseAddress, t.bytes.baseAddress, mine.count)
        }
    }
}

/// Text inside an `OrderState`: `length` bytes from `offset` of its text part.
struct TextRef: Sendable, Equatable, BitwiseCopyable {
    var offset: UInt32
    var length: UInt32

    /// No text (an absent optional).
    static let none = TextRef(offset: 0, length: .max)
    var isNone: Bool { length == .max }

    @inline(__always) func bytes(in texts: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        isNone ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(rebasing: texts[Int(offset)..<(Int(offset) + Int(length))])
    }
}

/// Whether two UTF-8 texts are equal as Swift compares Strings: equal bytes, or — only when
/// either is not ASCII — canonically equivalent Unicode (see `TextView ==`).
@inline(__always)
func sameText(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    if a.count == b.count && sameBytes(a.baseAddress, b.baseAddress, a.count) { return true }
    if isASCII(a) && isASCII(b) { return false }
    return String(decoding: a, as: UTF8.self) == String(decoding: b, as: UTF8.self)
}

// MARK: - Records (docs/FORMAT.md, "Order state")

/// A line of the order (one sku), its counters and its price adjustments.
struct LineRecord: BitwiseCopyable {
    var sku: TextRef
    var unitPriceMinor: Money
    var ordered: Int64
    var cancelled: Int64 = 0
    var requested: Int64 = 0
    var packed: Int64 = 0
    var shipped: Int64 = 0
    var delivered: Int64 = 0
    var returnRequested: Int64 = 0
    var returned: Int64 = 0
    var adjustmentsMinor: Money = 0
    var adjustmentsAppliedMinor: Money = 0

    var active: Int64 { ordered - cancelled }
    var activeValueMinor: Money { active * unitPriceMinor + adjustmentsAppliedMinor }
}

struct PaymentRecord: BitwiseCopyable {
    var id: TextRef
    var authorized: Money = 0
    var captured: Money = 0
    var voided: Money = 0
    var refunded: Money = 0
    var authorizations: UInt32 = 0
    var failures: UInt32 = 0
    var lastFailureReason = TextRef.none
}

struct FulfillmentRecord: BitwiseCopyable {
    var id: TextRef
    var location: TextRef
    var carrier = TextRef.none
    var trackingNo = TextRef.none
    /// `OrderSnapshot.Fulfillment.State`, by `FulfillmentRecord.states` index.
    var state: UInt32 = 0
    /// Skus cancelled so far: the next unit cancelled for the first time gets this + 1 as
    /// its rank (the order `cancelledLines` lists them in).
    var cancelledSkus: UInt32 = 0
    /// Its lines: `unitCount` units from `firstUnit`.
    var firstUnit: UInt32
    var unitCount: UInt32

    static let states: [OrderSnapshot.Fulfillment.State] = [.requested, .packed, .shipped, .delivered, .cancelled]
    var fulfillmentState: OrderSnapshot.Fulfillment.State {
        get { FulfillmentRecord.states[Int(state)] }
        set { state = UInt32(FulfillmentRecord.states.firstIndex(of: newValue)!) }
    }
}

/// A (sku, qty) of a fulfillment or a return: the order line it is for, and its own spelling
/// of the sku when that differs in bytes from the line's (canonically equivalent Unicode).
struct UnitRecord: BitwiseCopyable {
    var line: UInt32
    /// For a fulfillment's unit: 0, or the place of its sku in `cancelledLines` (from 1).
    var cancelRank: UInt32 = 0
    var qty: Int64
    /// For a fulfillment's unit: how many a FulfillmentCancelled took back.
    var cancelled: Int64 = 0
    /// `.none`: the line's sku.
    var sku = TextRef.none
    /// The sku as the first FulfillmentCancelled of it spelled it; `.none`: as `sku`.
    var cancelSku = TextRef.none

    var open: Int64 { qty - cancelled }
}

struct ReturnRecord: BitwiseCopyable {
    var id: TextRef
    var reason: TextRef
    var firstUnit: UInt32
    var unitCount: UInt32
    var firstReceived: UInt32 = 0
    var receivedCount: UInt32 = 0
    /// 1 once ReturnReceived closed it.
    var isReceived: UInt32 = 0
    var reserved: UInt32 = 0
}

struct RefundRecord: BitwiseCopyable {
    var id: TextRef
    var paymentID: TextRef
    var returnID: TextRef
    var amountMinor: Money
}

struct EventIDRecord: BitwiseCopyable {
    var id: TextRef
    var position: UInt64
}
