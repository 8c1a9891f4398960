import CCRC32C
import Foundation
import LogStorage
import OrderModel
import OrderWorkload
import Testing
@testable import OrderStore

/// Everything a store answers that a checkpoint could get wrong: every order's snapshot, every
/// status list, every customer's list, the running totals.
struct StoreAnswers: Equatable {
    var snapshots: [String: String] = [:]
    var statuses: [String: [OrderID]] = [:]
    var customers: [String: [OrderID]] = [:]
    var totals: [TotalsRow] = []
    var end: UInt64 = 0

    init(_ store: OrderStore, ids: [OrderID]) throws {
        var customers = Set<String>()
        for id in ids {
            guard let s = try store.snapshot(id) else { continue }
            snapshots[id.value] = s.json
            customers.insert(s.customerID)
        }
        for status in OrderSnapshot.Status.allCases { statuses[status.rawValue] = store.orders(withStatus: status) }
        for c in customers { self.customers[c] = store.orders(ofCustomer: c) }
        totals = try store.totals()
        end = store.endPosition
    }
}

/// A generated workload, appended in batches of 50 events.
func generatedBatches(orders: Int, seed: UInt64) -> (batches: [[AppendEvent]], ids: [OrderID]) {
    var options = OrderWorkloadGenerator.Options()
    options.orders = orders
    options.seed = seed
    options.inFlight = 40
    var events: [AppendEvent] = []
    var ids = Set<OrderID>()
    OrderWorkloadGenerator(options: options).generate { e in
        events.append(AppendEvent(e))
        ids.insert(e.orderID)
    }
    return (stride(from: 0, to: events.count, by: 50).map { Array(events[$0..<min($0 + 50, events.count)]) }, ids.sorted())
}

@Suite("Checkpoints")
struct CheckpointTests {
    /// A store with `orders` generated orders, a checkpoint written after `checkpointAfter` of
    /// its batches, and the rest appended after it.
    func storeWithCheckpoint(orders: Int = 300, seed: UInt64 = 7, checkpointAfter: Double = 0.6) async throws -> (StoreFixture, [OrderID], CheckpointInfo) {
        let f = try StoreFixture { $0.checkpointEvents = 0 }
        let (batches, ids) = generatedBatches(orders: orders, seed: seed)
        let cut = Int(Double(batches.count) * checkpointAfter)
        for b in batches[..<cut] { _ = try await f.store.append(b) }
        let info = try #require(try f.store.writeCheckpoint())
        for b in batches[cut...] { _ = try await f.store.append(b) }
        return (f, ids, info)
    }

    /// The answers of the store in `path` opened with no checkpoint (a copy without them).
    func answersWithoutCheckpoints(_ f: StoreFixture, ids: [OrderID]) throws -> StoreAnswers {
        let copy = f.path + "-nockpt"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.copyItem(atPath: f.path, toPath: copy)
        try FileManager.default.removeItem(atPath: copy + "/checkpoints")
        try? FileManager.default.removeItem(atPath: copy + "/LOCK")
        let store = try OrderStore.open(path: copy, configuration: f.configuration)
        defer { try? store.close() }
        #expect(store.checkpointStatus.position == 0)
        return try StoreAnswers(store, ids: ids)
    }

    @Test("a store opened from a checkpoint and the log after it answers exactly what a replay of the whole log answers")
    func openFromCheckpointMatchesReplay() async throws {
        let (f, ids, info) = try await storeWithCheckpoint()
        #expect(info.orders > 0 && info.position > 0 && info.changedOrders == info.orders)
        try f.reopen()
        #expect(f.store.checkpointStatus.position == info.position)
        #expect(f.store.checkpointStatus.problems.isEmpty)
        let answers = try StoreAnswers(f.store, ids: ids)
        #expect(answers == (try answersWithoutCheckpoints(f, ids: ids)))
        // Appends after the reopen work on the states the checkpoint gave.
        let report = f.store.audit()
        #expect(report.isClean, "\(report.violations.prefix(3))")
        #expect(report.checkpoint?.position == info.position && report.checkpoint?.differences == 0)
    }

