import Foundation
import LogStorage
import OrderModel
import OrderWorkload
import Testing
@testable import OrderStore

/// A fresh store in a temporary directory.
final class StoreFixture: @unchecked Sendable {
    let path: String
    var store: OrderStore

    let configuration: StoreConfiguration

    init(_ change: (inout StoreConfiguration) -> Void = { _ in }) throws {
        path = FileManager.default.temporaryDirectory.path + "/orderstore-test-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .none
        change(&c)
        configuration = c
        store = try OrderStore.open(path: path, configuration: c)
    }

    func reopen() throws {
        try store.close()
        store = try OrderStore.open(path: path, configuration: configuration)
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}

func oid(_ s: String) -> OrderID { try! OrderID(s) }

func placed(_ id: String, customer: String = "CUS-1", eventID: String? = nil, ts: Int64? = nil) -> OrderEvent {
    OrderEvent(orderID: oid(id), ts: ts.map { EventTime(microseconds: $0) }, eventID: eventID,
               data: .orderPlaced(customerID: customer, channel: "web", currency: "USD",
                                  lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 1000), PlacedLine(sku: "B", qty: 1, unitPriceMinor: 500)],
                                  shippingMinor: 100, taxMinor: nil, discountMinor: nil))
}

func event(_ id: String, _ data: EventData, eventID: String? = nil) -> OrderEvent {
    OrderEvent(orderID: oid(id), eventID: eventID, data: data)
}

