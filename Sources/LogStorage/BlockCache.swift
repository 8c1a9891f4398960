import Synchronization

/// Decompressed blocks of sealed segments, kept for random reads (a key's records are spread
/// over many blocks). Bounded in bytes; evicts the least recently used block. Sequential
/// scans bypass it so a full scan does not wash out the blocks that point reads need.
final class BlockCache: Sendable {
    struct Key: Hashable { var segmentBase: UInt64; var block: Int }

    private struct Entry { var block: DecodedBlock; var lastUse: UInt64 }
    private struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var tick: UInt64 = 0
        var hits: UInt64 = 0
        var misses: UInt64 = 0
    }

    private let state = Mutex(State())
    let bytesMax: Int

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    func block(_ key: Key, load: () throws(LogError) -> DecodedBlock) throws(LogError) -> DecodedBlock {
        let cached: DecodedBlock? = state.withLock { s in
            s.tick += 1
            guard var e = s.entries[key] else { s.misses += 1; return nil }
            s.hits += 1
            e.lastUse = s.tick
            s.entries[key] = e
            return e.block
        }
        if let cached { return cached }
        // Decompress outside the lock: two readers may race to load the same block; both
        // results are identical and the second simply replaces the first.
        let block = try load()
        guard bytesMax > 0 else { return block }
        state.withLock { s in
            if let old = s.entries[key] { s.bytes -= old.block.storage.count }
            s.entries[key] = Entry(block: block, lastUse: s.tick)
            s.bytes += block.storage.count
            while s.bytes > bytesMax, s.entries.count > 1 {
                // O(entries) per eviction; entries ≤ bytesMax / block size (about 1,000 at the
                // defaults), cheap next to the decompression that caused it.
                guard let victim = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
                s.bytes -= victim.value.block.storage.count
                s.entries.removeValue(forKey: victim.key)
            }
        }
        return block
    }

    func removeAll(segmentBase: UInt64) {
        state.withLock { s in
            for key in s.entries.keys where key.segmentBase == segmentBase {
                s.bytes -= s.entries.removeValue(forKey: key)!.block.storage.count
            }
        }
    }

    var statistics: (hits: UInt64, misses: UInt64, bytes: Int) {
        state.withLock { ($0.hits, $0.misses, $0.bytes) }
    }
}
