import Testing
@testable import OrderModel

/// The snapshot's JSON written on bytes (`OrderSnapshot.writeJSON`) against the writer it
/// replaced, kept here as the reference: the same text for every state of generated lifecycles.
@Suite("Snapshot JSON")
struct SnapshotJSONTests {
    /// The snapshot JSON as the String writer before it wrote it (session 5's code).
    static func reference(_ s: OrderSnapshot) -> String {
        func linesJSON(_ lines: [SkuQuantity]) -> String {
            var w = JSONWriter()
            w.raw("[")
            for (i, l) in lines.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"sku\":"); w.string(l.sku); w.raw(",\"qty\":\(l.qty)}")
            }
            w.raw("]")
            return w.text
        }
        let orderID = s.orderID, version = s.version, lastPosition = s.lastPosition, status = s.status, paymentStatus = s.paymentStatus, returnStatus = s.returnStatus
        let customerID = s.customerID, channel = s.channel, currency = s.currency
        let totalMinor = s.totalMinor, authorizedMinor = s.authorizedMinor, capturedMinor = s.capturedMinor, voidedMinor = s.voidedMinor, refundedMinor = s.refundedMinor
        let shippingMinor = s.shippingMinor, taxMinor = s.taxMinor, discountMinor = s.discountMinor, discountAppliedMinor = s.discountAppliedMinor
        let adjustmentsMinor = s.adjustmentsMinor, adjustmentsAppliedMinor = s.adjustmentsAppliedMinor, netPaidMinor = s.netPaidMinor, openAuthorizationMinor = s.openAuthorizationMinor
        let lines = s.lines, payments = s.payments, fulfillments = s.fulfillments, returns = s.returns, refunds = s.refunds
        let placedAt = s.placedAt, paidAt = s.paidAt, shippedAt = s.shippedAt, deliveredAt = s.deliveredAt
        let isCancelled = s.isCancelled, notes = s.notes, fulfilledUnpaid = s.fulfilledUnpaid
        var w = JSONWriter()
        func time(_ t: Int64?) -> String { t.map { JSONWriter.quoted(EventTime(microseconds: $0).rfc3339) } ?? "null" }
        func opt(_ s: String?) -> String { s.map(JSONWriter.quoted) ?? "null" }
        w.raw("{\"order_id\":"); w.string(orderID.value)
        w.raw(",\"version\":\(version),\"last_position\":\(lastPosition.map(String.init) ?? "null")")
        w.raw(",\"status\":\"\(status.rawValue)\",\"payment_status\":\"\(paymentStatus.rawValue)\",\"return_status\":\"\(returnStatus.rawValue)\"")
        w.raw(",\"customer_id\":"); w.string(customerID)
        w.raw(",\"channel\":"); w.string(channel)
        w.raw(",\"currency\":"); w.string(currency)
        w.raw(",\"money\":{\"total_minor\":\(totalMinor),\"authorized_minor\":\(authorizedMinor),\"captured_minor\":\(capturedMinor),\"voided_minor\":\(voidedMinor),\"refunded_minor\":\(refundedMinor),\"shipping_minor\":\(shippingMinor),\"tax_minor\":\(taxMinor),\"discount_minor\":\(discountMinor),\"discount_applied_minor\":\(discountAppliedMinor),\"adjustments_minor\":\(adjustmentsMinor),\"adjustments_applied_minor\":\(adjustmentsAppliedMinor),\"net_paid_minor\":\(netPaidMinor),\"open_authorization_minor\":\(openAuthorizationMinor)}")
        w.raw(",\"lines\":[")
        for (i, l) in lines.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"sku\":"); w.string(l.sku)
            w.raw(",\"unit_price_minor\":\(l.unitPriceMinor),\"ordered\":\(l.ordered),\"cancelled\":\(l.cancelled),\"requested\":\(l.requested),\"packed\":\(l.packed),\"shipped\":\(l.shipped),\"delivered\":\(l.delivered),\"return_requested\":\(l.returnRequested),\"returned\":\(l.returned),\"adjustments_minor\":\(l.adjustmentsMinor)}")
        }
        w.raw("],\"payments\":[")
        for (i, p) in payments.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"payment_id\":"); w.string(p.id)
            w.raw(",\"authorized_minor\":\(p.authorized),\"captured_minor\":\(p.captured),\"voided_minor\":\(p.voided),\"refunded_minor\":\(p.refunded),\"failures\":\(p.failures)}")
        }
        w.raw("],\"fulfillments\":[")
        for (i, f) in fulfillments.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"fulfillment_id\":"); w.string(f.id)
            w.raw(",\"location\":"); w.string(f.location)
            w.raw(",\"state\":\"\(f.state.rawValue)\",\"carrier\":\(opt(f.carrier)),\"tracking_no\":\(opt(f.trackingNo)),\"lines\":")
            w.raw(linesJSON(f.lines))
            w.raw(",\"cancelled_lines\":")
            w.raw(linesJSON(f.cancelledLines))
            w.raw("}")
        }
        w.raw("],\"returns\":[")
        for (i, r) in returns.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"return_id\":"); w.string(r.id)
            w.raw(",\"reason\":"); w.string(r.reason)
            w.raw(",\"state\":\"\(r.received == nil ? "requested" : "received")\",\"lines\":")
            w.raw(linesJSON(r.lines))
            w.raw(",\"received\":")
            w.raw(r.received.map { linesJSON($0) } ?? "null")
            w.raw("}")
        }
        w.raw("],\"refunds\":[")
        for (i, r) in refunds.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"refund_id\":"); w.string(r.id)
            w.raw(",\"amount_minor\":\(r.amountMinor),\"payment_id\":\(opt(r.paymentID)),\"return_id\":\(opt(r.returnID))}")
        }
        w.raw("],\"milestones\":{\"placed\":\(time(placedAt)),\"paid\":\(time(paidAt)),\"shipped\":\(time(shippedAt)),\"delivered\":\(time(deliveredAt))}")
        w.raw(",\"cancelled\":\(isCancelled),\"notes\":\(notes),\"attention\":[\(fulfilledUnpaid ? "\"fulfilled_unpaid\"" : "")]}")
        return w.text
    }

    @Test("every state of generated lifecycles writes the same JSON as the String writer did, byte for byte", arguments: [UInt64(1), 2, 3, 5, 8, 13, 21, 34, 55, 89])
    func sameAsReference(seed: UInt64) throws {
        for k in 0..<20 {
            let events = LifecycleGenerator.lifecycle(seed: seed &* 1000 &+ UInt64(k))
            var snapshot = OrderSnapshot(orderID: events[0].event.orderID)
            #expect(snapshot.json == Self.reference(snapshot))
            for g in events {
                try snapshot.apply(g.event, position: g.position, time: g.time)
                #expect(snapshot.json == Self.reference(snapshot))
            }
        }
    }
}
