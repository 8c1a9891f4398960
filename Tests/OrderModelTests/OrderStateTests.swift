@testable import OrderModel
import Testing

@Suite("Flat order state")
struct OrderStateTests {
    @Test("records have the sizes and field offsets docs/FORMAT.md §12 gives them")
    func layoutIsTheDocumentedOne() {
        #expect(MemoryLayout<TextRef>.size == 8)
        #expect(MemoryLayout<LineRecord>.size == 96)
        #expect(MemoryLayout<LineRecord>.offset(of: \.unitPriceMinor) == 8)
        #expect(MemoryLayout<LineRecord>.offset(of: \.adjustmentsAppliedMinor) == 88)
        #expect(MemoryLayout<PaymentRecord>.size == 56)
        #expect(MemoryLayout<PaymentRecord>.offset(of: \.authorizations) == 40)
        #expect(MemoryLayout<PaymentRecord>.offset(of: \.lastFailureReason) == 48)
        #expect(MemoryLayout<FulfillmentRecord>.size == 48)
        #expect(MemoryLayout<FulfillmentRecord>.offset(of: \.state) == 32)
        #expect(MemoryLayout<FulfillmentRecord>.offset(of: \.unitCount) == 44)
        #expect(MemoryLayout<UnitRecord>.size == 40)
        #expect(MemoryLayout<UnitRecord>.offset(of: \.qty) == 8)
        #expect(MemoryLayout<UnitRecord>.offset(of: \.cancelSku) == 32)
        #expect(MemoryLayout<ReturnRecord>.size == 40)
        #expect(MemoryLayout<ReturnRecord>.offset(of: \.isReceived) == 32)
        #expect(MemoryLayout<RefundRecord>.size == 32)
        #expect(MemoryLayout<RefundRecord>.offset(of: \.amountMinor) == 24)
        #expect(MemoryLayout<EventIDRecord>.size == 16)
    }

    @Test("adding records to a table moves the tables after it and keeps every text reference valid")
    func tablesGrowInPlace() {
        var s = OrderState()
        func text(_ v: String) -> TextRef { var v = v; return v.withUTF8 { s.text(UnsafeRawBufferPointer($0)) } }
        let e1 = text("evt-1")
        s.append(.eventIDs, EventIDRecord(id: e1, position: 7))
        let p = text("pay-1")
        s.append(.payments, PaymentRecord(id: p, authorized: 500))
        let sku = text("SKU-A")
        s.append(.lines, LineRecord(sku: sku, unitPriceMinor: 250, ordered: 2))
        s.append(.payments, PaymentRecord(id: text("pay-2"), captured: 9))
        #expect(s.count(.lines) == 1 && s.count(.payments) == 2 && s.count(.eventIDs) == 1)
        #expect(s.start(.payments) == 96 && s.start(.eventIDs) == 96 + 2 * 56)
        #expect(s.record(.eventIDs, 0, as: EventIDRecord.self).position == 7)
        #expect(s.string(s.record(.eventIDs, 0, as: EventIDRecord.self).id) == "evt-1")
        #expect(s.string(s.record(.payments, 0, as: PaymentRecord.self).id) == "pay-1")
        #expect(s.record(.payments, 1, as: PaymentRecord.self).captured == 9)
        #expect(s.string(s.record(.lines, 0, as: LineRecord.self).sku) == "SKU-A")
        #expect(s.string(.none) == nil)
        s.update(.lines, 0, as: LineRecord.self) { $0.shipped += 2 }
        #expect(s.record(.lines, 0, as: LineRecord.self).shipped == 2)
        #expect(s.textStart == 96 + 2 * 56 + 16)
    }

    @Test("a snapshot replayed twice from the same events is byte-identical, and its arrays read back what the events said")
    func replayIsDeterministic() throws {
        let id = try OrderID("O-flat")
        let events: [OrderEvent] = [
            OrderEvent(orderID: id, eventID: "e1", data: .orderPlaced(customerID: "C-1", channel: "web", currency: "EUR",
                       lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 1000), PlacedLine(sku: "B", qty: 1, unitPriceMinor: 500)],
                       shippingMinor: 300, taxMinor: nil, discountMinor: 100)),
            OrderEvent(orderID: id, data: .paymentAuthorized(paymentID: "P1", amountMinor: 2700)),
            OrderEvent(orderID: id, data: .fulfillmentRequested(fulfillmentID: "F1", location: "WH", lines: [SkuQuantity(sku: "A", qty: 2), SkuQuantity(sku: "B", qty: 1)])),
            OrderEvent(orderID: id, eventID: "e4", data: .fulfillmentCancelled(fulfillmentID: "F1", lines: [SkuQuantity(sku: "B", qty: 1)], reason: "stock")),
            OrderEvent(orderID: id, data: .shipped(fulfillmentID: "F1", carrier: "UPS", trackingNo: "1Z")),
        ]
        func replay() throws -> OrderSnapshot {
            var s = OrderSnapshot(orderID: id)
            for (i, e) in events.enumerated() { try s.apply(e, position: UInt64(i), time: 1_000_000 * Int64(i)) }
            return s
        }
        let a = try replay(), b = try replay()
        #expect(a.state.header == b.state.header && a.state.storage == b.state.storage)
        #expect(a.version == 5 && a.customerID == "C-1" && a.currency == "EUR" && a.shippingMinor == 300)
        #expect(a.lines.map(\.shipped) == [2, 0] && a.lines.map(\.requested) == [2, 0])
        #expect(a.fulfillments.first?.cancelledLines == [SkuQuantity(sku: "B", qty: 1)])
        #expect(a.fulfillments.first?.openLines == [SkuQuantity(sku: "A", qty: 2)])
        #expect(a.fulfillments.first?.state == .shipped && a.fulfillments.first?.carrier == "UPS")
        #expect(a.eventIDs.map(\.id) == ["e1", "e4"] && a.position(ofEventID: "e4") == 3)
        #expect(a.payments.first?.authorized == 2700)
    }
}