    @Test("a second checkpoint copies unchanged orders from the first and writes only the changed ones afresh")
    func checkpointsAreIncremental() async throws {
        let (f, ids, first) = try await storeWithCheckpoint(checkpointAfter: 0.9)
        let second = try #require(try f.store.writeCheckpoint())
        #expect(second.position > first.position)
        #expect(second.changedOrders < second.orders)
        #expect(try f.store.writeCheckpoint() == nil)  // nothing new
        try f.reopen()
        #expect(f.store.checkpointStatus.position == second.position)
        #expect(try StoreAnswers(f.store, ids: ids) == (try answersWithoutCheckpoints(f, ids: ids)))
    }

    @Test("a checkpoint with any byte damaged is reported by verify; open passes over one whose header, index or trailer is damaged, and answers right either way")
    func damagedCheckpointIsNotUsed() async throws {
        let (f, ids, info) = try await storeWithCheckpoint()
        let expected = try answersWithoutCheckpoints(f, ids: ids)
        let original = try Data(contentsOf: URL(fileURLWithPath: info.path))
        // (offset, whether open must pass it over): the header, the first entry, a middle
        // entry, the index section, the trailer. An entry open does not need (its order is not
        // touched after the checkpoint) is read only by verify and audit.
        let indexByte = original.count - CheckpointFile.trailerBytes - 10
        for (offset, passedOver) in [(20, true), (64 + 10, false), (original.count / 3, false), (indexByte, true), (original.count - 10, true)] {
            var damaged = original
            damaged[offset] ^= 0x40
            try damaged.write(to: URL(fileURLWithPath: info.path))
            #expect(OrderStore.verifyCheckpoints(path: f.path).map(\.kind) == [.damaged], "offset \(offset)")
            try f.reopen()
            if passedOver {
                #expect(f.store.checkpointStatus.position == 0, "offset \(offset)")
                #expect(f.store.checkpointStatus.problems.count == 1, "offset \(offset)")
            }
            #expect(try StoreAnswers(f.store, ids: ids) == expected, "offset \(offset)")
            // Audit: a file open would pass over is reported as such; a damaged entry in the
            // one it would load is a violation.
            let audit = f.store.audit()
            if passedOver { #expect(audit.isClean && audit.checkpointProblems.count == 1, "offset \(offset)") }
            else { #expect(audit.violations.map(\.code) == ["checkpoint_mismatch"], "offset \(offset)") }
        }
        // Cut short (a torn copy): the trailer is missing.
        try original.prefix(original.count - 100).write(to: URL(fileURLWithPath: info.path))
        try f.reopen()
        #expect(f.store.checkpointStatus.position == 0)
        #expect(try StoreAnswers(f.store, ids: ids) == expected)
    }

    @Test("an entry open needs that fails its checks sends open back to the log alone, with the same answers")
    func damagedNeededEntryFallsBackToTheLog() async throws {
        let (f, ids, info) = try await storeWithCheckpoint(checkpointAfter: 0.5)
        let expected = try answersWithoutCheckpoints(f, ids: ids)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: info.path)))
        // Damage every entry's last state byte: whichever orders the log after the
        // checkpoint touches, the first one read fails its checksum.
        var offset = CheckpointFile.headerBytes
        for _ in 0..<info.orders {
            let length = Int(UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
            bytes[offset + 4 + length - 1] ^= 0x01
            offset += 8 + length
        }
        try Data(bytes).write(to: URL(fileURLWithPath: info.path))
        try f.reopen()
        #expect(f.store.checkpointStatus.position == 0)
        #expect(f.store.checkpointStatus.problems.first?.contains("checksum") == true)
        #expect(try StoreAnswers(f.store, ids: ids) == expected)
    }

