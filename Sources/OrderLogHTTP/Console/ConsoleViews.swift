import Foundation
import OrderModel

/// What the console's templates show, made from the order model: pure functions from
/// snapshots and events to the dictionaries Mustache renders (tested without a server).
enum ConsoleViews {
    /// A time as the console shows it: `2026-03-01 10:00:00 UTC` (the event's own offset is in
    /// the timeline's exported JSON; lists compare better in one zone).
    static func time(_ micros: Int64?) -> String {
        guard let micros else { return "" }
        var b = Array(EventTime(microseconds: micros).rfc3339.utf8.prefix(19))  // 2026-03-01T10:00:00
        if b.count == 19 { b[10] = 0x20 }
        return String(decoding: b, as: UTF8.self) + " UTC"
    }

    static func money(_ minor: Money, _ currency: String) -> String { Currency.format(minor, currency) }

    static func statusClass(_ s: OrderSnapshot.Status) -> String {
        switch s {
        case .delivered: "b-good"
        case .cancelled: "b-bad"
        case .awaitingPayment, .placed: "b-warn"
        default: "b-info"
        }
    }

    static func paymentClass(_ p: OrderSnapshot.PaymentStatus) -> String {
        switch p {
        case .paid: "b-good"
        case .overpaid: "b-bad"
        case .unpaid, .partiallyPaid: "b-warn"
        default: "b-info"
        }
    }

    static func returnClass(_ r: OrderSnapshot.ReturnStatus) -> String {
        switch r {
        case .none: ""
        case .requested: "b-warn"
        case .received: "b-info"
        }
    }

    static func lines(_ l: [SkuQuantity]) -> String { l.map { "\($0.sku) × \($0.qty)" }.joined(separator: ", ") }

    /// A row of a customer's or a queue's list.
    static func row(_ s: OrderSnapshot, lastChange: Int64?) -> [String: Any] {
        [
            "id": s.orderID.value, "placed": time(s.placedAt),
            "status": s.status.rawValue, "statusClass": statusClass(s.status),
            "payment": s.paymentStatus.rawValue, "paymentClass": paymentClass(s.paymentStatus),
            "returns": s.returnStatus.rawValue, "returnClass": returnClass(s.returnStatus),
            "total": money(s.totalMinor, s.currency), "lastChange": time(lastChange),
            "customer": s.customerID, "customerURL": pathSegment(s.customerID),
        ]
    }

