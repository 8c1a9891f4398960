import Foundation
import OrderModel
import Testing

/// Events built through the Swift API (what `OrderStore.append` takes) are not bounded by the
/// JSON decoder's ±2^53, so an amount near Int64.max reaches the rules. The rules must refuse
/// it with a code, never trap. Each probe runs in a child process so that a trap fails only
/// its own test.
enum HostileAmounts {
    /// Applies the setup events, then `hostile`; returns normally only if `hostile` is refused
    /// and the snapshot is unchanged. Exit 3: setup refused; 4: hostile accepted; 5: snapshot
    /// changed. A trap shows as a signal.
    static func probe(_ setup: [EventData], _ hostile: EventData) {
        let id = try! OrderID("ORD-hostile")
        var s = OrderSnapshot(orderID: id)
        var position: UInt64 = 0
        let placed = EventData.orderPlaced(customerID: "c", channel: "web", currency: "USD",
                                           lines: [PlacedLine(sku: "A", qty: 1, unitPriceMinor: 1000)],
                                           shippingMinor: nil, taxMinor: nil, discountMinor: nil)
        for d in [placed] + setup {
            position += 1
            do { try s.apply(OrderEvent(orderID: id, data: d), position: position, time: 0) } catch { exit(3) }
        }
        let before = s
        do {
            try s.apply(OrderEvent(orderID: id, data: hostile), position: position + 1, time: 0)
            exit(4)
        } catch {
            if s != before { exit(5) }
        }
    }
}

@Suite("Amounts beyond 2^53 from the Swift API")
struct OverflowTests {
    @Test("a PaymentAuthorized of Int64.max after another authorization is refused, not a trap")
    func hugeAuthorization() async {
        do {
            await #expect(processExitsWith: .success) {
                HostileAmounts.probe([.paymentAuthorized(paymentID: "p", amountMinor: 10)], .paymentAuthorized(paymentID: "q", amountMinor: .max))
            }
        }
    }

    @Test("amounts exactly at the 2^53 bound are accepted and one beyond is amount_out_of_range")
    func boundIsExact() throws {
        let id = try OrderID("ORD-bound")
        var s = OrderSnapshot(orderID: id)
        func ev(_ d: EventData) -> OrderEvent { OrderEvent(orderID: id, data: d) }
        try s.apply(ev(.orderPlaced(customerID: "c", channel: "web", currency: "USD", lines: [PlacedLine(sku: "A", qty: 2, unitPriceMinor: 1 << 52)],
                                    shippingMinor: nil, taxMinor: nil, discountMinor: nil)), position: 1, time: 0)
        #expect(s.totalMinor == 1 << 53)
        try s.apply(ev(.paymentAuthorized(paymentID: "p", amountMinor: 1 << 53)), position: 2, time: 0)
        let before = s
        let auth = #expect(throws: OrderError.self) { try s.apply(ev(.paymentAuthorized(paymentID: "q", amountMinor: 1)), position: 3, time: 0) }
        #expect(auth?.code == .amountOutOfRange)
        let adjust = #expect(throws: OrderError.self) { try s.apply(ev(.priceAdjusted(sku: "A", amountMinor: 1, reason: "x")), position: 3, time: 0) }
        #expect(adjust?.code == .amountOutOfRange)
        #expect(s == before)
    }

    @Test("a PaymentCaptured of Int64.max on a payment with a capture is refused, not a trap")
    func hugeCapture() async {
        do {
            await #expect(processExitsWith: .success) {
                HostileAmounts.probe([.paymentAuthorized(paymentID: "p", amountMinor: 10), .paymentCaptured(paymentID: "p", amountMinor: 5)],
                                     .paymentCaptured(paymentID: "p", amountMinor: .max))
            }
        }
    }

    @Test("a PaymentVoided of Int64.max on a payment with a void is refused, not a trap")
    func hugeVoid() async {
        do {
            await #expect(processExitsWith: .success) {
                HostileAmounts.probe([.paymentAuthorized(paymentID: "p", amountMinor: 10), .paymentVoided(paymentID: "p", amountMinor: 5)],
                                     .paymentVoided(paymentID: "p", amountMinor: .max))
            }
        }
    }

    @Test("a RefundIssued of Int64.max after another refund is refused, not a trap")
    func hugeRefund() async {
        do {
            await #expect(processExitsWith: .success) {
                HostileAmounts.probe([.paymentAuthorized(paymentID: "p", amountMinor: 10), .paymentCaptured(paymentID: "p", amountMinor: 10),
                                      .refundIssued(refundID: "r1", amountMinor: 5, paymentID: nil, returnID: nil)],
                                     .refundIssued(refundID: "r2", amountMinor: .max, paymentID: nil, returnID: nil))
            }
        }
    }

    @Test("a PriceAdjusted of Int64.max is refused, not a trap")
    func hugeAdjustment() async {
        do {
            await #expect(processExitsWith: .success) {
                HostileAmounts.probe([], .priceAdjusted(sku: "A", amountMinor: .max, reason: "x"))
            }
        }
    }
}