@Suite("Order store")
struct OrderStoreTests {
    @Test("a batch with one rule-breaking event stores nothing and names the event")
    func atomicBatches() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"))])
        let before = try f.store.snapshot(oid("O1"))
        let end = f.store.log.endPosition
        do {
            _ = try await f.store.append([
                AppendEvent(event("O1", .paymentAuthorized(paymentID: "P1", amountMinor: 2600))),
                AppendEvent(event("O1", .paymentCaptured(paymentID: "P1", amountMinor: 9999))),
            ])
            Issue.record("an over-capture was accepted")
        } catch let error as StoreError {
            #expect(error.eventIndex == 1)
            #expect(error.orderError?.code == .overCapture)
            #expect(error.message.contains("O1"))
        }
        #expect(f.store.log.endPosition == end)
        #expect(try f.store.snapshot(oid("O1")) == before)
        // The next batch is checked against the snapshot as it was, not the half-applied one.
        let results = try await f.store.append([AppendEvent(event("O1", .paymentAuthorized(paymentID: "P1", amountMinor: 2600)))])
        #expect(results == [.stored(position: end.rawValue, seq: 2)])
        #expect(try f.store.snapshot(oid("O1"))?.version == 2)
    }

    @Test("a batch checked on another thread is written exactly as the same batch written whole; a check names the first event over a limit")
    func checkedBatches() async throws {
        let a = try StoreFixture(), b = try StoreFixture()
        func at(_ e: OrderEvent, _ seconds: Int64) -> OrderEvent { var e = e; e.ts = EventTime(microseconds: 1_767_225_600_000_000 + seconds * 1_000_000, offsetMinutes: 60); return e }
        let batch = [
            AppendEvent(at(placed("O1"), 1)), AppendEvent(at(placed("O2"), 2)),
            AppendEvent(at(event("O1", .paymentAuthorized(paymentID: "P1", amountMinor: 2600)), 3), expectedVersion: .exactly(1)),
            AppendEvent(at(event("O2", .noteAdded(text: "hi"), eventID: "n1"), 4)),
            // No ts: it is given the recorded time when written, checked or not.
            AppendEvent(event("O2", .noteAdded(text: "later"))),
        ]
        let checked = try await Task.detached { try b.store.check(batch) }.value
        let whole = try await a.store.waitUntilDurable(a.store.write(batch))
        let split = try await b.store.waitUntilDurable(b.store.write(checked))
        #expect(whole == split)
        #expect(try a.store.storedRecords(of: oid("O1")).map(\.payload) == b.store.storedRecords(of: oid("O1")).map(\.payload))
        #expect(try a.store.storedRecords(of: oid("O2")).map(\.payload).prefix(2) == b.store.storedRecords(of: oid("O2")).map(\.payload).prefix(2))
        for store in [a.store, b.store] {
            let last = try #require(try store.history(oid("O2")).last)
            // The store's clock when it wrote the batch; the log records it just after.
            let ts = try #require(last.event.ts?.microseconds)
            #expect(ts <= last.recordedAt && last.recordedAt - ts < 1_000_000)
            #expect(try store.snapshot(oid("O2"))?.version == 3)
        }
        let tooLong = AppendEvent(event("O3", .noteAdded(text: String(repeating: "x", count: EventLimits.stringBytesMax + 1))))
        do {
            _ = try b.store.check([AppendEvent(placed("O3")), tooLong])
            Issue.record("a note over the string limit passed the check")
        } catch let error as StoreError {
            #expect(error.eventIndex == 1)
            #expect(error.orderError?.field == "data.text")
        }
    }

    @Test("an event whose event_id its order already has is not stored again and reports the original position")
    func idempotentAppends() async throws {
        let f = try StoreFixture()
        let first = try await f.store.append([AppendEvent(placed("O1", eventID: "evt-1"))])
        let again = try await f.store.append([AppendEvent(placed("O1", eventID: "evt-1"))])
        #expect(again == [.duplicate(position: first[0].position)])
        // event ids are scoped per order
        let other = try await f.store.append([AppendEvent(placed("O2", eventID: "evt-1"))])
        guard case .stored = other[0] else { Issue.record("evt-1 of another order was treated as a duplicate"); return }
        #expect(f.store.log.endPosition == LogPosition(2))
    }

    @Test("expected versions: none, exactly N, and a conflict that states the actual version")
    func expectedVersions() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"), expectedVersion: .none)])
        _ = try await f.store.append([AppendEvent(event("O1", .noteAdded(text: "hi")), expectedVersion: .exactly(1))])
        do {
            _ = try await f.store.append([AppendEvent(event("O1", .noteAdded(text: "late")), expectedVersion: .exactly(1))])
            Issue.record("a stale expected version was accepted")
        } catch let error as StoreError {
            #expect(error.orderError?.code == .versionConflict)
            #expect(error.message.contains("version is 2"))
        }
        await #expect(throws: StoreError.self) { try await f.store.append([AppendEvent(placed("O1"), expectedVersion: .none)]) }
    }

    @Test("a snapshot as of a position equals replaying exactly the events up to it")
    func asOfPosition() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1")), AppendEvent(placed("O2"))])
        _ = try await f.store.append([AppendEvent(event("O1", .paymentAuthorized(paymentID: "P1", amountMinor: 2600)))])
        _ = try await f.store.append([AppendEvent(event("O1", .paymentCaptured(paymentID: "P1", amountMinor: 2600)))])
        let atTwo = try #require(try f.store.snapshot(oid("O1"), asOfPosition: 2))
        #expect(atTwo.version == 2)
        #expect(atTwo.status == .authorized)
        #expect(try f.store.snapshot(oid("O1"))?.status == .paid)
        #expect(try f.store.snapshot(oid("O1"), asOfPosition: 0)?.version == 1)
        #expect(try f.store.snapshot(oid("O2"), asOfPosition: 0) == nil)
        // As of a time: the events recorded at or before it.
        let history = try f.store.history(oid("O1"))
        let t = history[1].recordedAt
        #expect(try f.store.snapshot(oid("O1"), asOfTime: t)?.version == 2)
    }

    @Test("customer and status lists follow events as they arrive and survive a reopen")
    func lists() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1", customer: "C1")), AppendEvent(placed("O2", customer: "C1")), AppendEvent(placed("O3", customer: "C2"))])
        #expect(f.store.orders(ofCustomer: "C1") == [oid("O2"), oid("O1")])
        #expect(f.store.orders(withStatus: .placed) == [oid("O1"), oid("O2"), oid("O3")])
        _ = try await f.store.append([
            AppendEvent(event("O2", .paymentAuthorized(paymentID: "P", amountMinor: 2600))),
            AppendEvent(event("O2", .paymentCaptured(paymentID: "P", amountMinor: 2600))),
            AppendEvent(event("O2", .fulfillmentRequested(fulfillmentID: "F", location: "W", lines: [SkuQuantity(sku: "A", qty: 2), SkuQuantity(sku: "B", qty: 1)]))),
            AppendEvent(event("O2", .shipped(fulfillmentID: "F", carrier: "UPS", trackingNo: "1Z"))),
        ])
        #expect(f.store.orders(withStatus: .shipped) == [oid("O2")])
        #expect(f.store.orders(withStatus: .placed) == [oid("O1"), oid("O3")])
        try f.reopen()
        #expect(f.store.orders(withStatus: .shipped) == [oid("O2")])
        #expect(f.store.orders(ofCustomer: "C1") == [oid("O2"), oid("O1")])
        #expect(try f.store.snapshot(oid("O2"))?.version == 5)
    }

    @Test("lists come in pages that add up to the whole list, even with orders placed between pages")
    func listPages() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append((1...7).map { AppendEvent(placed("O\($0)", customer: "C1")) })
        // Customer: newest first, 3 a page; two more orders placed after the first page.
        var page = try f.store.orders(ofCustomer: "C1", after: nil, limit: 3)
        #expect(page.ids == [oid("O7"), oid("O6"), oid("O5")])
        #expect(page.total == 7)
        _ = try await f.store.append([AppendEvent(placed("O8", customer: "C1")), AppendEvent(placed("O9", customer: "C1"))])
        var seen = page.ids
        while let next = page.next {
            page = try f.store.orders(ofCustomer: "C1", after: next, limit: 3)
            seen += page.ids
        }
        #expect(seen == (1...7).reversed().map { oid("O\($0)") })
        #expect(page.total == 9)
        #expect(throws: StoreError.self) { try f.store.orders(ofCustomer: "C1", after: "x", limit: 3) }
        #expect(throws: StoreError.self) { try f.store.orders(ofCustomer: "C1", after: "99", limit: 3) }
        // Status: by id, the cursor is the last id.
        var status = f.store.orders(withStatus: .placed, after: nil, limit: 4)
        var all = status.ids
        while let next = status.next {
            status = f.store.orders(withStatus: .placed, after: next, limit: 4)
            all += status.ids
        }
        #expect(all == f.store.orders(withStatus: .placed))
        #expect(all.count == 9)
        #expect(f.store.orders(withStatus: .placed, after: nil, limit: 9).next == nil)
    }

    @Test("the snapshot cache is bounded by bytes as well as by count: large orders are replayed, not kept, and read the same")
    func cacheBoundedByBytes() async throws {
        let f = try StoreFixture { $0.snapshotCacheBytesMax = 1 << 20 }
        // 40 orders of 60 lines with 1,000-byte skus: ~70 KB each, ~2.8 MB in all.
        let wide = (0..<40).map { i in
            OrderEvent(orderID: oid("WIDE-\(i)"), data: .orderPlaced(
                customerID: "C", channel: "web", currency: "EUR",
                lines: (0..<60).map { PlacedLine(sku: "S\($0)-" + String(repeating: "s", count: 1000), qty: 1, unitPriceMinor: 100) },
                shippingMinor: nil, taxMinor: nil, discountMinor: nil))
        }
        for chunk in stride(from: 0, to: wide.count, by: 5) {
            _ = try await f.store.append(wide[chunk..<(chunk + 5)].map { AppendEvent($0) })
            #expect(f.store.cacheUsage.bytes <= 1 << 20)
        }
        #expect(f.store.cacheUsage.count < 40)
        for e in wide { #expect(try f.store.snapshot(e.orderID)?.lines.count == 60) }
        #expect(f.store.cacheUsage.bytes <= 1 << 20)
        try f.reopen()
        #expect(f.store.cacheUsage.bytes <= 1 << 20)
        #expect(try f.store.snapshot(oid("WIDE-7"))?.lines.count == 60)
    }

    @Test("a long order is priced by its events for the server's off-loop decision; a cached one costs nothing now")
    func replayCost() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("LONG"))] + (0..<1500).map { _ in AppendEvent(event("LONG", .noteAdded(text: "n"))) })
        #expect(f.store.replayCost([oid("LONG")]) == 0)  // cached
        #expect(f.store.replayCost([oid("LONG")], cachedCountsAsFree: false) == 1501)
        #expect(f.store.replayCost([oid("NEW")]) == 0)
        // A rejected batch drops the order from the cache; the next append replays it before
        // taking the store's lock, and the order reads the same.
        await #expect(throws: StoreError.self) {
            try await f.store.append([AppendEvent(event("LONG", .noteAdded(text: "ok"))), AppendEvent(event("LONG", .paymentCaptured(paymentID: "P", amountMinor: 5)))])
        }
        #expect(f.store.replayCost([oid("LONG")]) == 1501)
        _ = try await f.store.append([AppendEvent(event("LONG", .noteAdded(text: "after")))])
        #expect(try f.store.snapshot(oid("LONG"))?.version == 1502)
        #expect(try f.store.snapshot(oid("LONG")) == OrderSnapshot.replaying(oid("LONG"), try f.store.history(oid("LONG"))))
    }

    @Test("concurrent writers on the same orders, with rejected batches and a small cache, leave every order equal to the replay of its events")
    func concurrentWritersStayConsistent() async throws {
        let f = try StoreFixture { $0.snapshotCacheMax = 3 }
        _ = try await f.store.append((0..<8).map { AppendEvent(placed("C\($0)")) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for round in 0..<150 {
                        let a = "C\((w + round) % 8)", b = "C\((w * 3 + round) % 8)"
                        if round % 5 == 0 {
                            // Rejected: the capture exceeds every authorization; nothing changes.
                            _ = try? await f.store.append([AppendEvent(event(a, .noteAdded(text: "r"))), AppendEvent(event(b, .paymentCaptured(paymentID: "none", amountMinor: 1)))])
                        } else {
                            _ = try await f.store.append([AppendEvent(event(a, .noteAdded(text: "w\(w)"))), AppendEvent(event(b, .noteAdded(text: "r\(round)")))])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var total = 0
        for k in 0..<8 {
            let id = oid("C\(k)")
            let history = try f.store.history(id)
            total += history.count
            #expect(try f.store.snapshot(id) == OrderSnapshot.replaying(id, history))
            #expect(history.map(\.seq) == Array(1...UInt32(history.count)))
        }
        #expect(total == 8 + 4 * 120 * 2)
    }

    @Test("the running totals equal a replay of the log, after rejected and duplicate batches and across a reopen")
    func runningTotalsMatchAReplay() async throws {
        let f = try StoreFixture { $0.snapshotCacheMax = 50 }
        var o = OrderWorkloadGenerator.Options()
        o.orders = 300
        o.seed = 11
        var events: [AppendEvent] = []
        OrderWorkloadGenerator(options: o).generate { events.append(AppendEvent($0)) }
        for (k, start) in stride(from: 0, to: events.count, by: 97).enumerated() {
            let chunk = Array(events[start..<min(events.count, start + 97)])
            _ = try await f.store.append(chunk)
            if k % 3 == 0 { _ = try await f.store.append(chunk) }  // duplicates only
            if k % 4 == 0 {  // rejected: the last event breaks a rule
                _ = try? await f.store.append(chunk.prefix(5) + [AppendEvent(event(chunk[0].event.orderID.value, .paymentCaptured(paymentID: "none", amountMinor: 1)))])
            }
        }
        func replayed() throws -> [TotalsRow] {
            var snapshots: [OrderID: OrderSnapshot] = [:]
            try f.store.forEachEvent { stored in
                try? snapshots[stored.event.orderID, default: OrderSnapshot(orderID: stored.event.orderID)].apply(stored.event, position: stored.position, time: stored.effectiveTime)
                return true
            }
            var rows: [String: TotalsRow] = [:]
            for s in snapshots.values where s.exists {
                var row = rows[s.currency + "/" + s.channel] ?? TotalsRow(currency: s.currency, channel: s.channel)
                row.orders += 1; row.total += s.totalMinor; row.captured += s.capturedMinor; row.refunded += s.refundedMinor
                rows[s.currency + "/" + s.channel] = row
            }
            return rows.values.sorted { ($0.currency, $0.channel) < ($1.currency, $1.channel) }
        }
        let expected = try replayed()
        #expect(expected.count > 5)
        #expect(try f.store.totals() == expected)
        #expect(f.store.currentTotals()?.rows == expected)
        try f.reopen()
        #expect(try f.store.totals() == expected)
    }

    @Test("import of an export gives an identical export, and importing it again stores nothing")
    func exportImportRoundTrip() async throws {
        let source = try StoreFixture()
        var options = OrderWorkloadGenerator.Options()
        options.orders = 300
        options.inFlight = 50
        var events: [AppendEvent] = []
        OrderWorkloadGenerator(options: options).generate { events.append(AppendEvent($0)) }
        for chunk in stride(from: 0, to: events.count, by: 500) {
            _ = try await source.store.append(Array(events[chunk..<min(events.count, chunk + 500)]))
        }
        func export(_ store: OrderStore) throws -> [String] {
            var lines: [String] = []
            try store.forEachEvent { lines.append($0.event.jsonLine(stored: $0)); return true }
            return lines
        }
        let first = try export(source.store)
        let target = try StoreFixture()
        let decoded = try first.map { try OrderEvent.decodeJSONLine(Array($0.utf8)) }
        _ = try await target.store.append(decoded.map { AppendEvent($0.event, expectedVersion: $0.expectedVersion, recordedAt: $0.recordedAt) })
        #expect(try export(target.store) == first)
        let again = try await target.store.append(decoded.map { AppendEvent($0.event) })
        #expect(again.allSatisfy { if case .duplicate = $0 { true } else { false } })
        #expect(target.store.log.endPosition.rawValue == UInt64(first.count))
    }

    @Test("audit of a generated workload is clean and counts every order and event")
    func auditClean() async throws {
        let f = try StoreFixture()
        var options = OrderWorkloadGenerator.Options()
        options.orders = 500
        var events: [AppendEvent] = []
        OrderWorkloadGenerator(options: options).generate { events.append(AppendEvent($0)) }
        for chunk in stride(from: 0, to: events.count, by: 1000) {
            _ = try await f.store.append(Array(events[chunk..<min(events.count, chunk + 1000)]))
        }
        let report = f.store.audit()
        #expect(report.isClean, "\(report.violations.prefix(3))")
        #expect(report.events == events.count)
        #expect(report.orders == 500)
        #expect(report.byStatus.values.reduce(0, +) == 500)
    }

    @Test("audit reports a stored event that breaks a rule, with its position")
    func auditFindsViolations() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"))])
        // Written around the store's checks, as a buggy writer or a rule change would leave it.
        let bad = event("O1", .paymentCaptured(paymentID: "P9", amountMinor: 100))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O1"), type: RecordType(bad.type.code), payload: bad.encodeBinary()))
        let report = f.store.audit()
        #expect(report.violations.count == 1)
        #expect(report.violations.first?.position == 1)
        #expect(report.violations.first?.code == "unknown_payment")
    }

    @Test("a stored event that breaks a rule is reported once, not again for every later event of its order")
    func auditReportsOneViolationPerBadEvent() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"))])
        let bad = event("O1", .paymentCaptured(paymentID: "P9", amountMinor: 100))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O1"), type: RecordType(bad.type.code), payload: bad.encodeBinary()))
        let note = event("O1", .noteAdded(text: "later"))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O1"), type: RecordType(note.type.code), payload: note.encodeBinary()))
        let report = f.store.audit()
        #expect(report.violations.map(\.code) == ["unknown_payment"])
    }

    @Test("a first record that does not read is reported, and the orders after it are audited, listed and totalled as before; an order with no readable event is in no list")
    func unreadableFirstRecord() async throws {
        let f = try StoreFixture()
        // O0's only record has a type code the catalog does not have; O1 and O2 come after it.
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O0"), type: RecordType(999), payload: [1, 0]))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O1"), type: RecordType(EventType.orderPlaced.code), payload: placed("O1").encodeBinary()))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O2"), type: RecordType(EventType.orderPlaced.code), payload: placed("O2").encodeBinary()))
        let report = f.store.audit()
        #expect(report.violations.map(\.code) == ["corrupt_payload"])
        #expect(report.orders == 2)
        try f.reopen()
        #expect(f.store.orderCount == 2)
        #expect(f.store.orders(withStatus: .placed) == [oid("O1"), oid("O2")])
        #expect(f.store.orders(ofCustomer: "") == [])
        // Totals as of a position replay the log: a record that does not read is an error there.
        #expect(throws: StoreError.self) { try f.store.totals(before: 2) }
    }

    @Test("events in binary form are stored canonical: bytes as received when canonical, encoded again when a varint is longer than it needs")
    func binaryRecordsStoredCanonical() async throws {
        let f = try StoreFixture()
        let order = placed("B1", ts: 1_767_225_600_000_000)
        let canonical = order.encodeBinary()
        // The same event with its ts written as a longer varint (an extra 0x80 0x00).
        var longer = canonical
        var k = 2
        while longer[k] >= 0x80 { k += 1 }
        longer[k] |= 0x80
        longer.insert(0, at: k + 1)
        #expect(longer != canonical)
        let note = event("B1", .noteAdded(text: "binary"))
        let checked = try f.store.check([
            AppendRecord(orderID: oid("B1"), type: .orderPlaced, payload: longer),
            AppendRecord(orderID: oid("B1"), type: .noteAdded, payload: note.encodeBinary()),
        ])
        _ = try await f.store.waitUntilDurable(f.store.write(checked))
        let stored = try f.store.storedRecords(of: oid("B1"))
        #expect(stored.first?.payload == canonical)
        // A note without ts is given its recorded time, in the bytes too.
        let history = try f.store.history(oid("B1"))
        #expect(history.last?.event.ts != nil)
        var expected = note
        expected.ts = history.last!.event.ts
        #expect(stored.last?.payload == expected.encodeBinary())
        // A payload that does not read is refused naming its index and the order.
        do {
            _ = try f.store.check([AppendRecord(orderID: oid("B2"), type: .noteAdded, payload: [1, 0xFF])])
            Issue.record("accepted")
        } catch let error as StoreError {
            #expect(error.eventIndex == 0 && error.orderError?.code == .corruptPayload && error.orderError?.orderID == "B2")
        }
    }

    @Test("an unreadable record of an order is counted by its later sequences: no false sequence gap after it")
    func noFalseGapAfterUnreadableRecord() async throws {
        let f = try StoreFixture()
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O5"), type: RecordType(999), payload: [1, 0]))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O5"), type: RecordType(EventType.orderPlaced.code), payload: placed("O5").encodeBinary()))
        #expect(f.store.audit().violations.map(\.code) == ["corrupt_payload"])
    }

    @Test("an event with both a bad recorded_at and a ts out of range is refused for its recorded_at first, as before")
    func recordedAtCheckedBeforeTs() async throws {
        let f = try StoreFixture()
        var e = placed("T1")
        e.ts = EventTime(microseconds: EventTime.microsecondsMax, offsetMinutes: 60)  // prints as year 10000: out of range
        do {
            _ = try await f.store.append([AppendEvent(e, recordedAt: .max)])
            Issue.record("accepted")
        } catch let error as StoreError {
            #expect(error.orderError?.field == "recorded_at")
        }
        do {
            _ = try await f.store.append([AppendEvent(e)])
            Issue.record("accepted")
        } catch let error as StoreError {
            #expect(error.orderError?.code == .invalidTimestamp && error.orderError?.field == "ts")
            #expect(error.orderError?.orderID == "T1")
        }
    }

    @Test("skus and ids are compared as Swift compares Strings: canonically equivalent spellings are one")
    func canonicalEquivalence() async throws {
        let f = try StoreFixture()
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let twice = OrderEvent(orderID: oid("U1"), data: .orderPlaced(customerID: "c", channel: "web", currency: "EUR",
            lines: [PlacedLine(sku: composed, qty: 1, unitPriceMinor: 100), PlacedLine(sku: decomposed, qty: 1, unitPriceMinor: 100)],
            shippingMinor: nil, taxMinor: nil, discountMinor: nil))
        do {
            _ = try await f.store.append([AppendEvent(twice)])
            Issue.record("two spellings of one sku were accepted as two lines")
        } catch let error as StoreError { #expect(error.orderError?.code == .duplicateSku) }
        _ = try await f.store.append([AppendEvent(OrderEvent(orderID: oid("U1"), data: .orderPlaced(customerID: "c", channel: "web", currency: "EUR",
            lines: [PlacedLine(sku: composed, qty: 2, unitPriceMinor: 100)], shippingMinor: nil, taxMinor: nil, discountMinor: nil)))])
        // Requested under the other spelling: the same line.
        _ = try await f.store.append([AppendEvent(event("U1", .fulfillmentRequested(fulfillmentID: "F", location: "W", lines: [SkuQuantity(sku: decomposed, qty: 1)])))])
        _ = try await f.store.append([AppendEvent(event("U1", .fulfillmentPacked(fulfillmentID: "F")))])
        let s = try #require(try f.store.snapshot(oid("U1")))
        #expect(s.lines.count == 1 && s.lines[0].requested == 1 && s.lines[0].packed == 1)
    }

    @Test("a recorded_at from the future is refused: it would hold every later record there")
    func futureRecordedAtRefused() async throws {
        let f = try StoreFixture()
        let future = Int64(Date().timeIntervalSince1970 * 1_000_000) + 3_600_000_000
        do {
            _ = try await f.store.append([AppendEvent(placed("O1"), recordedAt: future)])
            Issue.record("a future recorded_at was accepted")
        } catch let error as StoreError {
            #expect(error.orderError?.field == "recorded_at")
        }
        #expect(f.store.log.endPosition == LogPosition(0))
    }

    @Test("a restore's recorded_at may be at most 1 s ahead of the clock, and as of now everything stored counts")
    func restoredTimesAheadOfTheClock() async throws {
        let strict = try StoreFixture()
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        // 59 s ahead (allowed before issue 10): refused, naming the skew (default 1 s).
        do {
            _ = try await strict.store.append([AppendEvent(placed("O1"), recordedAt: now + 59_000_000)])
            Issue.record("a recorded_at 59 s ahead was accepted")
        } catch let error as StoreError {
            #expect(error.orderError?.code == .invalidField)
            #expect(error.message.contains("1000 ms"))
        }
        // With a 10 s skew (so the test does not race the clock): 6 s ahead is kept, and a
        // later order's recorded time is raised to it.
        let f = try StoreFixture { $0.recordedAtSkewMax = 10_000_000 }
        let ahead = Int64(Date().timeIntervalSince1970 * 1_000_000) + 6_000_000
        _ = try await f.store.append([AppendEvent(placed("O1"), recordedAt: ahead)])
        _ = try await f.store.append([AppendEvent(placed("O2"))])
        let t = Int64(Date().timeIntervalSince1970 * 1_000_000)
        #expect(try f.store.history(oid("O2"))[0].recordedAt == ahead)  // raised, ahead of the clock
        #expect(try f.store.snapshot(oid("O2"), asOfTime: t) != nil)  // as of now: found
        #expect(try f.store.totals(asOf: t).first?.orders == 2)
        // Well before the restore's time (more than the skew): exact, nothing yet.
        #expect(try f.store.snapshot(oid("O2"), asOfTime: ahead - 20_000_000) == nil)
    }

    @Test("appends after the log was written around the store are refused until it is reopened")
    func foreignWriteFailsTheStore() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"))])
        let note = event("O1", .noteAdded(text: "around"))
        _ = try await f.store.log.append(AppendRequest(key: try LogKey("O1"), type: RecordType(note.type.code), payload: note.encodeBinary()))
        await #expect(throws: StoreError.self) { try await f.store.append([AppendEvent(placed("O2"))]) }
        await #expect(throws: StoreError.self) { try await f.store.append([AppendEvent(placed("O3"))]) }
        try f.reopen()
        _ = try await f.store.append([AppendEvent(placed("O2"))])
        #expect(try f.store.snapshot(oid("O1"))?.version == 2)
    }

    @Test("totals per currency and channel as of a time count only what was recorded by then")
    func totalsAsOf() async throws {
        let f = try StoreFixture()
        _ = try await f.store.append([AppendEvent(placed("O1"))])
        let t = try f.store.history(oid("O1"))[0].recordedAt
        try await Task.sleep(for: .milliseconds(2))
        _ = try await f.store.append([AppendEvent(placed("O2"))])
        let now = try f.store.totals()
        #expect(now == [TotalsRow(currency: "USD", channel: "web", orders: 2, total: 5200, captured: 0, refunded: 0)])
        let then = try f.store.totals(asOf: t)
        #expect(then.first?.orders == 1)
    }
}
