extension OrderSnapshot {
    /// The snapshot as a JSON object (what `orderlog show --json` prints).
    public var json: String {
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
            w.raw(EventData.itemsCancelled(lines: f.lines, reason: "").linesJSON)
            w.raw(",\"cancelled_lines\":")
            w.raw(EventData.itemsCancelled(lines: f.cancelledLines, reason: "").linesJSON)
            w.raw("}")
        }
        w.raw("],\"returns\":[")
        for (i, r) in returns.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"return_id\":"); w.string(r.id)
            w.raw(",\"reason\":"); w.string(r.reason)
            w.raw(",\"state\":\"\(r.received == nil ? "requested" : "received")\",\"lines\":")
            w.raw(EventData.itemsCancelled(lines: r.lines, reason: "").linesJSON)
            w.raw(",\"received\":")
            w.raw(r.received.map { EventData.itemsCancelled(lines: $0, reason: "").linesJSON } ?? "null")
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
}

extension EventData {
    /// The `lines` array of an event that has one, as JSON.
    var linesJSON: String {
        let lines: [SkuQuantity]
        switch self {
        case .itemsCancelled(let l, _), .fulfillmentRequested(_, _, let l), .returnRequested(_, let l, _): lines = l
        case .returnReceived(_, let l): lines = l ?? []
        case .fulfillmentCancelled(_, let l, _): lines = l ?? []
        default: lines = []
        }
        var w = JSONWriter()
        w.raw("[")
        for (i, l) in lines.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"sku\":"); w.string(l.sku); w.raw(",\"qty\":\(l.qty)}")
        }
        w.raw("]")
        return w.text
    }
}
