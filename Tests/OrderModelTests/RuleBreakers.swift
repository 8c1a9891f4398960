import OrderModel

/// The kinds of rule-breaking event the property tests throw at an order. Each one breaks a
/// single rule of issue 3 §2 (so the expected code is unambiguous) and is built from the
/// reference model's state, usually as a mutation of an event that would be valid.
enum BreakKind: String, CaseIterable, Sendable {
    case firstEventNotPlaced, secondOrderPlaced
    case placedDuplicateSku, placedZeroQuantity, placedNegativePrice, placedNegativeShippingTaxOrDiscount, placedBadCurrency
    case negativeAuthorization, negativeCapture, negativeVoid, negativeRefund
    case overCapture, captureOnUnknownPayment, voidOnUnknownPayment, refundOnUnknownPayment, overVoid, overRefund, overRefundOnPayment, refundForUnknownReturn
    case unknownFulfillmentCancelled, cancelShippedFulfillment, fulfillmentCancelOverHeld
    case fulfillmentOverOpenQuantity, cancellationOverOpenQuantity
    case unknownSkuInFulfillment, unknownSkuInCancellation, unknownSkuInReturn, unknownSkuInPriceAdjustment
    case duplicateSkuInLines, zeroQuantityLine, negativeQuantityLine
    case unknownFulfillmentPacked, unknownFulfillmentShipped, unknownFulfillmentDelivered
    case packedTwice, shippedTwice, deliveredBeforeShipped, deliveredTwice
    case cancelAfterShipment, eventAfterOrderCancelled
    case overReturn, receiveMoreThanRequested, secondReturnReceived, receiveUnknownReturn
    case duplicatePaymentID, duplicateFulfillmentID, duplicateReturnID, duplicateRefundID
    case priceAdjustmentMakesTotalNegative, adjustmentOfCancelledLine
    case placedTotalOutOfRange, authorizationsOutOfRange, priceAdjustmentTotalOutOfRange
}

struct RuleBreak {
    var kind: BreakKind
    var event: OrderEvent
    var expected: OrderError.Code
}

enum RuleBreakers {
    static let badCurrencies = ["usd", "US", "USDX", "U$D", "ÜSD", "", "eur", "Usd", "12A"]

    /// Every applicable rule break for the order in state `m`, one event per kind.
    static func all(for m: ReferenceOrder, orderID: OrderID, rng: inout SplitMix64) -> [RuleBreak] {
        BreakKind.allCases.compactMap { kind in
            guard let (data, code) = make(kind, m, &rng) else { return nil }
            var e = OrderEvent(orderID: orderID, data: data)
            if rng.chance(30) { e.eventID = "breaker-\(rng.next())" }
            if rng.chance(30) { e.ts = EventTime(microseconds: 1_767_225_600_000_000) }
            return RuleBreak(kind: kind, event: e, expected: code)
        }
    }

    private static func validPlaced(_ rng: inout SplitMix64) -> [PlacedLine] {
        Array(rng.shuffled(Pools.skus).prefix(1 + rng.below(3))).map { PlacedLine(sku: $0, qty: 1 + rng.int(0...3), unitPriceMinor: rng.int(0...5000)) }
    }

    private static func placed(_ lines: [PlacedLine], currency: String = "USD", shipping: Money? = nil, tax: Money? = nil, discount: Money? = nil) -> EventData {
        .orderPlaced(customerID: "c1", channel: "web", currency: currency, lines: lines, shippingMinor: shipping, taxMinor: tax, discountMinor: discount)
    }

    private static func available(_ m: ReferenceOrder, _ id: String) -> Int64 {
        let p = m.payments[id] ?? RefPaymentFigures()
        return p.authorized - p.voided - p.captured
    }

