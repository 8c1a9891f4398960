import Foundation
import OrderModel

/// An order's dense integer handle in one open store: 0, 1, 2, … in the order the store first
/// stored an event of each order. Handles index the store's per-order arrays (the snapshot
/// cache, the lists, the running totals) so that, past the one lookup of the id's bytes per
/// order of a batch, nothing on the write path hashes an order id again. Not persisted: an
/// open numbers the orders afresh.
struct OrderHandle: Hashable, Sendable {
    let raw: UInt32
    @inline(__always) var index: Int { Int(raw) }
}

/// The interning table of order ids: id → handle by an open-addressing hash table over the
/// id's bytes (linear probing, at most half full), handle → id by an array.
///
/// Only stored orders get a handle (a rejected batch leaves none behind), so the table holds
/// exactly the orders of the log: a client sending events for ever-new ids that are refused
/// cannot grow it.
struct OrderTable: Sendable {
    /// Ids by handle.
    private(set) var ids: [OrderID] = []
    /// Each id's hash (the low 32 bits), by handle: a probe compares these before the ids'
    /// bytes, and growing the table does not hash the ids again.
    private var hashes: [UInt32] = []
    /// Every id's bytes back to back, id `h` from `starts[h]` to `starts[h + 1]`: what the
    /// lists ordered by id compare (`idLess`) — bytes with `memcmp`, not Strings.
    private var arena: [UInt8] = []
    private var starts: [UInt32] = [0]
    /// handle + 1 at each slot; 0: empty.
    private var slots: [UInt32]
    private var mask: Int

    init(capacity: Int = 0) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        ids.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
        arena.reserveCapacity(capacity * 12)
    }

    var count: Int { ids.count }

    subscript(handle: OrderHandle) -> OrderID { ids[handle.index] }

    /// The id's hash: FNV-1a over its UTF-8 bytes, with a final mix so that ids differing in
    /// their last characters (`ORD-00000001`, `ORD-00000002`) spread over the table. Cheap
    /// enough to compute for every event outside the store's lock.
    static func hash(_ id: OrderID) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.value.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return mix(h)
    }

    /// The same hash over an id's bytes as a record holds them (its key).
    static func hash(bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return mix(h)
    }

    /// murmur3's fmix64.
    @inline(__always) private static func mix(_ x: UInt64) -> UInt64 {
        var h = x
        h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33; h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// The handle of the id whose bytes are `bytes` (a record's key), without making a String.
    func find(bytes: UnsafeRawBufferPointer, hash: UInt64) -> OrderHandle? {
        probe(hash) { h in
            ids[h].value.utf8.withContiguousStorageIfAvailable { u in
                u.count == bytes.count && (u.isEmpty || memcmp(u.baseAddress!, bytes.baseAddress!, u.count) == 0)
            } ?? ids[h].value.utf8.elementsEqual(bytes)
        }
    }

    func find(_ id: OrderID) -> OrderHandle? { find(id, hash: Self.hash(id)) }

    /// Order ids compare as their bytes (ASCII, so as Strings compare them): whether id `a`
    /// sorts before id `b`.
    @inline(__always)
    func idLess(_ a: UInt32, _ b: UInt32) -> Bool {
        arena.withUnsafeBytes { r in
            let (a0, a1, b0, b1) = (Int(starts[Int(a)]), Int(starts[Int(a) + 1]), Int(starts[Int(b)]), Int(starts[Int(b) + 1]))
            return Self.less(UnsafeRawBufferPointer(rebasing: r[a0..<a1]), UnsafeRawBufferPointer(rebasing: r[b0..<b1]))
        }
    }

    /// Whether id `h` sorts after `bytes`.
    @inline(__always)
    func id(_ h: UInt32, isAfter bytes: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { r in Self.less(bytes, UnsafeRawBufferPointer(rebasing: r[Int(starts[Int(h)])..<Int(starts[Int(h) + 1])])) }
    }

    @inline(__always)
    static func less(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        let n = min(x.count, y.count)
        let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
        return c < 0 || (c == 0 && x.count < y.count)
    }

    func find(_ id: OrderID, hash: UInt64) -> OrderHandle? { probe(hash) { ids[$0] == id } }

    /// The handle whose id `matches`, among those with this hash's slot chain.
    @inline(__always)
    private func probe(_ hash: UInt64, _ matches: (Int) -> Bool) -> OrderHandle? {
        let short = UInt32(truncatingIfNeeded: hash)
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let v = slots[s]
            if v == 0 { return nil }
            let h = Int(v - 1)
            if hashes[h] == short && matches(h) { return OrderHandle(raw: v - 1) }
            s = (s + 1) & mask
        }
    }

    /// The id's handle, given it one if it has none.
    mutating func intern(_ id: OrderID, hash: UInt64) -> OrderHandle {
        // One walk of the slot chain: it ends at the id, or at the empty slot the id takes (a
        // table of millions is mostly cache misses; walking it twice doubled them).
        let short = UInt32(truncatingIfNeeded: hash)
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s] != 0 {
            let h = Int(slots[s] - 1)
            if hashes[h] == short && ids[h] == id { return OrderHandle(raw: UInt32(h)) }
            s = (s + 1) & mask
        }
        precondition(ids.count < Int(UInt32.max), "more than 2^32 - 1 orders in one store")
        let handle = OrderHandle(raw: UInt32(ids.count))
        ids.append(id)
        arena.append(contentsOf: id.value.utf8)
        starts.append(UInt32(arena.count))
        hashes.append(short)
        if ids.count * 2 > slots.count { grow() } else { slots[s] = handle.raw + 1 }
        return handle
    }

    mutating func intern(_ id: OrderID) -> OrderHandle { intern(id, hash: Self.hash(id)) }

    private mutating func place(_ handle: OrderHandle, hash: UInt64) {
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = handle.raw + 1
    }

    /// Doubles the slots. Only the low 32 bits of each hash are kept, which is what places
    /// an id in a table of up to 2^32 slots — a table that large would hold 2^31 orders.
    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        for h in 0..<ids.count { place(OrderHandle(raw: UInt32(h)), hash: UInt64(hashes[h])) }
    }
}

/// A batch's distinct orders, each once, in first-seen order (the order the lists take), with
/// each id's hash and each event's index among them — computed before the store's lock is
/// taken, so under it no event's id is hashed.
struct BatchOrders: Sendable {
    private(set) var ids: [OrderID] = []
    private(set) var hashes: [UInt64] = []
    /// Per event: its order's index in `ids`.
    private(set) var slotOf: [Int] = []

    init(_ events: some Collection<OrderID>) {
        var size = 16
        while size < events.count * 2 { size <<= 1 }
        let mask = size - 1
        var table = [Int32](repeating: -1, count: size)
        ids.reserveCapacity(events.count)
        hashes.reserveCapacity(events.count)
        slotOf.reserveCapacity(events.count)
        for id in events {
            let hash = OrderTable.hash(id)
            var s = Int(truncatingIfNeeded: hash) & mask
            while true {
                let k = Int(table[s])
                if k < 0 {
                    table[s] = Int32(ids.count)
                    slotOf.append(ids.count)
                    ids.append(id)
                    hashes.append(hash)
                    break
                }
                if hashes[k] == hash && ids[k] == id { slotOf.append(k); break }
                s = (s + 1) & mask
            }
        }
    }

    var count: Int { ids.count }
}
