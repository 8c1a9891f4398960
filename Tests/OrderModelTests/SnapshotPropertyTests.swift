@testable import OrderModel
import Testing

/// The seeds every property test runs over.
let propertySeeds: [UInt64] = Array(1...300)

extension OrderSnapshot {
    /// The snapshot read through its public API into the shape the reference model is compared on.
    var observation: OrderObservation {
        var counters: [String: RefCounters] = [:], prices: [String: Int64] = [:]
        for l in lines {
            counters[l.sku] = RefCounters(ordered: l.ordered, cancelled: l.cancelled, requested: l.requested, packed: l.packed,
                                          shipped: l.shipped, delivered: l.delivered, returnRequested: l.returnRequested, returned: l.returned)
            prices[l.sku] = l.unitPriceMinor
        }
        var payments: [String: RefPaymentFigures] = [:]
        for p in self.payments {
            let figures = RefPaymentFigures(authorized: p.authorized, captured: p.captured, voided: p.voided, refunded: p.refunded)
            if figures != RefPaymentFigures() { payments[p.id] = figures }
        }
        var fulfillments: [String: RefFulfillmentFigures] = [:]
        for f in self.fulfillments {
            fulfillments[f.id] = RefFulfillmentFigures(location: f.location, lines: f.lines, state: f.state.rawValue, carrier: f.carrier, trackingNo: f.trackingNo,
                                                       cancelled: f.cancelledLines)
        }
        var returns: [String: RefReturnFigures] = [:]
        for r in self.returns { returns[r.id] = RefReturnFigures(lines: r.lines, reason: r.reason, received: r.received) }
        var refunds: [String: RefRefundFigures] = [:]
        for r in self.refunds { refunds[r.id] = RefRefundFigures(amount: r.amountMinor, paymentID: r.paymentID, returnID: r.returnID) }
        return OrderObservation(
            version: Int(version), lastPosition: lastPosition, currency: currency, customerID: customerID, channel: channel,
            unitPrices: prices, counters: counters,
            money: RefMoney(total: totalMinor, authorized: authorizedMinor, captured: capturedMinor, voided: voidedMinor, refunded: refundedMinor),
            status: status.rawValue, paymentStatus: paymentStatus.rawValue, returnStatus: returnStatus.rawValue,
            cancelled: isCancelled, notes: notes, payments: payments, fulfillments: fulfillments, returns: returns, refunds: refunds,
            eventIDs: Dictionary(eventIDs.map { ($0.id, $0.position) }, uniquingKeysWith: { first, _ in first }),
            placedAt: placedAt, paidAt: paidAt, shippedAt: shippedAt, deliveredAt: deliveredAt)
    }
}

@Suite("Snapshot properties: valid lifecycles, rule breaks, idempotency")
struct SnapshotPropertyTests {
    // MARK: (a) valid lifecycles

    @Test("a random valid lifecycle is accepted event by event and its snapshot equals the reference model after every event", arguments: propertySeeds)
    func validLifecycleMatchesReferenceModel(seed: UInt64) {
        var generator = LifecycleGenerator(seed: seed)
        var snapshot = OrderSnapshot(orderID: generator.orderID)
        while !generator.isFinished {
            let g = generator.next()
            do {
                #expect(try snapshot.admit(g.event, expected: .any) == .accept)
                try snapshot.apply(g.event, position: g.position, time: g.time)
            } catch {
                Issue.record("seed \(seed), event #\(g.seq) refused (\(error)): \(g.event.jsonLine())")
                return
            }
            let expected = generator.model.observation, actual = snapshot.observation
            if actual != expected {
                let diff: String = actual.differences(from: expected).joined(separator: "\n  ")
                Issue.record("seed \(seed), after event #\(g.seq) \(g.event.jsonLine()):\n  snapshot ≠ model\n  \(diff)")
                return
            }
        }
    }

