extension OrderSnapshot {
    /// The snapshot as a JSON object (what `orderlog show --json` prints).
    public var json: String {
        var w = JSONBytes(capacity: 1024)
        writeJSON(to: &w)
        return w.text
    }

    /// Appends the snapshot as a JSON object, `json`'s bytes exactly: written straight into
    /// bytes (an HTTP response's body), with no `String` built on the way.
    public func writeJSON(to w: inout JSONBytes) {
        func num<T: BinaryInteger>(_ v: T) { if v < 0 { w.int(Int64(v)) } else { w.unsigned(UInt64(v)) } }
        func field<T: BinaryInteger>(_ key: StaticString, _ v: T) { w.raw(key); num(v) }
        func time(_ t: Int64?) { if let t { w.time(EventTime(microseconds: t)) } else { w.raw("null") } }
        func opt(_ s: String?) { if let s { w.string(s) } else { w.raw("null") } }
        func lines(_ list: [SkuQuantity]) {
            w.raw("[")
            for (i, l) in list.enumerated() {
                w.raw(i > 0 ? ",{\"sku\":" : "{\"sku\":"); w.string(l.sku)
                field(",\"qty\":", l.qty); w.raw("}")
            }
            w.raw("]")
        }
        w.raw("{\"order_id\":"); w.string(orderID.value)
        field(",\"version\":", version)
        w.raw(",\"last_position\":"); if let p = lastPosition { num(p) } else { w.raw("null") }
        w.raw(",\"status\":"); w.string(status.rawValue)
        w.raw(",\"payment_status\":"); w.string(paymentStatus.rawValue)
        w.raw(",\"return_status\":"); w.string(returnStatus.rawValue)
        w.raw(",\"customer_id\":"); w.string(customerID)
        w.raw(",\"channel\":"); w.string(channel)
        w.raw(",\"currency\":"); w.string(currency)
        field(",\"money\":{\"total_minor\":", totalMinor)
        field(",\"authorized_minor\":", authorizedMinor)
        field(",\"captured_minor\":", capturedMinor)
        field(",\"voided_minor\":", voidedMinor)
        field(",\"refunded_minor\":", refundedMinor)
        field(",\"shipping_minor\":", shippingMinor)
        field(",\"tax_minor\":", taxMinor)
        field(",\"discount_minor\":", discountMinor)
        field(",\"discount_applied_minor\":", discountAppliedMinor)
        field(",\"adjustments_minor\":", adjustmentsMinor)
        field(",\"adjustments_applied_minor\":", adjustmentsAppliedMinor)
        field(",\"net_paid_minor\":", netPaidMinor)
        field(",\"open_authorization_minor\":", openAuthorizationMinor)
        w.raw("},\"lines\":[")
        for (i, l) in self.lines.enumerated() {
            w.raw(i > 0 ? ",{\"sku\":" : "{\"sku\":"); w.string(l.sku)
            field(",\"unit_price_minor\":", l.unitPriceMinor)
            field(",\"ordered\":", l.ordered)
            field(",\"cancelled\":", l.cancelled)
            field(",\"requested\":", l.requested)
            field(",\"packed\":", l.packed)
            field(",\"shipped\":", l.shipped)
            field(",\"delivered\":", l.delivered)
            field(",\"return_requested\":", l.returnRequested)
            field(",\"returned\":", l.returned)
            field(",\"adjustments_minor\":", l.adjustmentsMinor)
            w.raw("}")
        }
        w.raw("],\"payments\":[")
        for (i, p) in payments.enumerated() {
            w.raw(i > 0 ? ",{\"payment_id\":" : "{\"payment_id\":"); w.string(p.id)
            field(",\"authorized_minor\":", p.authorized)
            field(",\"captured_minor\":", p.captured)
            field(",\"voided_minor\":", p.voided)
            field(",\"refunded_minor\":", p.refunded)
            field(",\"failures\":", p.failures)
            w.raw("}")
        }
        w.raw("],\"fulfillments\":[")
        for (i, f) in fulfillments.enumerated() {
            w.raw(i > 0 ? ",{\"fulfillment_id\":" : "{\"fulfillment_id\":"); w.string(f.id)
            w.raw(",\"location\":"); w.string(f.location)
            w.raw(",\"state\":"); w.string(f.state.rawValue)
            w.raw(",\"carrier\":"); opt(f.carrier)
            w.raw(",\"tracking_no\":"); opt(f.trackingNo)
            w.raw(",\"lines\":"); lines(f.lines)
            w.raw(",\"cancelled_lines\":"); lines(f.cancelledLines)
            w.raw("}")
        }
        w.raw("],\"returns\":[")
        for (i, r) in returns.enumerated() {
            w.raw(i > 0 ? ",{\"return_id\":" : "{\"return_id\":"); w.string(r.id)
            w.raw(",\"reason\":"); w.string(r.reason)
            w.raw(r.received == nil ? ",\"state\":\"requested\",\"lines\":" : ",\"state\":\"received\",\"lines\":"); lines(r.lines)
            w.raw(",\"received\":"); if let received = r.received { lines(received) } else { w.raw("null") }
            w.raw("}")
        }
        w.raw("],\"refunds\":[")
        for (i, r) in refunds.enumerated() {
            w.raw(i > 0 ? ",{\"refund_id\":" : "{\"refund_id\":"); w.string(r.id)
            field(",\"amount_minor\":", r.amountMinor)
            w.raw(",\"payment_id\":"); opt(r.paymentID)
            w.raw(",\"return_id\":"); opt(r.returnID)
            w.raw("}")
        }
        w.raw("],\"milestones\":{\"placed\":"); time(placedAt)
        w.raw(",\"paid\":"); time(paidAt)
        w.raw(",\"shipped\":"); time(shippedAt)
        w.raw(",\"delivered\":"); time(deliveredAt)
        w.raw(isCancelled ? "},\"cancelled\":true" : "},\"cancelled\":false")
        field(",\"notes\":", notes)
        w.raw(fulfilledUnpaid ? ",\"attention\":[\"fulfilled_unpaid\"]}" : ",\"attention\":[]}")
    }
}
