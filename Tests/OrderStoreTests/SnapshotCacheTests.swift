@testable import OrderModel
import Testing
@testable import OrderStore

@Suite("Snapshot cache")
struct SnapshotCacheTests {
    func snapshot(_ i: Int, last: UInt64 = 0) -> OrderSnapshot {
        var s = OrderSnapshot(orderID: try! OrderID("O-\(i)"))
        s.state.header.lastPosition = last
        return s
    }

    func h(_ i: Int) -> OrderHandle { OrderHandle(raw: UInt32(i)) }

    @Test("the oldest insertions go first, an order inserted again counts as new, and bytes stay exact through trims and compactions")
    func evictsOldestInsertionsFirst() {
        var cache = SnapshotCache(countMax: 100, bytesMax: 1 << 30)
        for i in 0..<100 { cache.insert(snapshot(i), for: h(i)) }
        // 0…9 used again (a write takes a snapshot out and puts it back): they are the newest.
        for i in 0..<10 { cache.remove(h(i)); cache.insert(snapshot(i, last: 1), for: h(i)) }
        for i in 100..<101 { cache.insert(snapshot(i), for: h(i)) }
        cache.trim()
        #expect(cache.count == 90)
        // Evicted: the 11 oldest insertions, 10…20 — not the ones used again.
        #expect((0..<10).allSatisfy { cache.contains(h($0)) })
        #expect((10..<21).allSatisfy { !cache.contains(h($0)) })
        #expect(cache.contains(h(21)) && cache.contains(h(100)))
        // Every entry still answers for its own handle after the moves removals make.
        #expect((21...100).allSatisfy { cache[h($0)]?.orderID == snapshot($0).orderID })
        // Many reinsertions of the same few: the queue is compacted, the accounting exact.
        var churn = SnapshotCache(countMax: 1000, bytesMax: 1 << 30)
        for round in 0..<200_000 { churn.insert(snapshot(round % 500, last: UInt64(round)), for: h(round % 500)) }
        #expect(churn.count == 500)
        #expect(churn.bytes == (0..<500).reduce(0) { $0 + snapshot($1).byteCount })
        for i in 0..<250 { churn.remove(h(i)) }
        #expect(churn.bytes == (250..<500).reduce(0) { $0 + snapshot($1).byteCount })
        #expect((250..<500).allSatisfy { churn[h($0)]?.orderID == snapshot($0).orderID })
    }
}

@Suite("Order table")
struct OrderTableTests {
    @Test("ids get dense handles in first-stored order, found again through every growth of the table")
    func internsAndFinds() throws {
        var table = OrderTable()
        let ids = try (0..<50_000).map { try OrderID("ORD-\(String(repeating: "0", count: $0 % 7))\($0)") }
        for (k, id) in ids.enumerated() { #expect(table.intern(id).raw == UInt32(k)) }
        #expect(table.count == ids.count)
        for (k, id) in ids.enumerated() where k % 97 == 0 {
            #expect(table.find(id) == OrderHandle(raw: UInt32(k)))
            #expect(table[OrderHandle(raw: UInt32(k))] == id)
            #expect(table.intern(id).raw == UInt32(k))
        }
        #expect(table.find(try OrderID("ORD-never")) == nil)
        #expect(table.count == ids.count)
    }

    @Test("a batch's orders are grouped once each, in first-seen order")
    func groupsABatch() throws {
        let a = try OrderID("A"), b = try OrderID("B"), c = try OrderID("C")
        let batch = BatchOrders([b, a, b, c, a, b])
        #expect(batch.ids == [b, a, c])
        #expect(batch.slotOf == [0, 1, 0, 2, 1, 0])
    }
}