    @Test("a checkpoint from another log is foreign, one past the log's end is stale; neither is used")
    func foreignAndStaleCheckpointsAreNotUsed() async throws {
        let (f, _, info) = try await storeWithCheckpoint()
        // Another store with a different, longer log: foreign.
        let other = try StoreFixture { $0.checkpointEvents = 0 }
        let (batches, otherIDs) = generatedBatches(orders: 400, seed: 99)
        for b in batches { _ = try await other.store.append(b) }
        let expected = try StoreAnswers(other.store, ids: otherIDs)
        let name = (info.path as NSString).lastPathComponent
        try FileManager.default.createDirectory(atPath: other.path + "/checkpoints", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: info.path, toPath: other.path + "/checkpoints/" + name)
        try other.reopen()
        #expect(other.store.checkpointStatus.position == 0)
        #expect(other.store.checkpointStatus.problems.first?.hasPrefix("foreign") == true)
        #expect(try StoreAnswers(other.store, ids: otherIDs) == expected)
        // A store whose log is shorter than the checkpoint's position: stale.
        let short = try StoreFixture { $0.checkpointEvents = 0 }
        _ = try await short.store.append([AppendEvent(placed("O-short"))])
        try FileManager.default.createDirectory(atPath: short.path + "/checkpoints", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: info.path, toPath: short.path + "/checkpoints/" + name)
        try short.reopen()
        #expect(short.store.checkpointStatus.position == 0)
        #expect(short.store.checkpointStatus.problems.first?.hasPrefix("stale") == true)
        #expect(try short.store.snapshot(oid("O-short"))?.version == 1)
        _ = f
    }

