import Foundation
import LogStorage
import OrderModel
import Testing
@testable import OrderStore

@Suite("Totals marks")
struct TotalsMarksTests {
    /// A store of generated orders with a mark every `every` events and a checkpoint after
    /// 60% of its batches, closed and reopened (every mark written).
    func markedStore(every: Int = 300) async throws -> StoreFixture {
        let f = try StoreFixture {
            $0.checkpointEvents = 0
            $0.totalsMarkEvents = every
        }
        let (batches, _) = generatedBatches(orders: 300, seed: 11)
        let cut = Int(Double(batches.count) * 0.6)
        for b in batches[..<cut] { _ = try await f.store.append(b) }
        _ = try f.store.writeCheckpoint()
        for b in batches[cut...] { _ = try await f.store.append(b) }
        try f.reopen()
        return f
    }

    /// The store in `f.path`, copied without its checkpoints and marks and opened with no
    /// marks: its totals as of a position replay the log from its start.
    func replayOnly(_ f: StoreFixture) throws -> (OrderStore, String) {
        let copy = f.path + "-plain"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: f.path, toPath: copy)
        try FileManager.default.removeItem(atPath: copy + "/checkpoints")
        try? FileManager.default.removeItem(atPath: copy + "/LOCK")
        var c = f.configuration
        c.totalsMarkEvents = 0
        return (try OrderStore.open(path: copy, configuration: c), copy)
    }

    func marksFile(_ f: StoreFixture) -> String { f.path + "/checkpoints/" + TotalsMarks.fileName }

    @Test("totals as of every position, from the nearest mark or checkpoint, equal a replay of the log from its start")
    func totalsFromMarksMatchReplay() async throws {
        let f = try await markedStore()
        let marks = f.store.state.withLock { $0.marks }
        let checkpoint = f.store.checkpointStatus.position
        #expect(marks.count >= 5)
        #expect(checkpoint > 0)
        let (plain, copy) = try replayOnly(f)
        defer { try? plain.close(); try? FileManager.default.removeItem(atPath: copy) }
        let end = f.store.endPosition
        // Every mark and the checkpoint, one either side of each, and a stride through the rest.
        var positions = Set(stride(from: UInt64(0), through: end, by: 53))
        for p in marks.map(\.position) + [checkpoint] { positions.formUnion([p - 1, p, p + 1]) }
        for p in positions.sorted() where p <= end {
            #expect(try f.store.totals(before: p) == plain.totals(before: p), "totals before \(p)")
        }
    }

    @Test("a torn or damaged marks file is cut at its last whole mark, a mark of other records is passed over, and totals stay exact")
    func damagedMarksArePassedOver() async throws {
        let f = try await markedStore()
        let path = marksFile(f)
        try f.store.close()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let whole = TotalsMarks.decode(bytes.withUnsafeBytes { $0 }).marks
        #expect(whole.count >= 5)
        // A mark of another log (its fingerprints wrong), then a torn one.
        var foreign = whole[1]
        foreign.lastChecksum ^= 0xFFFF
        foreign.position += 1
        bytes += TotalsMarks.encode(foreign)
        bytes += TotalsMarks.encode(whole[2]).prefix(17)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        f.store = try OrderStore.open(path: f.path, configuration: f.configuration)
        let kept = f.store.state.withLock { $0.marks }
        #expect(!kept.contains { $0.position == foreign.position })
        #expect(kept.count >= whole.count)
        // The file now reads to its end, and holds only marks that fit.
        let after = TotalsMarks.read(path: path)
        #expect(after.clean)
        #expect(!after.marks.contains { $0.position == foreign.position })

        // A flipped byte in the middle: the marks from there on are cut; answers unchanged.
        try f.store.close()
        var again = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        again[again.count / 2] ^= 0x40
        try Data(again).write(to: URL(fileURLWithPath: path))
        f.store = try OrderStore.open(path: f.path, configuration: f.configuration)
        #expect(TotalsMarks.read(path: path).clean)
        let (plain, copy) = try replayOnly(f)
        defer { try? plain.close(); try? FileManager.default.removeItem(atPath: copy) }
        for p in stride(from: UInt64(0), through: f.store.endPosition, by: 97) {
            #expect(try f.store.totals(before: p) == plain.totals(before: p), "totals before \(p)")
        }
    }

    @Test("every prefix of a marks file decodes to whole marks only, and random bytes decode to none without trapping")
    func decodeIsBoundedAndExact() {
        let marks = (1...4).map { k in
            TotalsMarks.Mark(position: UInt64(k * 1000), firstChecksum: 7, lastChecksum: UInt32(k),
                             rows: [TotalsRow(currency: "EUR", channel: "web", orders: k, total: Int64(k) * 100, captured: 5, refunded: -1),
                                    TotalsRow(currency: "JPY", channel: "store-\(k)", orders: 1)])
        }
        let file = marks.flatMap(TotalsMarks.encode)
        var boundaries = [0]
        for m in marks { boundaries.append(boundaries.last! + TotalsMarks.encode(m).count) }
        for n in 0...file.count {
            let decoded = file[..<n].withUnsafeBytes { TotalsMarks.decode($0) }
            let whole = boundaries.lastIndex { $0 <= n }!
            #expect(decoded.marks == Array(marks[..<whole]))
            #expect(decoded.validBytes == boundaries[whole])
        }
        // A mark whose checksum is right but whose rows no store writes (more orders than
        // records, rows out of order or twice) ends the file as damage does: totals as of a
        // time never sum them.
        let hostile = [
            TotalsMarks.Mark(position: 10, firstChecksum: 1, lastChecksum: 2, rows: [TotalsRow(currency: "EUR", channel: "web", orders: 1 << 62)]),
            TotalsMarks.Mark(position: 10, firstChecksum: 1, lastChecksum: 2, rows: [TotalsRow(currency: "USD", channel: "web", orders: 1), TotalsRow(currency: "EUR", channel: "web", orders: 1)]),
            TotalsMarks.Mark(position: 10, firstChecksum: 1, lastChecksum: 2, rows: [TotalsRow(currency: "EUR", channel: "web", orders: 1), TotalsRow(currency: "EUR", channel: "web", orders: 1)]),
        ]
        for h in hostile {
            let bytes = TotalsMarks.encode(marks[0]) + TotalsMarks.encode(h)
            #expect(bytes.withUnsafeBytes { TotalsMarks.decode($0) }.marks == [marks[0]])
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var noise = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { noise.replaceSubrange(0..<min(4, noise.count), with: TotalsMarks.encode(marks[0]).prefix(4)) }
            let decoded = noise.withUnsafeBytes { TotalsMarks.decode($0) }
            #expect(decoded.marks.isEmpty)
        }
    }

    @Test("a store opened without marks takes one at its end, and later ones as events arrive")
    func marksAreTakenAtOpenAndAsEventsArrive() async throws {
        let f = try StoreFixture { $0.checkpointEvents = 0; $0.totalsMarkEvents = 0 }
        let (batches, _) = generatedBatches(orders: 200, seed: 3)
        for b in batches.prefix(10) { _ = try await f.store.append(b) }
        try f.store.close()
        var c = f.configuration
        c.totalsMarkEvents = 100
        f.store = try OrderStore.open(path: f.path, configuration: c)
        let atOpen = f.store.state.withLock { $0.marks }
        #expect(atOpen.map(\.position) == [f.store.endPosition])
        #expect(atOpen.first?.rows == (try f.store.totals()))
        for b in batches.dropFirst(10) { _ = try await f.store.append(b) }
        try f.store.close()
        f.store = try OrderStore.open(path: f.path, configuration: c)
        let marks = f.store.state.withLock { $0.marks }
        #expect(batches.count > 20)
        #expect(marks.count >= (batches.count - 10) * 50 / 100)
        #expect(zip(marks, marks.dropFirst()).allSatisfy { $0.position < $1.position })
    }
}