    /// The order page's model: the body (`orderBody`, HTML) and what the page's script needs —
    /// where its live stream starts (`streamFrom`: the log's end read before the order was).
    static func order(_ s: OrderSnapshot, history: [StoredEvent], canAct: Bool, streamFrom: UInt64) -> [String: Any] {
        [
            "id": s.orderID.value, "next": streamFrom, "orderBody": orderBody(s, history: history, canAct: canAct),
            "typesJSON": "[" + EventType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ",") + "]",
        ]
    }

    /// The order's every part as HTML: status badges, money, lines, payments, fulfillments
    /// (carrier, tracking), returns, refunds, milestones, the actions a role may take, and the
    /// timeline newest first. What a live update fetches again (`?fragment=1`).
    static func orderBody(_ s: OrderSnapshot, history: [StoredEvent], canAct: Bool) -> String {
        let c = s.currency
        var h = HTMLWriter()
        h.raw("<h1>Order "); h.value(s.orderID.value)
        h.raw(" <span class=\"badge \(statusClass(s.status))\" id=\"status\">\(s.status.rawValue)</span>")
        h.raw(" <span class=\"badge \(paymentClass(s.paymentStatus))\" id=\"payment\">payment \(s.paymentStatus.rawValue)</span>")
        h.raw(" <span class=\"badge \(returnClass(s.returnStatus))\" id=\"returns\">returns \(s.returnStatus.rawValue)</span></h1>")
        h.raw("<p>Customer <a id=\"customer\" href=\"/console/customers/\(pathSegment(s.customerID))\">"); h.value(s.customerID)
        h.raw("</a> · channel "); h.value(s.channel); h.raw(" · currency "); h.value(c)
        h.raw(" · version <span id=\"version\">\(s.version)</span> <span class=\"live\">· updates live</span></p>")
        if s.fulfilledUnpaid { h.raw("<p class=\"flash err\">Attention: fulfilled but not paid</p>") }
        var cards: [(String, Money)] = [("Total", s.totalMinor), ("Captured", s.capturedMinor), ("Refunded", s.refundedMinor), ("Net paid", s.netPaidMinor)]
        if s.openAuthorizationMinor > 0 { cards.append(("Open authorization", s.openAuthorizationMinor)) }
        h.raw("<div class=\"cards\">")
        for (k, v) in cards { h.raw("<div class=\"card\"><div class=\"k\">\(k)</div><div class=\"v\">"); h.value(money(v, c)); h.raw("</div></div>") }
        h.raw("</div><h2>Lines</h2><table id=\"lines\"><tr><th>SKU</th><th class=\"num\">Unit price</th><th class=\"num\">Ordered</th><th class=\"num\">Cancelled</th><th class=\"num\">Shipped</th><th class=\"num\">Delivered</th><th class=\"num\">Returned</th></tr>")
        for l in s.lines {
            h.row([l.sku, money(l.unitPriceMinor, c), "\(l.ordered)", "\(l.cancelled)", "\(l.shipped)", "\(l.delivered)", "\(l.returned)"],
                  numeric: [1, 2, 3, 4, 5, 6], attributes: " data-sku=\"\(HTMLWriter.escape(l.sku))\"")
        }
        h.raw("</table><h2>Payments</h2>")
        let payments = s.payments
        if payments.isEmpty { h.raw("<p class=\"muted\">None.</p>") } else {
            h.raw("<table id=\"payments\"><tr><th>Payment</th><th class=\"num\">Authorized</th><th class=\"num\">Captured</th><th class=\"num\">Voided</th><th class=\"num\">Refunded</th><th>Last failure</th></tr>")
            for p in payments {
                h.row([p.id, money(p.authorized, c), money(p.captured, c), money(p.voided, c), money(p.refunded, c), p.lastFailureReason ?? ""], numeric: [1, 2, 3, 4])
            }
            h.raw("</table>")
        }
        h.raw("<h2>Fulfillments</h2>")
        let fulfillments = s.fulfillments
        if fulfillments.isEmpty { h.raw("<p class=\"muted\">None.</p>") } else {
            h.raw("<table id=\"fulfillments\"><tr><th>Fulfillment</th><th>Location</th><th>State</th><th>Carrier</th><th>Tracking</th><th>Lines</th></tr>")
            for f in fulfillments {
                let badge = f.state == .delivered ? "b-good" : f.state == .cancelled ? "b-bad" : "b-info"
                h.raw("<tr><td>"); h.value(f.id); h.raw("</td><td>"); h.value(f.location)
                h.raw("</td><td><span class=\"badge \(badge)\">\(f.state.rawValue)</span></td><td>"); h.value(f.carrier ?? "")
                h.raw("</td><td>"); h.value(f.trackingNo ?? ""); h.raw("</td><td>"); h.value(lines(f.lines)); h.raw("</td></tr>")
            }
            h.raw("</table>")
        }
        h.raw("<h2>Returns and refunds</h2>")
        let returns = s.returns, refunds = s.refunds
        if returns.isEmpty && refunds.isEmpty { h.raw("<p class=\"muted\">None.</p>") }
        if !returns.isEmpty {
            h.raw("<table id=\"returns-table\"><tr><th>Return</th><th>Lines</th><th>Reason</th><th>Received</th></tr>")
            for r in returns { h.row([r.id, lines(r.lines), r.reason, r.received.map { lines($0) } ?? "not yet"]) }
            h.raw("</table>")
        }
        if !refunds.isEmpty {
            h.raw("<table id=\"refunds\"><tr><th>Refund</th><th class=\"num\">Amount</th><th>Payment</th><th>Return</th></tr>")
            for r in refunds { h.row([r.id, money(r.amountMinor, c), r.paymentID ?? "", r.returnID ?? ""], numeric: [1]) }
            h.raw("</table>")
        }
        h.raw("<h2>Milestones</h2><p id=\"milestones\">")
        let milestones = [("placed", s.placedAt), ("paid", s.paidAt), ("shipped", s.shippedAt), ("delivered", s.deliveredAt)].compactMap { k, t in t.map { (k, $0) } }
        if milestones.isEmpty { h.raw("<span class=\"muted\">none yet</span>") }
        for (k, t) in milestones { h.raw("<span class=\"badge b-info\">\(k) "); h.value(time(t)); h.raw("</span> ") }
        h.raw("</p>")
        if canAct {
            h.raw("<h2>Act on this order</h2>")
            let orderURL = pathSegment(s.orderID.value)
            for form in AgentAction.forms(for: s) {
                h.raw("<form class=\"action\" method=\"post\" action=\"/console/orders/\(orderURL)/actions\" id=\"action-\(form.action.rawValue)\">")
                h.raw("<input type=\"hidden\" name=\"action\" value=\"\(form.action.rawValue)\"><b>\(form.action.label)</b>")
                for f in form.fields {
                    h.raw("<label>"); h.value(f.label); h.raw("<input name=\"\(f.name)\" value=\""); h.value(f.value); h.raw("\"\(f.required ? " required" : "")></label>")
                }
                h.raw("<button>\(form.action.label)</button></form>")
            }
        }
        h.raw("<h2>Timeline</h2><table id=\"timeline\"><tr><th class=\"num\">Seq</th><th>Time</th><th>Event</th><th>Actor</th><th>Channel</th><th>Details</th></tr>")
        for e in history.reversed() {
            h.raw("<tr data-seq=\"\(e.seq)\"><td class=\"num\">\(e.seq)</td><td>"); h.value(time(e.event.ts?.microseconds ?? e.recordedAt))
            h.raw("</td><td>\(e.event.type.rawValue)</td><td>"); h.value(e.event.actor.map { "\($0.kind.rawValue) \($0.id)" } ?? "")
            h.raw("</td><td>"); h.value(e.event.channel ?? ""); h.raw("</td><td><code>"); h.value(e.event.data.json); h.raw("</code></td></tr>")
        }
        h.raw("</table>")
        return h.text
    }

    /// `text` percent-encoded for one path segment (ids may hold characters a URL reserves).
    static func pathSegment(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E, 0x3A: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