    @Test("a checkpoint write cut short leaves a temporary file that open removes, and the previous checkpoint is used")
    func tornWriteLeavesPreviousCheckpoint() async throws {
        let (f, ids, info) = try await storeWithCheckpoint(checkpointAfter: 0.5)
        // What a crash mid-write leaves: a later checkpoint under its temporary name, half written.
        let whole = try Data(contentsOf: URL(fileURLWithPath: info.path))
        let torn = f.path + "/checkpoints/" + CheckpointFile.name(position: f.store.endPosition) + ".tmp"
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: torn))
        try f.reopen()
        #expect(!FileManager.default.fileExists(atPath: torn))
        #expect(f.store.checkpointStatus.position == info.position)
        #expect(try StoreAnswers(f.store, ids: ids) == (try answersWithoutCheckpoints(f, ids: ids)))
    }

    @Test("audit reports a checkpoint whose state is not what the log replays to, even with every checksum right")
    func auditFindsAWrongCheckpoint() async throws {
        let (f, _, info) = try await storeWithCheckpoint()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: info.path)))
        // The first entry's state: raise the header's `notes` (bytes 8..<12 of the state) and
        // seal the entry again with a correct checksum.
        let length = Int(UInt32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 64, as: UInt32.self) }))
        let idLength = Int(bytes[68])
        bytes[64 + 4 + 1 + idLength + 8] &+= 1
        let crc = bytes.withUnsafeBytes { orderlog_crc32c_extend(0, $0.baseAddress! + 64, 4 + length) }
        withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { bytes[64 + 4 + length + k] = $0[k] } }
        try Data(bytes).write(to: URL(fileURLWithPath: info.path))
        #expect(OrderStore.verifyCheckpoints(path: f.path).isEmpty)  // well-formed
        let report = f.store.audit()
        #expect(report.checkpoint?.differences == 1)
        #expect(report.violations.map(\.code) == ["checkpoint_mismatch"])
    }

    @Test("a store writes checkpoints in the background as events arrive, and close waits for one being written")
    func backgroundCheckpoints() async throws {
        let f = try StoreFixture { $0.checkpointEvents = 200 }
        let (batches, ids) = generatedBatches(orders: 200, seed: 3)
        for b in batches { _ = try await f.store.append(b) }
        try f.reopen()
        let position = f.store.checkpointStatus.position
        #expect(position > 0)
        // The newest two are kept.
        #expect(CheckpointFile.list(f.path + "/checkpoints").count <= 2)
        #expect(try StoreAnswers(f.store, ids: ids) == (try answersWithoutCheckpoints(f, ids: ids)))
        #expect(Log.verify(path: f.path).isEmpty)
    }
    /// Rewrites the checkpoint at `path` after `change` edits its bytes, sealing what it
    /// changed with correct checksums: the header's, entry 0's (at 64), the index's and the
    /// trailer's. What a crafted file or a bug would look like: every checksum right.
    func reseal(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
        var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        change(&b)
        func put(_ v: UInt32, at o: Int) { withUnsafeBytes(of: v.littleEndian) { for k in 0..<4 { b[o + k] = $0[k] } } }
        func crc(_ r: Range<Int>) -> UInt32 { b.withUnsafeBytes { orderlog_crc32c_extend(0, $0.baseAddress! + r.lowerBound, r.count) } }
        put(crc(0..<60), at: 60)
        let length = Int(UInt32(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 64, as: UInt32.self) }))
        put(crc(64..<(68 + length)), at: 68 + length)
        let t = b.count - CheckpointFile.trailerBytes
        let indexOffset = Int(UInt64(littleEndian: b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: t + 16, as: UInt64.self) }))
        put(crc(indexOffset..<t), at: t + 32)
        put(crc(t..<(t + 40)), at: t + 40)
        try Data(b).write(to: URL(fileURLWithPath: path))
    }

    @Test("a checkpoint with every checksum right but a position of 0, or a state no rule allows (an order of 2^63 units), is passed over as damaged: no trap")
    func craftedCheckpointsAreRefused() async throws {
        let (f, ids, info) = try await storeWithCheckpoint()
        let expected = try answersWithoutCheckpoints(f, ids: ids)
        let original = try Data(contentsOf: URL(fileURLWithPath: info.path))
        // Position 0.
        try reseal(info.path) { b in for k in 16..<24 { b[k] = 0 } }
        #expect(OrderStore.verifyCheckpoints(path: f.path).map(\.kind) == [.damaged])
        try f.reopen()
        #expect(f.store.checkpointStatus.position == 0)
        #expect(try StoreAnswers(f.store, ids: ids) == expected)
        // Order 0's first line ordered Int64.max units: the entry's state starts after its
        // 4-byte length, 1-byte id length and id; lines come first in the buffer, after the
        // 144-byte header and 4-byte buffer length; `ordered` is at 16 in a line.
        try original.write(to: URL(fileURLWithPath: info.path))
        try reseal(info.path) { b in
            let idLength = Int(b[68])
            let ordered = 64 + 4 + 1 + idLength + 144 + 4 + 16
            for k in 0..<8 { b[ordered + k] = k == 7 ? 0x7F : 0xFF }
        }
        #expect(OrderStore.verifyCheckpoints(path: f.path).map(\.kind) == [.damaged])
        #expect(f.store.audit().violations.map(\.code) == ["checkpoint_mismatch"])
        try f.reopen()
        #expect(try StoreAnswers(f.store, ids: ids) == expected)
    }

    @Test("a damaged entry no open needed does not stop later checkpoints: the order is written from its state")
    func damagedUnreadEntryDoesNotBlockCheckpoints() async throws {
        let (f, ids, info) = try await storeWithCheckpoint(checkpointAfter: 0.95)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: info.path)))
        bytes[64 + 10] ^= 0x40  // order 0's entry, long finished: no record after the checkpoint touches it
        try Data(bytes).write(to: URL(fileURLWithPath: info.path))
        try f.reopen()
        #expect(f.store.checkpointStatus.position == info.position)  // its index is sound; open did not need entry 0
        _ = try await f.store.append([AppendEvent(placed("O-after"))])
        let next = try #require(try f.store.writeCheckpoint())
        #expect(next.position > info.position)
        #expect(OrderStore.verifyCheckpoints(path: f.path).count == 1)  // the old, damaged one, kept as the one it was made from
        try f.reopen()
        #expect(f.store.checkpointStatus.position == next.position)
        #expect(f.store.audit().checkpoint?.differences == 0)
        #expect(try StoreAnswers(f.store, ids: ids + [oid("O-after")]) == (try answersWithoutCheckpoints(f, ids: ids + [oid("O-after")])))
    }

    @Test("a record that does not read is skipped in a checkpoint as open skips it, and the checkpoint is written")
    func unreadableRecordIsSkippedAsOpenSkipsIt() async throws {
        let f = try StoreFixture { $0.checkpointEvents = 0; $0.snapshotCacheMax = 0 }
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O5"), type: RecordType(999), payload: [1, 0]))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O5"), type: RecordType(EventType.orderPlaced.code), payload: placed("O5").encodeBinary()))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O6"), type: RecordType(EventType.orderPlaced.code), payload: placed("O6").encodeBinary()))
        try f.reopen()
        let info = try #require(try f.store.writeCheckpoint())
        #expect(info.orders == 2)
        try f.reopen()
        #expect(f.store.checkpointStatus.position == info.position)
        // (A snapshot read of O5 reports its unreadable record, as before; the lists have it.)
        #expect(f.store.orders(withStatus: .placed) == [oid("O5"), oid("O6")])
        let audit = f.store.audit()
        #expect(audit.checkpoint?.differences == 0)
        #expect(audit.violations.map(\.code) == ["corrupt_payload"])
    }
    @Test("changed orders replayed in one scan from the previous checkpoint give the checkpoint that replaying each one gives")
    func scanFromThePreviousCheckpoint() async throws {
        // The same store twice: one writing its second checkpoint order by order, one by a
        // scan of the log after the first (a tiny cache: every changed order needs a replay).
        var infos: [CheckpointInfo] = []
        var answers: [StoreAnswers] = []
        // Order by order; one scan; one scan for every 7 orders it replays.
        for (scanMin, batch) in [(Int.max, 500_000), (0, 500_000), (0, 7)] {
            let f = try StoreFixture { $0.checkpointEvents = 0; $0.snapshotCacheMax = 1; $0.checkpointScanMin = scanMin; $0.checkpointScanBatch = batch }
            let (batches, ids) = generatedBatches(orders: 300, seed: 21)
            let cut = batches.count / 2
            for b in batches[..<cut] { _ = try await f.store.append(b) }
            _ = try #require(try f.store.writeCheckpoint())
            for b in batches[cut...] { _ = try await f.store.append(b) }
            let second = try #require(try f.store.writeCheckpoint())
            #expect(second.changedOrders > 0 && second.changedOrders < second.orders)
            try f.reopen()
            #expect(f.store.checkpointStatus.position == second.position)
            #expect(f.store.audit().checkpoint?.differences == 0)
            answers.append(try StoreAnswers(f.store, ids: ids))
            infos.append(second)
            // The two files are the same bytes but for the header's time of writing.
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: second.path)))
            infos[infos.count - 1].path = String(bytes[64...].reduce(0 as UInt64) { $0 &* 31 &+ UInt64($1) })
        }
        #expect(answers[0] == answers[1] && answers[0] == answers[2])
        #expect(infos[0].path == infos[1].path && infos[0].bytes == infos[1].bytes)
        #expect(infos[0].path == infos[2].path && infos[0].bytes == infos[2].bytes)
    }
}