    @Test("the same seed always generates the same lifecycle, and different seeds differ")
    func generatorIsDeterministic() {
        let a = LifecycleGenerator.lifecycle(seed: 42).map { $0.event.jsonLine() }
        let b = LifecycleGenerator.lifecycle(seed: 42).map { $0.event.jsonLine() }
        let c = LifecycleGenerator.lifecycle(seed: 43).map { $0.event.jsonLine() }
        #expect(a == b)
        #expect(a != c)
    }

    @Test("the generated lifecycles reach every event type, every status, every payment and return status, and the tricky paths (split fulfillments, skipped packing, partial receipts, events after cancellation)")
    func generatorCoversTheLifecycle() {
        var types = Set<EventType>(), statuses = Set<String>(), paymentStatuses = Set<String>(), returnStatuses = Set<String>()
        var partialReceipts = 0, skippedPacking = 0, refundsWithPayment = 0, refundsWithReturn = 0, bareRefunds = 0
        var afterCancel = Set<EventType>(), splitSkus = 0, cancelledWithOpenFulfillments = 0, zeroTotals = 0
        for seed in propertySeeds {
            var g = LifecycleGenerator(seed: seed)
            while !g.isFinished {
                let before = g.model
                let e = g.next().event
                types.insert(e.type)
                if before.cancelled { afterCancel.insert(e.type) }
                if e.type == .orderCancelled && before.fulfillments.values.contains(where: { $0.state == "requested" || $0.state == "packed" }) {
                    cancelledWithOpenFulfillments += 1
                }
                if e.type == .priceAdjusted && g.model.total == 0 { zeroTotals += 1 }
                statuses.insert(g.model.status); paymentStatuses.insert(g.model.paymentStatus); returnStatuses.insert(g.model.returnStatus)
                switch e.data {
                case .returnReceived(let id, let lines?)
                    where lines.reduce(0, { $0 + $1.qty }) < before.returns[id]!.lines.reduce(0, { $0 + $1.qty }): partialReceipts += 1
                case .shipped(let id, _, _) where before.fulfillments[id]?.state == "requested": skippedPacking += 1
                case .refundIssued(_, _, let p, let r):
                    if p != nil { refundsWithPayment += 1 }
                    if r != nil { refundsWithReturn += 1 }
                    if p == nil && r == nil { bareRefunds += 1 }
                default: break
                }
            }
            let skusPerFulfillment = g.model.fulfillments.values.flatMap { $0.lines.map(\.sku) }
            if Set(skusPerFulfillment).count < skusPerFulfillment.count { splitSkus += 1 }
        }
        #expect(afterCancel == [.paymentVoided, .refundIssued, .noteAdded])
        #expect(splitSkus > 0 && cancelledWithOpenFulfillments > 0 && zeroTotals > 0)
        #expect(types == Set(EventType.allCases))
        #expect(statuses == Set(OrderSnapshot.Status.allCases.map(\.rawValue)))
        #expect(paymentStatuses == Set(OrderSnapshot.PaymentStatus.allCases.map(\.rawValue)))
        #expect(returnStatuses == ["none", "requested", "received"])
        #expect(partialReceipts > 0 && skippedPacking > 0 && refundsWithPayment > 0 && refundsWithReturn > 0 && bareRefunds > 0)
    }

    // MARK: (b) rule-breaking events

