import Foundation
import OrderModel

/// What the console's templates show, made from the order model: pure functions from
/// snapshots and events to the dictionaries Mustache renders (tested without a server).
enum ConsoleViews {
    /// A time as the console shows it: `2026-03-01 10:00:00 UTC` (the event's own offset is in
    /// the timeline's exported JSON; lists compare better in one zone).
    static func time(_ micros: Int64?) -> String {
        guard let micros else { return "" }
        let text = EventTime(microseconds: micros).rfc3339  // 2026-03-01T10:00:00.123456Z
        let seconds = text.prefix(19).replacingOccurrences(of: "T", with: " ")
        return seconds + " UTC"
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

    /// The order page: the snapshot's every part, the timeline, the actions a role may take.
    static func order(_ s: OrderSnapshot, history: [StoredEvent], canAct: Bool) -> [String: Any] {
        let c = s.currency
        var money: [[String: String]] = [
            ["k": "Total", "v": money(s.totalMinor, c)], ["k": "Captured", "v": money(s.capturedMinor, c)],
            ["k": "Refunded", "v": money(s.refundedMinor, c)], ["k": "Net paid", "v": money(s.netPaidMinor, c)],
        ]
        if s.openAuthorizationMinor > 0 { money.append(["k": "Open authorization", "v": ConsoleViews.money(s.openAuthorizationMinor, c)]) }
        let milestones: [[String: String]] = [("placed", s.placedAt), ("paid", s.paidAt), ("shipped", s.shippedAt), ("delivered", s.deliveredAt)]
            .compactMap { k, t in t.map { ["k": k, "v": time($0)] } }
        let payments = s.payments.map { p -> [String: Any] in
            ["id": p.id, "authorized": ConsoleViews.money(p.authorized, c), "captured": ConsoleViews.money(p.captured, c), "voided": ConsoleViews.money(p.voided, c),
             "refunded": ConsoleViews.money(p.refunded, c), "failure": p.lastFailureReason ?? ""]
        }
        let fulfillments = s.fulfillments.map { f -> [String: Any] in
            ["id": f.id, "location": f.location, "state": f.state.rawValue,
             "stateClass": f.state == .delivered ? "b-good" : f.state == .cancelled ? "b-bad" : "b-info",
             "carrier": f.carrier ?? "", "tracking": f.trackingNo ?? "", "lines": lines(f.lines)]
        }
        let returns = s.returns.map { r -> [String: Any] in
            ["id": r.id, "lines": lines(r.lines), "reason": r.reason, "received": r.received.map { lines($0) } ?? "not yet"]
        }
        let refunds = s.refunds.map { r -> [String: Any] in
            ["id": r.id, "amount": ConsoleViews.money(r.amountMinor, c), "payment": r.paymentID ?? "", "returnID": r.returnID ?? ""]
        }
        let timeline = history.reversed().map { e -> [String: Any] in
            ["seq": e.seq, "time": time(e.event.ts?.microseconds ?? e.recordedAt), "type": e.event.type.rawValue,
             "actor": e.event.actor.map { "\($0.kind.rawValue) \($0.id)" } ?? "", "channel": e.event.channel ?? "", "data": e.event.data.json]
        }
        return [
            "id": s.orderID.value, "orderURL": pathSegment(s.orderID.value), "version": s.version, "next": (s.lastPosition ?? 0) + 1,
            "status": s.status.rawValue, "statusClass": statusClass(s.status),
            "payment": s.paymentStatus.rawValue, "paymentClass": paymentClass(s.paymentStatus),
            "returns": s.returnStatus.rawValue, "returnClass": returnClass(s.returnStatus),
            "customer": s.customerID, "customerURL": pathSegment(s.customerID), "channel": s.channel, "currency": c,
            "attention": s.fulfilledUnpaid ? ["fulfilled but not paid"] : [String](),
            "money": money, "milestones": milestones,
            "lines": s.lines.map { l -> [String: Any] in
                ["sku": l.sku, "price": ConsoleViews.money(l.unitPriceMinor, c), "ordered": l.ordered, "cancelled": l.cancelled,
                 "shipped": l.shipped, "delivered": l.delivered, "returned": l.returned]
            },
            "payments": payments, "hasPayments": !payments.isEmpty,
            "fulfillments": fulfillments, "hasFulfillments": !fulfillments.isEmpty,
            "returnsList": returns, "hasReturns": !returns.isEmpty, "refunds": refunds, "hasRefunds": !refunds.isEmpty,
            "timeline": timeline, "canAct": canAct, "actions": canAct ? AgentAction.forms(for: s) : [],
            "typesJSON": "[" + EventType.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ",") + "]",
        ]
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