@Suite("Checkpoints as the order table and lists")
struct CheckpointBaseTests {
    /// Every customer's list walked in pages of 2 (cursor to cursor), every status list in
    /// pages of 3: the same orders as the whole lists.
    func pagesMatchLists(_ store: OrderStore, _ answers: StoreAnswers) throws {
        for (customer, all) in answers.customers {
            var walked: [OrderID] = [], cursor: String?
            repeat {
                let page = try store.orders(ofCustomer: customer, after: cursor, limit: 2)
                #expect(page.total == all.count)
                walked += page.ids
                cursor = page.next
            } while cursor != nil
            #expect(walked == all, "customer \(customer)")
        }
        for status in OrderSnapshot.Status.allCases {
            var walked: [OrderID] = [], cursor: String?
            repeat {
                let page = store.orders(withStatus: status, after: cursor, limit: 3)
                walked += page.ids
                cursor = page.next
            } while cursor != nil
            #expect(walked == answers.statuses[status.rawValue], "status \(status)")
        }
    }

    @Test("a running store answers the same before and after each checkpoint it writes (its table and customer lists then read from the file), and as a store that never had one")
    func liveStoreAcrossCheckpoints() async throws {
        let f = try StoreFixture { $0.checkpointEvents = 0 }
        let (batches, ids) = generatedBatches(orders: 400, seed: 21)
        let reference = try StoreFixture { $0.checkpointEvents = 0 }
        for (k, b) in batches.enumerated() {
            _ = try await f.store.append(b)
            _ = try await reference.store.append(b)
            if k % 9 == 8 {
                let before = try StoreAnswers(f.store, ids: ids)
                _ = try f.store.writeCheckpoint()
                let after = try StoreAnswers(f.store, ids: ids)
                #expect(after == before, "after the checkpoint at batch \(k)")
                #expect(after == (try StoreAnswers(reference.store, ids: ids)))
                try pagesMatchLists(f.store, after)
            }
        }
        let last = try StoreAnswers(f.store, ids: ids)
        #expect(last == (try StoreAnswers(reference.store, ids: ids)))
        try f.reopen()
        let reopened = try StoreAnswers(f.store, ids: ids)
        #expect(reopened == last)
        try pagesMatchLists(f.store, reopened)
        #expect(f.store.audit().isClean)
        // verify reads the index a second time: hashes, slots, sorted lists, customers.
        let path = try #require(f.store.checkpointStatus.path)
        let reader = try CheckpointFile.Reader(path: path, log: nil)
        try reader.verifyEntries()
    }

