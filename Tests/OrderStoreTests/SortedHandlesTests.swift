import OrderWorkload
import Testing
@testable import OrderStore

@Suite("Sorted handles (status lists by id)")
struct SortedHandlesTests {
    @Test("random inserts and removes keep the same elements in the same order as a sorted array, and pages after any cursor are the sorted array's")
    func matchesASortedArray() {
        var rng = SplitMix64(seed: 11)
        // Keys by handle: random, so handle order is not key order.
        let keys = (0..<20_000).map { _ in rng.next() % 1_000_000_000 }
        let less: (UInt32, UInt32) -> Bool = { keys[Int($0)] < keys[Int($1)] || (keys[Int($0)] == keys[Int($1)] && $0 < $1) }
        var list = SortedHandles()
        var present = Set<UInt32>()
        for step in 0..<60_000 {
            let h = UInt32(rng.next() % UInt64(keys.count))
            if present.contains(h) {
                let removed = list.remove(h, less)
                #expect(removed)
                present.remove(h)
            } else {
                list.insert(h, less)
                present.insert(h)
            }
            if step % 5_000 == 0 || step == 59_999 {
                let expected = present.sorted(by: less)
                #expect(list.all == expected)
                #expect(list.count == expected.count)
                // Pages: from the start, and after the element at a few places.
                for at in [-1, 0, expected.count / 3, expected.count - 2] where at < expected.count {
                    let cursor: UInt32? = at < 0 ? nil : expected[at]
                    let page = list.page(from: { e in cursor.map { !less($0, e) } ?? false }, limit: 100)
                    let rest = at < 0 ? expected[...] : expected[(at + 1)...]
                    #expect(page.elements == Array(rest.prefix(100)))
                    #expect(page.more == (rest.count > 100))
                }
            }
        }
        // One not in the list: removing it changes nothing.
        let missing = UInt32((0..<keys.count).first { !present.contains(UInt32($0)) }!)
        let absent = list.remove(missing, less)
        #expect(!absent && list.count == present.count)
    }
}
