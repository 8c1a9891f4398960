import OrderModel

/// The store's snapshots in memory, bounded both by count and by bytes: an order can hold up
/// to 1000 lines of 1 KiB skus, so a count alone says little about memory (400 such orders
/// are ~400 MB). A snapshot dropped from here is replayed from its events when next needed.
struct SnapshotCache: Sendable {
    let countMax: Int
    /// Set once more by open, from the memory left beside what every order costs.
    var bytesMax: Int
    /// The snapshots, densely (a removal moves the last one into the hole), each with its
    /// order's handle and its estimated bytes, computed once when it comes in: the snapshots
    /// are unchanged while they are here (a change replaces one).
    private var entries: [OrderSnapshot] = []
    private var owners: [OrderHandle] = []
    private var sizes: [Int] = []
    /// Each handle's index in `entries`, or -1; grows as handles are used.
    private var slot: [Int32] = []
    /// Σ of the entries' estimated bytes.
    private(set) var bytes = 0
    /// Handles in the order they were inserted (a handle again each time it is), from `head`
    /// on: the eviction order. Evicting the oldest insertions — not the first keys in a hash
    /// table's bucket order, which leaves the live keys in one dense cluster every lookup then
    /// probes through (issue 11: an import slowed tenfold past 450,000 orders) — keeps a
    /// lookup's cost flat however long the store runs. Each handle is queued with its
    /// snapshot's last position: an entry whose snapshot has changed since (it was inserted
    /// again, later in the queue) or that is gone is skipped.
    private var queue: [(handle: OrderHandle, last: UInt64?)] = []
    private var head = 0

    init(countMax: Int, bytesMax: Int) {
        self.countMax = countMax
        self.bytesMax = bytesMax
    }

    var count: Int { entries.count }

    @inline(__always) private func index(_ h: OrderHandle) -> Int? {
        guard h.index < slot.count else { return nil }
        let i = slot[h.index]
        return i < 0 ? nil : Int(i)
    }

    subscript(h: OrderHandle) -> OrderSnapshot? { index(h).map { entries[$0] } }

    /// Whether `h`'s snapshot is cached, without copying it out.
    func contains(_ h: OrderHandle) -> Bool { index(h) != nil }

    /// Keeps `snapshot` as `h`'s (replacing any older one); a snapshot larger than the whole
    /// bound is not kept.
    mutating func insert(_ snapshot: consuming OrderSnapshot, for h: OrderHandle) {
        let size = snapshot.byteCount
        guard size <= bytesMax else { remove(h); return }
        let last = snapshot.lastPosition
        if let i = index(h) {
            bytes += size - sizes[i]
            entries[i] = snapshot
            sizes[i] = size
        } else {
            if h.index >= slot.count { slot.append(contentsOf: repeatElement(-1, count: max(h.index + 1 - slot.count, slot.count / 2 + 1024))) }
            slot[h.index] = Int32(entries.count)
            entries.append(snapshot)
            owners.append(h)
            sizes.append(size)
            bytes += size
        }
        queue.append((h, last))
        // Handles inserted again pile up: compact once the queue is far longer than the cache.
        if queue.count - head > 4 * entries.count + 65_536 { compact() }
    }

    /// Takes the snapshot out (the caller changes it in place, with no second reference).
    @discardableResult
    mutating func remove(_ h: OrderHandle) -> OrderSnapshot? {
        guard let i = index(h) else { return nil }
        let last = entries.count - 1
        if i != last {
            // Through the buffer: Array.swapAt copies (retains every array a snapshot holds).
            entries.withUnsafeMutableBufferPointer { $0.swapAt(i, last) }
            owners.swapAt(i, last)
            sizes.swapAt(i, last)
            slot[owners[i].index] = Int32(i)
        }
        slot[h.index] = -1
        bytes -= sizes.removeLast()
        owners.removeLast()
        return entries.removeLast()
    }

    mutating func removeAll() {
        entries.removeAll()
        owners.removeAll()
        sizes.removeAll()
        slot.removeAll()
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
            let (h, last) = queue[head]
            head += 1
            guard let i = index(h), entries[i].lastPosition == last else { continue }
            remove(h)
        }
        if head > 4096 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }

    /// The queue without entries that no longer describe a cached snapshot, each live handle
    /// once, at its latest place.
    private mutating func compact() {
        var seen = [Bool](repeating: false, count: slot.count)
        var kept: [(handle: OrderHandle, last: UInt64?)] = []
        kept.reserveCapacity(entries.count)
        for e in queue[head...].reversed() {
            guard let i = index(e.handle), entries[i].lastPosition == e.last, !seen[e.handle.index] else { continue }
            seen[e.handle.index] = true
            kept.append(e)
        }
        queue = kept.reversed()
        head = 0
    }
}
