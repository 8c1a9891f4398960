import Synchronization

/// Decompressed blocks of sealed segments, kept for random reads (a key's records are spread
/// over many blocks). Bounded in bytes. Eviction is CLOCK (second chance): each hit sets a
/// reference bit, and the hand sweeps past referenced blocks, clearing their bit, to the first
/// unreferenced one. That approximates LRU at O(1) per operation whatever the block count.
/// Sequential scans bypass the cache so a full scan does not wash out what point reads need.
final class BlockCache: Sendable {
    struct Key: Hashable { var segmentBase: UInt64; var block: Int }

    private struct Slot { var key: Key; var block: DecodedBlock; var referenced: Bool }
    private struct State {
        var index: [Key: Int] = [:]
        var slots: [Slot] = []
        var hand = 0
        var bytes = 0

        mutating func evictOne() {
            while true {
                if hand >= slots.count { hand = 0 }
                if slots[hand].referenced {
                    slots[hand].referenced = false
                    hand += 1
                    continue
                }
                let victim = slots[hand]
                index.removeValue(forKey: victim.key)
                bytes -= victim.block.storage.count
                // Fill the hole with the last slot so `slots` stays dense.
                let last = slots.count - 1
                if hand != last {
                    slots[hand] = slots[last]
                    index[slots[hand].key] = hand
                }
                slots.removeLast()
                return
            }
        }
    }

    private let state = Locked(State())
    let bytesMax: Int

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    func block(_ key: Key, load: () throws(LogError) -> DecodedBlock) throws(LogError) -> DecodedBlock {
        let cached: DecodedBlock? = state.withLock { s in
            guard let i = s.index[key] else { return nil }
            s.slots[i].referenced = true
            return s.slots[i].block
        }
        if let cached { return cached }
        // Decompress outside the lock: two readers may race to load the same block; both
        // results are identical and the later simply replaces the earlier.
        let block = try load()
        guard bytesMax > 0 else { return block }
        state.withLock { s in
            if let i = s.index[key] {
                s.bytes += block.storage.count - s.slots[i].block.storage.count
                s.slots[i].block = block
                return
            }
            while s.bytes + block.storage.count > bytesMax && !s.slots.isEmpty { s.evictOne() }
            s.index[key] = s.slots.count
            s.slots.append(Slot(key: key, block: block, referenced: false))
            s.bytes += block.storage.count
        }
        return block
    }
}
