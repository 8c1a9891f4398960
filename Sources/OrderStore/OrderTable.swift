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
/// id's bytes (linear probing, at most half full), handle → id bytes by an arena.
///
/// Two levels: the orders of the checkpoint the store opened from (or last wrote) are its
/// `base`, read in place from the checkpoint's mapping (handles `0 ..< base.count`: nothing
/// read or interned at open, no memory of the process's own); orders first stored after it
/// are in the arrays here (handles from `base.count` on). A lookup tries the base, then the
/// rest.
///
/// Only stored orders get a handle (a rejected batch leaves none behind), so the table holds
/// exactly the orders of the log: a client sending events for ever-new ids that are refused
/// cannot grow it.
struct OrderTable: Sendable {
    /// The checkpoint's orders (handles below `baseCount`).
    private(set) var base: MappedOrderIDs?
    private var baseCount = 0
    /// The later orders', by handle − baseCount: each id's hash (the low 32 bits; a probe
    /// compares these before the ids' bytes, and growing the table does not hash the ids again)
    private var hashes: [UInt32] = []
    /// and every id's bytes back to back, id `i` from `starts[i]` to `starts[i + 1]`.
    private var arena: [UInt8] = []
    private var starts: [UInt32] = [0]
    /// handle − baseCount + 1 at each slot; 0: empty.
    private var slots: [UInt32]
    private var mask: Int

