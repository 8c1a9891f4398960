import OrderModel

/// The store's snapshots in memory, bounded both by count and by bytes: an order can hold up
/// to 1000 lines of 1 KiB skus, so a count alone says little about memory (400 such orders
/// are ~400 MB). A snapshot dropped from here is replayed from its events when next needed.
struct SnapshotCache: Sendable {
    let countMax: Int
    let bytesMax: Int
    /// The snapshots, unchanged while they are here (a change replaces one), so an entry's
    /// estimate is the same when it leaves as when it came: no size is stored beside it.
    private var entries: [OrderID: OrderSnapshot] = [:]
    /// Σ of the entries' estimated bytes.
    private(set) var bytes = 0
    /// Ids in the order they were inserted (an id again each time it is), from `head` on: the
    /// eviction order. Evicting the oldest insertions — not the first keys in the dictionary's
    /// bucket order, which leaves the live keys in one dense cluster every lookup then probes
    /// through (issue 11: an import slowed tenfold past 450,000 orders) — keeps a lookup's cost
    /// flat however long the store runs. Each id is queued with its snapshot's last position:
    /// an entry whose snapshot has changed since (it was inserted again, later in the queue)
    /// or that is gone is skipped.
    private var queue: [(id: OrderID, last: UInt64?)] = []
    private var head = 0

    init(countMax: Int, bytesMax: Int) {
        self.countMax = countMax
        self.bytesMax = bytesMax
    }

    /// A cache of `snapshots` (an open's replay), oldest change first in the eviction order,
    /// trimmed to its bounds.
    init(countMax: Int, bytesMax: Int, snapshots: [OrderID: OrderSnapshot]) {
        self.init(countMax: countMax, bytesMax: bytesMax)
        entries = snapshots
        bytes = snapshots.values.reduce(0) { $0 + $1.estimatedBytes }
        queue = snapshots.values.sorted { ($0.lastPosition ?? 0) < ($1.lastPosition ?? 0) }.map { ($0.orderID, $0.lastPosition) }
        trim()
    }

    var count: Int { entries.count }

    subscript(id: OrderID) -> OrderSnapshot? { entries[id] }

    /// Whether `id` is cached, without copying its snapshot out.
    func contains(_ id: OrderID) -> Bool { entries.index(forKey: id) != nil }

    /// Keeps `snapshot` (replacing any older one); a snapshot larger than the whole bound is
    /// not kept.
    mutating func insert(_ snapshot: OrderSnapshot) {
        let size = snapshot.estimatedBytes
        guard size <= bytesMax else { remove(snapshot.orderID); return }
        if let old = entries.updateValue(snapshot, forKey: snapshot.orderID) { bytes -= old.estimatedBytes }
        bytes += size
        queue.append((snapshot.orderID, snapshot.lastPosition))
        // Ids inserted again pile up: compact once the queue is far longer than the cache.
        if queue.count - head > 4 * entries.count + 65_536 { compact() }
    }

    /// Takes the snapshot out (the caller changes it in place, with no second reference).
    @discardableResult
    mutating func remove(_ id: OrderID) -> OrderSnapshot? {
        guard let old = entries.removeValue(forKey: id) else { return nil }
        bytes -= old.estimatedBytes
        return old
    }

    mutating func removeAll() {
        entries.removeAll()
        bytes = 0
        queue.removeAll()
        head = 0
    }

    /// Drops the oldest insertions until both bounds hold, with a tenth of room to spare so a
    /// full cache is not trimmed on every batch.
    mutating func trim() {
        guard entries.count > countMax || bytes > bytesMax else { return }
        let countTarget = countMax - countMax / 10
        let bytesTarget = bytesMax - bytesMax / 10
        while (entries.count > countTarget || bytes > bytesTarget) && head < queue.count {
            let (id, last) = queue[head]
            head += 1
            guard let i = entries.index(forKey: id), entries.values[i].lastPosition == last else { continue }
            remove(id)
        }
        if head > 4096 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// The queue without entries that no longer describe a cached snapshot, each live id once,
    /// at its latest place.
    private mutating func compact() {
        var seen = Set<OrderID>()
        seen.reserveCapacity(entries.count)
        var kept: [(id: OrderID, last: UInt64?)] = []
        kept.reserveCapacity(entries.count)
        for e in queue[head...].reversed() {
            guard let i = entries.index(forKey: e.id), entries.values[i].lastPosition == e.last, seen.insert(e.id).inserted else { continue }
            kept.append(e)
        }
        queue = kept.reversed()
        head = 0
    }
}

extension OrderSnapshot {
    /// About how many bytes the snapshot holds in memory: its arrays and the bytes of its
    /// strings. An estimate for bounding a cache, not an exact measure (an id of 15 bytes or
    /// fewer is stored inside its String and costs nothing extra).
    public var estimatedBytes: Int {
        var n = 512 + customerID.utf8.count + channel.utf8.count
        for l in lines { n += 112 + l.sku.utf8.count }
        for p in payments { n += 96 + p.id.utf8.count + (p.lastFailureReason?.utf8.count ?? 0) }
        for f in fulfillments {
            n += 96 + f.id.utf8.count + f.location.utf8.count + (f.carrier?.utf8.count ?? 0) + (f.trackingNo?.utf8.count ?? 0)
            for l in f.lines { n += 24 + l.sku.utf8.count }
            for l in f.cancelledLines { n += 24 + l.sku.utf8.count }
        }
        for r in returns {
            n += 96 + r.id.utf8.count + r.reason.utf8.count
            for l in r.lines { n += 24 + l.sku.utf8.count }
            for l in r.received ?? [] { n += 24 + l.sku.utf8.count }
        }
        for r in refunds { n += 64 + r.id.utf8.count + (r.paymentID?.utf8.count ?? 0) + (r.returnID?.utf8.count ?? 0) }
        // Event ids: one (String, UInt64) each; longer ids than 15 bytes live on the heap.
        n += eventIDs.count * 24
        for e in eventIDs where e.id.utf8.count > 15 { n += 32 + e.id.utf8.count }
        return n
    }
}