    @Test("every rule-breaking event is rejected with its rule's code, names the order, and leaves the snapshot exactly unchanged", arguments: propertySeeds)
    func ruleBreakingEventsAreRejected(seed: UInt64) {
        var generator = LifecycleGenerator(seed: seed)
        var snapshot = OrderSnapshot(orderID: generator.orderID)
        var rng = SplitMix64(seed: seed ^ 0xB4EA_C0DE)
        var position: UInt64 = 1 << 40
        while true {
            for breaker in RuleBreakers.all(for: generator.model, orderID: generator.orderID, rng: &rng) {
                let what = "seed \(seed), version \(snapshot.version), \(breaker.kind): \(breaker.event.jsonLine())"
                // The test's own premise: the reference model agrees this event breaks exactly that rule.
                if generator.model.violation(breaker.event) != breaker.expected {
                    Issue.record("test bug: the reference model says \(String(describing: generator.model.violation(breaker.event))) for \(what)")
                }
                var copy = snapshot
                position += 1
                do {
                    try copy.apply(breaker.event, position: position, time: 0)
                    Issue.record("accepted a rule-breaking event, expected \(breaker.expected.rawValue): \(what)")
                } catch {
                    if error.code != breaker.expected { Issue.record("expected \(breaker.expected.rawValue), got \(error): \(what)") }
                    if error.orderID != generator.orderID.value { Issue.record("error does not name the order: \(error)") }
                    if !error.message.contains(breaker.event.type.rawValue) || !error.message.contains(generator.orderID.value) {
                        Issue.record("message does not name the event type and the order: \(error.message)")
                    }
                }
                if copy != snapshot || copy.observation != snapshot.observation {
                    let diff: String = copy.observation.differences(from: snapshot.observation).joined(separator: "\n  ")
                    Issue.record("a rejected event changed the snapshot: \(what)\n  \(diff)")
                }
            }
            if generator.isFinished { break }
            let g = generator.next()
            do { try snapshot.apply(g.event, position: g.position, time: g.time) } catch {
                Issue.record("seed \(seed): valid event refused (\(error)): \(g.event.jsonLine())")
                return
            }
        }
    }

    @Test("over the seeds, the rule breakers exercise every kind of violation")
    func ruleBreakersCoverEveryKind() {
        var seen = Set<BreakKind>()
        for seed in propertySeeds {
            var generator = LifecycleGenerator(seed: seed)
            var rng = SplitMix64(seed: seed ^ 0xB4EA_C0DE)
            while true {
                for b in RuleBreakers.all(for: generator.model, orderID: generator.orderID, rng: &rng) { seen.insert(b.kind) }
                if generator.isFinished { break }
                _ = generator.next()
            }
        }
        #expect(Set(BreakKind.allCases).subtracting(seen).isEmpty, "never exercised: \(Set(BreakKind.allCases).subtracting(seen))")
    }

    @Test("the messages of rejected events state the numbers involved")
    func rejectionMessagesStateTheNumbers() throws {
        let id = try OrderID("ORD-msg")
        var s = OrderSnapshot(orderID: id)
        try s.apply(OrderEvent(orderID: id, data: .orderPlaced(customerID: "c", channel: "web", currency: "USD",
                                                               lines: [PlacedLine(sku: "A", qty: 3, unitPriceMinor: 1000)],
                                                               shippingMinor: nil, taxMinor: nil, discountMinor: nil)), position: 1, time: 0)
        try s.apply(OrderEvent(orderID: id, data: .paymentAuthorized(paymentID: "p1", amountMinor: 3000)), position: 2, time: 0)
        try s.apply(OrderEvent(orderID: id, data: .paymentCaptured(paymentID: "p1", amountMinor: 1200)), position: 3, time: 0)
        let overCapture = OrderEvent(orderID: id, data: .paymentCaptured(paymentID: "p1", amountMinor: 2000))
        let e1 = #expect(throws: OrderError.self) { try s.apply(overCapture, position: 4, time: 0) }
        #expect(e1?.code == .overCapture)
        #expect(["2000", "3200", "3000"].allSatisfy { e1?.message.contains($0) == true }, "\(String(describing: e1))")
        let overFulfil = OrderEvent(orderID: id, data: .fulfillmentRequested(fulfillmentID: "f1", location: "DC", lines: [SkuQuantity(sku: "A", qty: 4)]))
        let e2 = #expect(throws: OrderError.self) { try s.apply(overFulfil, position: 4, time: 0) }
        #expect(e2?.code == .overFulfillment)
        #expect(e2?.message.contains("4") == true && e2?.message.contains("3") == true)
    }

