/// Where each key's newest record is: key hash → (last position, last sequence).
///
/// This is the head of every key's chain; each record points to the previous record of its
/// key, so reading a key costs one step per record of that key, whatever the log's size.
/// It is the only per-key state held in memory, so it is packed: 24 bytes a slot (a 128-bit
/// hash and a 64-bit word holding a 40-bit position and a 24-bit sequence) in one open-
/// addressed table with linear probing, at most 70% full. 10 million keys take 16.8M slots,
/// 403 MB. (A Swift `Dictionary` would spend about the same, but could not be sized or
/// probed without rehashing an already uniform hash.)
///
/// Not thread-safe: `Log` guards it with a lock.
struct KeyDirectory: ~Copyable, @unchecked Sendable {
    // @unchecked: a noncopyable sole owner of its table; `Log` reaches it only through a Mutex.
    struct Entry: Equatable {
        var position: UInt64
        var sequence: UInt32

        var packed: UInt64 { position | (UInt64(sequence) << 40) }
        init(position: UInt64, sequence: UInt32) {
            precondition(position < LogPosition.limit.rawValue && sequence <= RecordSequence.limit)
            self.position = position
            self.sequence = sequence
        }
        init(packed: UInt64) {
            position = packed & ((1 << 40) - 1)
            sequence = UInt32(packed >> 40)
        }
    }

    private var slots: UnsafeMutablePointer<UInt64>  // 3 words a slot: high, low, packed
    private(set) var capacity: Int
    private(set) var count = 0

    init(minimumCapacity: Int = 1024) {
        var c = 1024
        while c * 7 / 10 < minimumCapacity { c <<= 1 }
        capacity = c
        slots = KeyDirectory.allocate(c)
    }

    deinit { slots.deallocate() }

    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<UInt64> {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * 3)
        p.initialize(repeating: 0, count: capacity * 3)
        return p
    }

    /// Bytes held by the table (for memory accounting and the open-time benchmark).
    var bytesAllocated: Int { capacity * 24 }

    @inline(__always) private func home(_ hash: KeyHash) -> Int { Int(truncatingIfNeeded: hash.low) & (capacity - 1) }

    func lookup(_ hash: KeyHash) -> Entry? {
        var i = home(hash)
        while true {
            let h = slots[i * 3], l = slots[i * 3 + 1]
            if h == 0 && l == 0 { return nil }
            if h == hash.high && l == hash.low { return Entry(packed: slots[i * 3 + 2]) }
            i = (i + 1) & (capacity - 1)
        }
    }

    /// Sets the entry for `hash` and returns the one it replaced.
    @discardableResult
    mutating func update(_ hash: KeyHash, _ entry: Entry) -> Entry? {
        if (count + 1) * 10 > capacity * 7 { grow() }
        var i = home(hash)
        while true {
            let h = slots[i * 3], l = slots[i * 3 + 1]
            if h == 0 && l == 0 {
                slots[i * 3] = hash.high; slots[i * 3 + 1] = hash.low; slots[i * 3 + 2] = entry.packed
                count += 1
                return nil
            }
            if h == hash.high && l == hash.low {
                let old = Entry(packed: slots[i * 3 + 2])
                slots[i * 3 + 2] = entry.packed
                return old
            }
            i = (i + 1) & (capacity - 1)
        }
    }

    private mutating func grow() {
        let oldSlots = slots, oldCapacity = capacity
        capacity *= 2
        slots = KeyDirectory.allocate(capacity)
        count = 0
        for i in 0..<oldCapacity where oldSlots[i * 3] != 0 || oldSlots[i * 3 + 1] != 0 {
            update(KeyHash(high: oldSlots[i * 3], low: oldSlots[i * 3 + 1]), Entry(packed: oldSlots[i * 3 + 2]))
        }
        oldSlots.deallocate()
    }
}
