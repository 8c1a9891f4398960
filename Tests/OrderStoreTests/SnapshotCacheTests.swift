@testable import OrderModel
import Testing
@testable import OrderStore

@Suite("Snapshot cache")
struct SnapshotCacheTests {
    func snapshot(_ i: Int, last: UInt64 = 0) -> OrderSnapshot {
        var s = OrderSnapshot(orderID: try! OrderID("O-\(i)"))
        s.lastPosition = last
        return s
    }

    @Test("the oldest insertions go first, an order inserted again counts as new, and bytes stay exact through trims and compactions")
    func evictsOldestInsertionsFirst() {
        var cache = SnapshotCache(countMax: 100, bytesMax: 1 << 30)
        for i in 0..<100 { cache.insert(snapshot(i)) }
        // 0…9 used again (a write takes a snapshot out and puts it back): they are the newest.
        for i in 0..<10 { cache.remove(snapshot(i).orderID); cache.insert(snapshot(i, last: 1)) }
        for i in 100..<101 { cache.insert(snapshot(i)) }
        cache.trim()
        #expect(cache.count == 90)
        // Evicted: the 11 oldest insertions, 10…20 — not the ones used again.
        #expect((0..<10).allSatisfy { cache.contains(snapshot($0).orderID) })
        #expect((10..<21).allSatisfy { !cache.contains(snapshot($0).orderID) })
        #expect(cache.contains(snapshot(21).orderID) && cache.contains(snapshot(100).orderID))
        // Many reinsertions of the same few: the queue is compacted, the accounting exact.
        var churn = SnapshotCache(countMax: 1000, bytesMax: 1 << 30)
        for round in 0..<200_000 { churn.insert(snapshot(round % 500, last: UInt64(round))) }
        #expect(churn.count == 500)
        #expect(churn.bytes == (0..<500).reduce(0) { $0 + snapshot($1).estimatedBytes })
        for i in 0..<250 { churn.remove(snapshot(i).orderID) }
        #expect(churn.bytes == (250..<500).reduce(0) { $0 + snapshot($1).estimatedBytes })
    }
}