    // MARK: Statuses, by example (issue 3 §3)

    @Test("a free order (total 0 after a 100% discount) is paid from its placement, with a paid milestone, and can be fulfilled")
    func freeOrderIsPaid() throws {
        let id = try OrderID("ORD-free")
        var s = OrderSnapshot(orderID: id)
        try s.apply(OrderEvent(orderID: id, data: .orderPlaced(customerID: "c", channel: "web", currency: "EUR",
                                                               lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 2500)],
                                                               shippingMinor: nil, taxMinor: nil, discountMinor: 2500)), position: 1, time: 77)
        #expect(s.totalMinor == 0)
        #expect(s.paymentStatus == .paid)
        #expect(s.status == .paid)
        #expect(s.paidAt == 77)
        try s.apply(OrderEvent(orderID: id, data: .fulfillmentRequested(fulfillmentID: "F", location: "W", lines: [SkuQuantity(sku: "A", qty: 1)])), position: 2, time: 78)
        #expect(s.status == .fulfilling)
    }

    @Test("cancelling an item cancels its share of the order-level discount, rounded down, and is never refused for it (24,164 + 1,524 with 2,995 off)")
    func discountFollowsItems() throws {
        let id = try OrderID("ORD-discount")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try s.apply(ev(.orderPlaced(customerID: "c", channel: "web", currency: "EUR",
                                    lines: [PlacedLine(sku: "BIG", qty: 1, unitPriceMinor: 24_164), PlacedLine(sku: "CHEAP", qty: 1, unitPriceMinor: 1_524)],
                                    shippingMinor: nil, taxMinor: nil, discountMinor: 2_995)), position: 1, time: 0)
        #expect(s.totalMinor == 22_693)
        try s.apply(ev(.paymentAuthorized(paymentID: "p", amountMinor: 22_693)), position: 2, time: 0)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 22_693)), position: 3, time: 0)
        try s.apply(ev(.fulfillmentRequested(fulfillmentID: "F", location: "W", lines: [SkuQuantity(sku: "CHEAP", qty: 1)])), position: 4, time: 0)
        try s.apply(ev(.shipped(fulfillmentID: "F", carrier: "UPS", trackingNo: "1Z")), position: 5, time: 0)
        // Out of stock: the big line is cancelled. Its share of the discount goes with it:
        // ⌊2,995 × 1,524 ÷ 25,688⌋ = 177 stays applied; the total is 1,524 − 177 = 1,347.
        try s.apply(ev(.itemsCancelled(lines: [SkuQuantity(sku: "BIG", qty: 1)], reason: "out of stock")), position: 6, time: 0)
        #expect(s.discountAppliedMinor == 177)
        #expect(s.totalMinor == 1_347)
        #expect(s.status == .shipped)
        // Rounding is down, and the share never exceeds the discount, at the largest amounts too.
        #expect(OrderSnapshot.discountShare(1 << 53, active: (1 << 53) - 1, placed: 1 << 53) == (1 << 53) - 1)
        #expect(OrderSnapshot.discountShare(10, active: 1, placed: 3) == 3)
        #expect(OrderSnapshot.discountShare(10, active: 3, placed: 3) == 10)
        #expect(OrderSnapshot.discountShare(10, active: 0, placed: 3) == 0)
        #expect(OrderSnapshot.discountShare(10, active: 0, placed: 0) == 10)
    }

    @Test("an order whose every unit is cancelled by ItemsCancelled has status cancelled but keeps shipping and tax in its total (the discount went with the items), and still accepts events")
    func itemsCancelledEveryUnit() throws {
        let id = try OrderID("ORD-all-items")
        var s = OrderSnapshot(orderID: id)
        try s.apply(OrderEvent(orderID: id, data: .orderPlaced(customerID: "c", channel: "web", currency: "EUR",
                                                               lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 500)],
                                                               shippingMinor: 300, taxMinor: 100, discountMinor: 50)), position: 1, time: 0)
        try s.apply(OrderEvent(orderID: id, data: .itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 2)], reason: "oos")), position: 2, time: 0)
        #expect(s.status == .cancelled)
        #expect(s.totalMinor == 400)
        #expect(s.discountAppliedMinor == 0)
        #expect(!s.isCancelled)
        try s.apply(OrderEvent(orderID: id, data: .paymentAuthorized(paymentID: "p", amountMinor: 400)), position: 3, time: 0)
        #expect(s.paymentStatus == .authorized)
    }

    @Test("OrderCancelled cancels every unit and open fulfillment, makes the total 0, and then only voids, refunds and notes are accepted")
    func orderCancelledEffects() throws {
        let id = try OrderID("ORD-cancel")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try s.apply(ev(.orderPlaced(customerID: "c", channel: "web", currency: "USD",
                                    lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 500), PlacedLine(sku: "B", qty: 1, unitPriceMinor: 700)],
                                    shippingMinor: 300, taxMinor: nil, discountMinor: nil)), position: 1, time: 0)
        try s.apply(ev(.paymentAuthorized(paymentID: "p", amountMinor: 2000)), position: 2, time: 0)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 1000)), position: 3, time: 0)
        try s.apply(ev(.fulfillmentRequested(fulfillmentID: "f", location: "DC", lines: [SkuQuantity(sku: "A", qty: 1)])), position: 4, time: 0)
        try s.apply(ev(.fulfillmentPacked(fulfillmentID: "f")), position: 5, time: 0)
        try s.apply(ev(.orderCancelled(reason: "changed mind")), position: 6, time: 0)
        #expect(s.status == .cancelled)
        #expect(s.totalMinor == 0)
        #expect(s.lines.allSatisfy { $0.cancelled == $0.ordered })
        #expect(s.fulfillments.first?.state == .cancelled)
        #expect(s.paymentStatus == .overpaid)  // captured 1000 > total 0: a refund is due
        try s.apply(ev(.paymentVoided(paymentID: "p", amountMinor: 1000)), position: 7, time: 0)
        try s.apply(ev(.refundIssued(refundID: "r", amountMinor: 1000, paymentID: "p", returnID: nil)), position: 8, time: 0)
        try s.apply(ev(.noteAdded(text: "done")), position: 9, time: 0)
        #expect(s.paymentStatus == .refunded)
        for refused in [EventData.paymentAuthorized(paymentID: "p2", amountMinor: 1), .paymentFailed(paymentID: "p", reason: "x"),
                        .priceAdjusted(sku: "A", amountMinor: 5, reason: "x"), .orderCancelled(reason: "again")] {
            let before = s
            #expect(throws: OrderError.self) { try s.apply(ev(refused), position: 10, time: 0) }
            #expect(s == before)
        }
    }

    // MARK: Milestones

    private static func placeTwoUnits(_ id: OrderID, _ s: inout OrderSnapshot) throws(OrderError) {
        try s.apply(OrderEvent(orderID: id, data: .orderPlaced(customerID: "c", channel: "web", currency: "USD",
                                                               lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 500)],
                                                               shippingMinor: nil, taxMinor: nil, discountMinor: nil)), position: 1, time: 1_000)
    }

    @Test("the placed, paid, shipped and delivered milestones are the times of the events that reached them")
    func milestonesFollowTheEvents() throws {
        let id = try OrderID("ORD-milestones")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try Self.placeTwoUnits(id, &s)
        try s.apply(ev(.paymentAuthorized(paymentID: "p", amountMinor: 1000)), position: 2, time: 2_000)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 400)), position: 3, time: 3_000)
        #expect(s.paidAt == nil)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 600)), position: 4, time: 4_000)
        try s.apply(ev(.fulfillmentRequested(fulfillmentID: "f1", location: "DC", lines: [SkuQuantity(sku: "A", qty: 1)])), position: 5, time: 5_000)
        try s.apply(ev(.fulfillmentRequested(fulfillmentID: "f2", location: "DC", lines: [SkuQuantity(sku: "A", qty: 1)])), position: 6, time: 6_000)
        try s.apply(ev(.shipped(fulfillmentID: "f1", carrier: "UPS", trackingNo: "1")), position: 7, time: 7_000)
        try s.apply(ev(.shipped(fulfillmentID: "f2", carrier: "UPS", trackingNo: "2")), position: 8, time: 8_000)
        try s.apply(ev(.delivered(fulfillmentID: "f1")), position: 9, time: 9_000)
        #expect(s.deliveredAt == nil)
        try s.apply(ev(.delivered(fulfillmentID: "f2")), position: 10, time: 10_000)
        #expect(s.placedAt == 1_000 && s.paidAt == 4_000 && s.shippedAt == 7_000 && s.deliveredAt == 10_000)
        #expect(s.status == .delivered && s.paymentStatus == .paid)
    }

    @Test("an order made paid by ItemsCancelled gets its paid milestone at that event, and keeps it")
    func paidByCancellationHasPaidMilestone() throws {
        let id = try OrderID("ORD-paid-by-cancel")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try Self.placeTwoUnits(id, &s)
        try s.apply(ev(.paymentAuthorized(paymentID: "p", amountMinor: 1000)), position: 2, time: 2_000)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 500)), position: 3, time: 3_000)
        #expect(s.paymentStatus == .partiallyPaid)
        try s.apply(ev(.itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 1)], reason: "oos")), position: 4, time: 4_000)
        #expect(s.paymentStatus == .paid && s.status == .paid)
        #expect(s.paidAt == 4_000)
        try s.apply(ev(.paymentCaptured(paymentID: "p", amountMinor: 0)), position: 5, time: 5_000)
        #expect(s.paidAt == 4_000)
    }

    @Test("an order made delivered by ItemsCancelled of its undelivered rest gets its delivered milestone then")
    func deliveredByCancellationHasDeliveredMilestone() throws {
        let id = try OrderID("ORD-delivered-by-cancel")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try Self.placeTwoUnits(id, &s)
        try s.apply(ev(.fulfillmentRequested(fulfillmentID: "f1", location: "DC", lines: [SkuQuantity(sku: "A", qty: 1)])), position: 2, time: 2_000)
        try s.apply(ev(.shipped(fulfillmentID: "f1", carrier: "UPS", trackingNo: "1")), position: 3, time: 3_000)
        try s.apply(ev(.delivered(fulfillmentID: "f1")), position: 4, time: 4_000)
        #expect(s.status == .partiallyDelivered)
        try s.apply(ev(.itemsCancelled(lines: [SkuQuantity(sku: "A", qty: 1)], reason: "oos")), position: 5, time: 5_000)
        #expect(s.status == .delivered)
        #expect(s.deliveredAt == 5_000)
    }

    // MARK: (c) idempotency and expected versions

    @Test("an event whose event_id was applied before is admitted as a duplicate with its original position, whatever its payload and expected version", arguments: propertySeeds)
    func duplicateEventIDsReportTheOriginalPosition(seed: UInt64) throws {
        var generator = LifecycleGenerator(seed: seed)
        var snapshot = OrderSnapshot(orderID: generator.orderID)
        var seen: [(OrderEvent, UInt64)] = []
        var rng = SplitMix64(seed: seed &+ 99)
        while !generator.isFinished {
            let g = generator.next()
            // Before applying: every event_id already stored is a duplicate, at its original position.
            for (old, position) in seen where rng.chance(30) || old.eventID == g.event.eventID {
                let id = old.eventID!
                var otherPayload = g.event
                otherPayload.eventID = id
                for expected in [ExpectedVersion.any, .none, .exactly(Int(snapshot.version)), .exactly(0), .exactly(9_999)] {
                    #expect(try snapshot.admit(old, expected: expected) == .duplicate(position: position), "seed \(seed) \(id) \(expected)")
                    #expect(try snapshot.admit(otherPayload, expected: expected) == .duplicate(position: position), "seed \(seed) \(id) \(expected)")
                }
            }
            #expect(try snapshot.admit(g.event, expected: .exactly(Int(snapshot.version))) == .accept)
            try snapshot.apply(g.event, position: g.position, time: g.time)
            if g.event.eventID != nil { seen.append((g.event, g.position)) }
        }
        // The same event_ids on another order are new there: they are scoped per order.
        let other = try OrderID("OTHER-\(seed)")
        var fresh = OrderSnapshot(orderID: other)
        for (old, _) in seen {
            var e = old
            e.orderID = other
            #expect(try fresh.admit(e, expected: .any) == .accept)
        }
        if let (first, _) = seen.first(where: { $0.0.type == .orderPlaced }) {
            var e = first
            e.orderID = other
            try fresh.apply(e, position: 1, time: 0)
            #expect(fresh.position(ofEventID: first.eventID!) == 1)
        }
    }

    @Test("expected_version none and exactly(N) conflict unless they match the order's version, and the conflict states the actual version", arguments: propertySeeds)
    func expectedVersionConflicts(seed: UInt64) throws {
        var generator = LifecycleGenerator(seed: seed)
        var snapshot = OrderSnapshot(orderID: generator.orderID)
        while !generator.isFinished {
            var g = generator.next()
            g.event.eventID = nil  // idempotency would answer first
            let v = Int(snapshot.version)
            #expect(try snapshot.admit(g.event, expected: .any) == .accept)
            #expect(try snapshot.admit(g.event, expected: .exactly(v)) == .accept)
            var conflicts: [ExpectedVersion] = [.exactly(v + 1), .exactly(v + 17)]
            if v > 0 { conflicts += [.none, .exactly(v - 1), .exactly(0)] } else {
                #expect(try snapshot.admit(g.event, expected: .none) == .accept)
            }
            for expected in conflicts {
                let error = #expect(throws: OrderError.self, "seed \(seed) version \(v) expected \(expected)") {
                    try snapshot.admit(g.event, expected: expected)
                }
                #expect(error?.code == .versionConflict)
                #expect(error?.message.contains("\(v)") == true, "\(String(describing: error))")
                #expect(error?.orderID == generator.orderID.value)
            }
            try snapshot.apply(g.event, position: g.position, time: g.time)
        }
    }

    @Test("a rejected event leaves no trace: its event_id is not remembered, so a corrected retry with the same event_id is accepted")
    func rejectedEventIDIsNotRemembered() throws {
        let id = try OrderID("ORD-retry")
        var s = OrderSnapshot(orderID: id)
        try s.apply(OrderEvent(orderID: id, data: .orderPlaced(customerID: "c", channel: "web", currency: "USD",
                                                               lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 100)],
                                                               shippingMinor: nil, taxMinor: nil, discountMinor: nil)), position: 1, time: 0)
        let bad = OrderEvent(orderID: id, eventID: "evt-9", data: .paymentCaptured(paymentID: "p", amountMinor: 50))
        #expect(throws: OrderError.self) { try s.apply(bad, position: 2, time: 0) }
        let good = OrderEvent(orderID: id, eventID: "evt-9", data: .paymentAuthorized(paymentID: "p", amountMinor: 50))
        #expect(try s.admit(good, expected: .exactly(1)) == .accept)
        try s.apply(good, position: 3, time: 0)
        #expect(try s.admit(bad, expected: .any) == .duplicate(position: 3))
    }
}