    init(capacity: Int = 0) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        hashes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
        arena.reserveCapacity(capacity * 12)
    }

    /// The table of a checkpoint's orders, and room for `capacity` more.
    init(base: MappedOrderIDs, capacity: Int = 0) {
        self.init(capacity: capacity)
        self.base = base
        baseCount = base.count
    }

    var count: Int { baseCount + hashes.count }

    /// Bytes of all the ids (a checkpoint holds at most 4 GiB of them).
    var idBytes: Int { (base?.blob.count ?? 0) + arena.count }

    /// Order `handle`'s id bytes, for the length of `body`.
    @inline(__always)
    func withIDBytes<R>(_ h: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if h < baseCount { return body(base!.bytes(h)) }
        let i = h - baseCount
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(starts[i])..<Int(starts[i + 1])])) }
    }

    subscript(handle: OrderHandle) -> OrderID {
        withIDBytes(handle.index) { OrderID(trusted: String(decoding: $0, as: UTF8.self)) }
    }

    /// The id's hash: FNV-1a over its UTF-8 bytes, with a final mix so that ids differing in
    /// their last characters (`ORD-00000001`, `ORD-00000002`) spread over the table. Cheap
    /// enough to compute for every event outside the store's lock. A checkpoint stores its
    /// low 32 bits (docs/FORMAT.md §13): it must not change.
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
        if let base, let h = base.find(bytes: bytes, hash: hash) { return OrderHandle(raw: UInt32(h)) }
        return arena.withUnsafeBytes { a in
            probe(hash) { i in
                let id = UnsafeRawBufferPointer(rebasing: a[Int(starts[i])..<Int(starts[i + 1])])
                return id.count == bytes.count && memcmp(id.baseAddress!, bytes.baseAddress!, id.count) == 0
            }.map { OrderHandle(raw: UInt32(baseCount + $0)) }
        }
    }

    func find(_ id: OrderID) -> OrderHandle? { find(id, hash: Self.hash(id)) }

    func find(_ id: OrderID, hash: UInt64) -> OrderHandle? {
        var value = id.value
        return value.withUTF8 { find(bytes: UnsafeRawBufferPointer($0), hash: hash) }
    }

    /// Order ids compare as their bytes (ASCII, so as Strings compare them): whether id `a`
    /// sorts before id `b`.
    @inline(__always)
    func idLess(_ a: UInt32, _ b: UInt32) -> Bool {
        withIDBytes(Int(a)) { x in withIDBytes(Int(b)) { y in Self.less(x, y) } }
    }

    /// Whether id `h` sorts after `bytes`.
    @inline(__always)
    func id(_ h: UInt32, isAfter bytes: UnsafeRawBufferPointer) -> Bool {
        withIDBytes(Int(h)) { Self.less(bytes, $0) }
    }

    @inline(__always)
    static func less(_ x: UnsafeRawBufferPointer, _ y: UnsafeRawBufferPointer) -> Bool {
        let n = min(x.count, y.count)
        let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
        return c < 0 || (c == 0 && x.count < y.count)
    }

    /// The later order (index from `baseCount`) whose id `matches`, among those with this
    /// hash's slot chain.
    @inline(__always)
    private func probe(_ hash: UInt64, _ matches: (Int) -> Bool) -> Int? {
        let short = UInt32(truncatingIfNeeded: hash)
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let v = slots[s]
            if v == 0 { return nil }
            let i = Int(v - 1)
            if hashes[i] == short && matches(i) { return i }
            s = (s + 1) & mask
        }
    }

    /// The id's handle, given it one if it has none.
    mutating func intern(_ id: OrderID, hash: UInt64) -> OrderHandle {
        var value = id.value
        return value.withUTF8 { intern(bytes: UnsafeRawBufferPointer($0), hash: hash) }
    }

    mutating func intern(bytes: UnsafeRawBufferPointer, hash: UInt64) -> OrderHandle {
        if let base, let h = base.find(bytes: bytes, hash: hash) { return OrderHandle(raw: UInt32(h)) }
        // One walk of the slot chain: it ends at the id, or at the empty slot the id takes (a
        // table of millions is mostly cache misses; walking it twice doubled them).
        let short = UInt32(truncatingIfNeeded: hash)
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s] != 0 {
            let i = Int(slots[s] - 1)
            if hashes[i] == short {
                let same = arena.withUnsafeBytes { a in
                    let id = UnsafeRawBufferPointer(rebasing: a[Int(starts[i])..<Int(starts[i + 1])])
                    return id.count == bytes.count && memcmp(id.baseAddress!, bytes.baseAddress!, id.count) == 0
                }
                if same { return OrderHandle(raw: UInt32(baseCount + i)) }
            }
            s = (s + 1) & mask
        }
        precondition(count < Int(UInt32.max) - 1, "more than 2^32 - 2 orders in one store")
        let i = hashes.count
        arena.append(contentsOf: bytes)
        precondition(arena.count < Int(UInt32.max), "more than 4 GiB of order ids added since the last checkpoint")
        starts.append(UInt32(arena.count))
        hashes.append(short)
        if hashes.count * 2 > slots.count { grow() } else { slots[s] = UInt32(i + 1) }
        return OrderHandle(raw: UInt32(baseCount + i))
    }

    mutating func intern(_ id: OrderID) -> OrderHandle { intern(id, hash: Self.hash(id)) }

    private mutating func place(_ i: Int, hash: UInt64) {
        var s = Int(truncatingIfNeeded: hash) & mask
        while slots[s] != 0 { s = (s + 1) & mask }
        slots[s] = UInt32(i + 1)
    }

    /// Doubles the slots. Only the low 32 bits of each hash are kept, which is what places
    /// an id in a table of up to 2^32 slots — a table that large would hold 2^31 orders.
    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        for i in 0..<hashes.count { place(i, hash: UInt64(hashes[i])) }
    }

    /// This table on a newer checkpoint's orders (`newBase`: handles `0 ..< newBase.count`,
    /// the same orders under the same handles as here): only the orders after it stay in
    /// the process's memory.
    func rebased(on newBase: MappedOrderIDs) -> OrderTable {
        precondition(newBase.count >= baseCount && newBase.count <= count)
        var t = OrderTable(base: newBase, capacity: count - newBase.count)
        for h in newBase.count..<count {
            withIDBytes(h) { b in _ = t.intern(bytes: b, hash: Self.hash(bytes: b)) }
        }
        return t
    }

    /// The table as a checkpoint stores it (docs/FORMAT.md §13): each id's offset in the
    /// ids' bytes, its hash, the slots (a power of two, at most half full), the bytes.
    func encodedSections() -> (starts: [UInt32], hashes: [UInt32], slots: [UInt32], blob: [UInt8]) {
        let n = count
        var starts: [UInt32] = [0], hashes: [UInt32] = [], blob: [UInt8] = []
        starts.reserveCapacity(n + 1)
        hashes.reserveCapacity(n)
        if let base {
            blob.append(contentsOf: base.blob)
            for k in 0..<baseCount {
                starts.append(base.starts[k + 1])
                hashes.append(base.hashes[k])
            }
        }
        let offset = UInt32(blob.count)
        blob.append(contentsOf: arena)
        for i in 0..<self.hashes.count {
            starts.append(offset + self.starts[i + 1])
            hashes.append(self.hashes[i])
        }
        var size = 1024
        while size < n * 2 { size <<= 1 }
        var slots = [UInt32](repeating: 0, count: size)
        let m = size - 1
        for h in 0..<n {
            var s = Int(hashes[h]) & m
            while slots[s] != 0 { s = (s + 1) & m }
            slots[s] = UInt32(h + 1)
        }
        return (starts, hashes, slots, blob)
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