    private static func make(_ kind: BreakKind, _ m: ReferenceOrder, _ rng: inout SplitMix64) -> (EventData, OrderError.Code)? {
        let skus = m.skus
        let anySku = skus.isEmpty ? "SKU-1" : rng.element(skus)
        let unknownSku = "no-such-sku-\(rng.below(100))"
        let open = skus.filter { m.open($0) > 0 }
        let authorized = m.authorizedIDs.sorted()
        let fulfillments = m.fulfillmentOrder
        func inState(_ states: Set<String>) -> [String] { fulfillments.filter { states.contains(m.fulfillments[$0]!.state) } }
        let amount = rng.int(1...10_000)

        switch kind {
        // Rule 3: shape of the first event
        case .firstEventNotPlaced:
            guard !m.placed else { return nil }
            let candidates: [EventData] = [
                .paymentAuthorized(paymentID: "p1", amountMinor: 100), .noteAdded(text: "hello"),
                .orderCancelled(reason: "none"), .fulfillmentRequested(fulfillmentID: "f1", location: "DC", lines: [SkuQuantity(sku: "SKU-1", qty: 1)]),
                .refundIssued(refundID: "r1", amountMinor: 0, paymentID: nil, returnID: nil),
            ]
            return (rng.element(candidates), .firstEventNotPlaced)
        case .secondOrderPlaced:
            guard m.placed else { return nil }
            return (placed(validPlaced(&rng)), .alreadyPlaced)
        case .placedDuplicateSku:
            guard !m.placed else { return nil }
            var lines = validPlaced(&rng)
            lines.append(PlacedLine(sku: lines[0].sku, qty: 1, unitPriceMinor: 10))
            return (placed(rng.shuffled(lines)), .duplicateSku)
        case .placedZeroQuantity:
            guard !m.placed else { return nil }
            var lines = validPlaced(&rng)
            lines[rng.below(lines.count)].qty = rng.chance(50) ? 0 : -rng.int(1...5)
            return (placed(lines), .invalidQuantity)
        case .placedNegativePrice:
            guard !m.placed else { return nil }
            var lines = validPlaced(&rng)
            lines[rng.below(lines.count)].unitPriceMinor = -rng.int(1...500)
            return (placed(lines), .negativeAmount)
        case .placedNegativeShippingTaxOrDiscount:
            guard !m.placed else { return nil }
            let negative = -rng.int(1...500)
            switch rng.below(3) {
            case 0: return (placed(validPlaced(&rng), shipping: negative), .negativeAmount)
            case 1: return (placed(validPlaced(&rng), tax: negative), .negativeAmount)
            default: return (placed(validPlaced(&rng), discount: negative), .negativeAmount)
            }
        case .placedBadCurrency:
            guard !m.placed else { return nil }
            return (placed(validPlaced(&rng), currency: rng.element(badCurrencies)), .invalidCurrency)

        // Rule 3: negative amounts
        case .negativeAuthorization:
            guard m.placed else { return nil }
            return (.paymentAuthorized(paymentID: "neg-\(rng.below(99))", amountMinor: -amount), .negativeAmount)
        case .negativeCapture:
            guard m.placed, !authorized.isEmpty else { return nil }
            return (.paymentCaptured(paymentID: rng.element(authorized), amountMinor: -amount), .negativeAmount)
        case .negativeVoid:
            guard m.placed, !authorized.isEmpty else { return nil }
            return (.paymentVoided(paymentID: rng.element(authorized), amountMinor: -amount), .negativeAmount)
        case .negativeRefund:
            guard m.placed else { return nil }
            return (.refundIssued(refundID: "rf-neg", amountMinor: -amount, paymentID: nil, returnID: nil), .negativeAmount)

        // Rule 4: payments
        case .overCapture:
            guard m.placed, !authorized.isEmpty else { return nil }
            let id = rng.element(authorized)
            return (.paymentCaptured(paymentID: id, amountMinor: available(m, id) + rng.int(1...500)), .overCapture)
        case .captureOnUnknownPayment:
            guard m.placed else { return nil }
            return (.paymentCaptured(paymentID: "pay-unknown", amountMinor: amount), .unknownPayment)
        case .voidOnUnknownPayment:
            guard m.placed else { return nil }
            return (.paymentVoided(paymentID: "pay-unknown", amountMinor: 0), .unknownPayment)
        case .refundOnUnknownPayment:
            guard m.placed else { return nil }
            return (.refundIssued(refundID: "rf-unknown-p", amountMinor: 0, paymentID: "pay-unknown", returnID: nil), .unknownPayment)
        case .unknownFulfillmentCancelled:
            guard m.placed else { return nil }
            return (.fulfillmentCancelled(fulfillmentID: "ful-missing", lines: nil, reason: "x"), .unknownFulfillment)
        case .cancelShippedFulfillment:
            let done = inState(["shipped", "delivered", "cancelled"])
            guard !done.isEmpty else { return nil }
            return (.fulfillmentCancelled(fulfillmentID: rng.element(done), lines: nil, reason: "too late"), .invalidTransition)
        case .fulfillmentCancelOverHeld:
            let open = inState(["requested", "packed"])
            guard !open.isEmpty else { return nil }
            let id = rng.element(open)
            let f = m.fulfillments[id]!
            guard let line = f.held.first else { return nil }
            return (.fulfillmentCancelled(fulfillmentID: id, lines: [SkuQuantity(sku: line.sku, qty: line.qty + 1)], reason: "x"), .overCancellation)
        case .overVoid:
            guard m.placed, !authorized.isEmpty else { return nil }
            let id = rng.element(authorized)
            return (.paymentVoided(paymentID: id, amountMinor: available(m, id) + rng.int(1...500)), .overVoid)
        case .overRefund:
            guard m.placed else { return nil }
            return (.refundIssued(refundID: "rf-over", amountMinor: m.captured - m.refunded + rng.int(1...500), paymentID: nil, returnID: nil), .overRefund)
        case .overRefundOnPayment:
            guard m.placed, !authorized.isEmpty else { return nil }
            let id = rng.element(authorized)
            let p = m.payments[id] ?? RefPaymentFigures()
            return (.refundIssued(refundID: "rf-over-p", amountMinor: p.captured - p.refunded + 1, paymentID: id, returnID: nil), .overRefund)
        case .refundForUnknownReturn:
            guard m.placed else { return nil }
            let fine = min(m.captured - m.refunded, rng.int(0...100))
            return (.refundIssued(refundID: "rf-unknown-ret", amountMinor: fine, paymentID: nil, returnID: "ret-missing"), .unknownReturn)

        // Rule 5: quantities
        case .fulfillmentOverOpenQuantity:
            guard m.placed else { return nil }
            let sku = rng.element(skus)
            var lines = open.filter { $0 != sku }.map { SkuQuantity(sku: $0, qty: 1) }
            lines.insert(SkuQuantity(sku: sku, qty: max(0, m.open(sku)) + rng.int(1...3)), at: rng.below(lines.count + 1))
            return (.fulfillmentRequested(fulfillmentID: "ful-over", location: "DC", lines: lines), .overFulfillment)
        case .cancellationOverOpenQuantity:
            guard m.placed else { return nil }
            let sku = rng.element(skus)
            return (.itemsCancelled(lines: [SkuQuantity(sku: sku, qty: max(0, m.open(sku)) + rng.int(1...3))], reason: "too many"), .overCancellation)
        case .unknownSkuInFulfillment:
            guard m.placed else { return nil }
            var lines = open.prefix(1).map { SkuQuantity(sku: $0, qty: 1) }
            lines.append(SkuQuantity(sku: unknownSku, qty: 1))
            return (.fulfillmentRequested(fulfillmentID: "ful-unknown-sku", location: "DC", lines: lines), .unknownSku)
        case .unknownSkuInCancellation:
            guard m.placed else { return nil }
            return (.itemsCancelled(lines: [SkuQuantity(sku: unknownSku, qty: 1)], reason: "x"), .unknownSku)
        case .unknownSkuInReturn:
            guard m.placed else { return nil }
            return (.returnRequested(returnID: "ret-unknown-sku", lines: [SkuQuantity(sku: unknownSku, qty: 1)], reason: "x"), .unknownSku)
        case .unknownSkuInPriceAdjustment:
            guard m.placed else { return nil }
            return (.priceAdjusted(sku: unknownSku, amountMinor: rng.int(0...100), reason: "x"), .unknownSku)
        case .duplicateSkuInLines:
            guard m.placed else { return nil }
            let sku = open.first ?? anySku
            let lines = [SkuQuantity(sku: sku, qty: 1), SkuQuantity(sku: sku, qty: 1)]
            switch rng.below(3) {
            case 0: return (.fulfillmentRequested(fulfillmentID: "ful-dup-sku", location: "DC", lines: lines), .duplicateSku)
            case 1: return (.itemsCancelled(lines: lines, reason: "x"), .duplicateSku)
            default: return (.returnRequested(returnID: "ret-dup-sku", lines: lines, reason: "x"), .duplicateSku)
            }
        case .zeroQuantityLine, .negativeQuantityLine:
            guard m.placed else { return nil }
            let bad = SkuQuantity(sku: anySku, qty: kind == .zeroQuantityLine ? 0 : -rng.int(1...3))
            switch rng.below(3) {
            case 0: return (.fulfillmentRequested(fulfillmentID: "ful-zero", location: "DC", lines: [bad]), .invalidQuantity)
            case 1: return (.itemsCancelled(lines: [bad], reason: "x"), .invalidQuantity)
            default: return (.returnRequested(returnID: "ret-zero", lines: [bad], reason: "x"), .invalidQuantity)
            }

        // Rule 6: fulfillments
        case .unknownFulfillmentPacked:
            guard m.placed else { return nil }
            return (.fulfillmentPacked(fulfillmentID: "ful-missing"), .unknownFulfillment)
        case .unknownFulfillmentShipped:
            guard m.placed else { return nil }
            return (.shipped(fulfillmentID: "ful-missing", carrier: "UPS", trackingNo: "1Z"), .unknownFulfillment)
        case .unknownFulfillmentDelivered:
            guard m.placed else { return nil }
            return (.delivered(fulfillmentID: "ful-missing"), .unknownFulfillment)
        case .packedTwice:
            let done = inState(["packed", "shipped", "delivered", "cancelled"])
            guard !done.isEmpty else { return nil }
            return (.fulfillmentPacked(fulfillmentID: rng.element(done)), .invalidTransition)
        case .shippedTwice:
            let done = inState(["shipped", "delivered", "cancelled"])
            guard !done.isEmpty else { return nil }
            return (.shipped(fulfillmentID: rng.element(done), carrier: "UPS", trackingNo: "again"), .invalidTransition)
        case .deliveredBeforeShipped:
            let early = inState(["requested", "packed", "cancelled"])
            guard !early.isEmpty else { return nil }
            return (.delivered(fulfillmentID: rng.element(early)), .invalidTransition)
        case .deliveredTwice:
            let done = inState(["delivered"])
            guard !done.isEmpty else { return nil }
            return (.delivered(fulfillmentID: rng.element(done)), .invalidTransition)

        // Rule 7: cancellation
        case .cancelAfterShipment:
            guard m.placed, !m.cancelled, m.unitsShipped > 0 else { return nil }
            return (.orderCancelled(reason: "too late"), .cancelAfterShipment)
        case .eventAfterOrderCancelled:
            guard m.cancelled else { return nil }
            var candidates: [EventData] = [
                .paymentAuthorized(paymentID: "pay-after-cancel", amountMinor: rng.int(0...1000)),
                .paymentFailed(paymentID: "pay-after-cancel", reason: "declined"),
                .priceAdjusted(sku: anySku, amountMinor: rng.int(0...1000), reason: "x"),
                .orderCancelled(reason: "again"),
            ]
            for id in authorized where available(m, id) >= 0 {
                candidates.append(.paymentCaptured(paymentID: id, amountMinor: rng.int(0...available(m, id))))
            }
            return (rng.element(candidates), .orderCancelled)

        // Rule 8: returns
        case .overReturn:
            guard m.placed, !m.cancelled else { return nil }
            let sku = rng.element(skus)
            return (.returnRequested(returnID: "ret-over", lines: [SkuQuantity(sku: sku, qty: max(0, m.returnable(sku)) + rng.int(1...3))], reason: "x"), .overReturn)
        case .receiveMoreThanRequested:
            let open = m.returnOrder.filter { m.returns[$0]!.received == nil }
            guard !m.cancelled, !open.isEmpty else { return nil }
            let id = rng.element(open)
            var lines = m.returns[id]!.lines
            let i = rng.below(lines.count)
            lines[i].qty += rng.int(1...3)
            return (.returnReceived(returnID: id, lines: lines), .overReturn)
        case .secondReturnReceived:
            let closed = m.returnOrder.filter { m.returns[$0]!.received != nil }
            guard !m.cancelled, !closed.isEmpty else { return nil }
            let id = rng.element(closed)
            return (.returnReceived(returnID: id, lines: rng.chance(50) ? nil : [m.returns[id]!.lines[0]]), .returnAlreadyReceived)
        case .receiveUnknownReturn:
            guard m.placed, !m.cancelled else { return nil }
            return (.returnReceived(returnID: "ret-missing", lines: nil), .unknownReturn)

        // Rule 3: ids reused by an event of the same type
        case .duplicatePaymentID:
            guard !authorized.isEmpty else { return nil }
            return (.paymentAuthorized(paymentID: rng.element(authorized), amountMinor: rng.int(0...1000)), .duplicateID)
        case .duplicateFulfillmentID:
            guard !fulfillments.isEmpty else { return nil }
            let lines = open.isEmpty ? [SkuQuantity(sku: anySku, qty: 1)] : [SkuQuantity(sku: open[0], qty: 1)]
            return (.fulfillmentRequested(fulfillmentID: rng.element(fulfillments), location: "DC", lines: lines), .duplicateID)
        case .duplicateReturnID:
            guard !m.returnOrder.isEmpty else { return nil }
            let sku = skus.first { m.returnable($0) > 0 } ?? anySku
            return (.returnRequested(returnID: rng.element(m.returnOrder), lines: [SkuQuantity(sku: sku, qty: 1)], reason: "x"), .duplicateID)
        case .duplicateRefundID:
            let ids = m.refunds.keys.sorted()
            guard !ids.isEmpty else { return nil }
            return (.refundIssued(refundID: rng.element(ids), amountMinor: 0, paymentID: nil, returnID: nil), .duplicateID)

        // Rule 5: PriceAdjusted may not make the total negative
        case .adjustmentOfCancelledLine:
            guard m.placed, !m.cancelled, let sku = m.skus.first(where: { m.active($0) == 0 }) else { return nil }
            return (.priceAdjusted(sku: sku, amountMinor: rng.int(0...100), reason: "on a cancelled line"), .invalidQuantity)
        case .priceAdjustmentMakesTotalNegative:
            // More than the line's active units cost, or than the whole total.
            guard m.placed, !m.cancelled, let sku = m.skus.first(where: { m.active($0) > 0 }) else { return nil }
            let cut = max(0, min(m.lineValue(sku), m.unclampedTotal(adjusting: nil))) + rng.int(1...1000)
            guard (m.adjustments[sku, default: 0] - cut).magnitude <= UInt64(ReferenceOrder.amountMax) else { return nil }
            return (.priceAdjusted(sku: sku, amountMinor: -cut, reason: "too generous"), .negativeTotal)

        // Sums stay within ±2^53 (amount_out_of_range)
        case .placedTotalOutOfRange:
            guard !m.placed else { return nil }
            var lines = validPlaced(&rng)
            lines[0].unitPriceMinor = 1 << 52
            lines[0].qty = 3 + rng.int(0...3)
            return (placed(lines), .amountOutOfRange)
        case .authorizationsOutOfRange:
            guard m.placed else { return nil }
            return (.paymentAuthorized(paymentID: "pay-huge", amountMinor: ReferenceOrder.amountMax - m.authorized + rng.int(1...10)), .amountOutOfRange)
        case .priceAdjustmentTotalOutOfRange:
            guard m.placed, !m.cancelled, let sku = m.skus.first(where: { m.active($0) > 0 }) else { return nil }
            return (.priceAdjusted(sku: sku, amountMinor: ReferenceOrder.amountMax - max(0, m.unclampedTotal(adjusting: nil)) + rng.int(1...10), reason: "typo"), .amountOutOfRange)
        }
    }
}