    @Test("a checkpoint index with two ids' hashes swapped, every checksum right, opens without a trap; verify and audit report it")
    func reorderedIndexIsReported() async throws {
        let f = try StoreFixture { $0.checkpointEvents = 0 }
        let (batches, _) = generatedBatches(orders: 200, seed: 5)
        for b in batches { _ = try await f.store.append(b) }
        let info = try #require(try f.store.writeCheckpoint())
        try f.store.close()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: info.path)))
        let t = bytes.count - CheckpointFile.trailerBytes
        let indexOffset = Int(bytes.withUnsafeBytes { $0.u64(t + 16) })
        // The first two orders' id hashes (after the summaries and the n + 1 id offsets), swapped.
        let n = info.orders
        let hashes = indexOffset + n * CheckpointFile.summaryBytes + (n + 1) * 4
        for k in 0..<4 { bytes.swapAt(hashes + k, hashes + 4 + k) }
        // Checksums made right again: the index's, then the trailer's.
        let index = bytes[indexOffset..<t].withUnsafeBytes { CheckpointFile.crc($0) }
        withUnsafeBytes(of: index.littleEndian) { for k in 0..<4 { bytes[t + 32 + k] = $0[k] } }
        let trailer = bytes[t..<(t + 40)].withUnsafeBytes { CheckpointFile.crc($0) }
        withUnsafeBytes(of: trailer.littleEndian) { for k in 0..<4 { bytes[t + 40 + k] = $0[k] } }
        try Data(bytes).write(to: URL(fileURLWithPath: info.path))
        let reader = try CheckpointFile.Reader(path: info.path, log: nil)
        #expect(throws: CheckpointProblem.self) { try reader.verifyEntries() }
        // Open uses it (its checks are bounds, not a second reading) and does not trap; audit
        // reports what is wrong.
        f.store = try OrderStore.open(path: f.path, configuration: f.configuration)
        #expect(!f.store.audit().isClean)
    }
}
