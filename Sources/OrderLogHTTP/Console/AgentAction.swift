import OrderModel

/// An agent's action from the console (a form), as the event it asks for — JSON in the form
/// of docs/EVENTS.md, read back by the same decoder and stored through the same checks as any
/// other event. Recorded with actor kind `agent`, the agent's name, channel `service-console`.
enum AgentAction: String, CaseIterable {
    case note, cancelItems = "cancel_items", cancelOrder = "cancel_order", requestReturn = "request_return", receiveReturn = "receive_return", refund

    var label: String {
        switch self {
        case .note: "Add a note"
        case .cancelItems: "Cancel items"
        case .cancelOrder: "Cancel the order"
        case .requestReturn: "Request a return"
        case .receiveReturn: "Receive a return"
        case .refund: "Issue a refund"
        }
    }

    struct Field { var name: String; var label: String; var value: String; var required: Bool }

    /// The forms the order page shows, with sensible defaults from the order.
    static func forms(for s: OrderSnapshot) -> [(action: AgentAction, fields: [Field])] {
        let sku = s.lines.first?.sku ?? ""
        let openReturn = s.returns.first { $0.received == nil }?.id ?? ""
        let payment = s.payments.first { $0.captured > $0.refunded }?.id ?? ""
        func field(_ name: String, _ label: String, _ value: String = "", required: Bool = true) -> Field {
            Field(name: name, label: label, value: value, required: required)
        }
        return allCases.map { a in
            let fields: [Field] = switch a {
            case .note: [field("text", "Note")]
            case .cancelItems: [field("sku", "SKU", sku), field("qty", "Quantity", "1"), field("reason", "Reason", "customer request")]
            case .cancelOrder: [field("reason", "Reason", "customer request")]
            case .requestReturn: [field("return_id", "Return id", "RET-\(s.version + 1)"), field("sku", "SKU", sku), field("qty", "Quantity", "1"), field("reason", "Reason", "")]
            case .receiveReturn: [field("return_id", "Return id", openReturn)]
            case .refund: [field("refund_id", "Refund id", "RF-\(s.version + 1)"), field("amount", "Amount (\(s.currency))"),
                           field("payment_id", "Payment id", payment, required: false), field("return_id", "Return id", openReturn, required: false)]
            }
            return (a, fields)
        }
    }

    /// The event's JSON for `form` (the form's fields by name), or a message saying which
    /// field is wrong. `currency` reads the refund amount in major units (`12.34` → 1234 in a
    /// two-decimal currency).
    static func eventJSON(orderID: OrderID, form: [String: String], agent: String, currency: String) -> Result<String, AgentActionError> {
        guard let action = form["action"].flatMap(AgentAction.init(rawValue:)) else {
            return .failure(AgentActionError("unknown action \"\(form["action"] ?? "")\""))
        }
        func text(_ name: String) -> Result<String, AgentActionError> {
            guard let v = form[name]?.trimmingSpaces, !v.isEmpty else { return .failure(AgentActionError("\(name) is required")) }
            return .success(v)
        }
        func quantity() -> Result<Int64, AgentActionError> {
            guard let v = form["qty"].flatMap({ Int64($0.trimmingSpaces) }), v > 0 else { return .failure(AgentActionError("qty must be a whole number above 0")) }
            return .success(v)
        }
        var w = JSONWriter()
        w.raw("{\"order_id\":"); w.string(orderID.value)
        w.raw(",\"type\":")
        do throws(AgentActionError) {
            switch action {
            case .note:
                w.string("NoteAdded"); w.raw(","); envelope(&w, agent); w.raw(",\"data\":{\"text\":"); w.string(try text("text").get()); w.raw("}")
            case .cancelItems:
                let sku = try text("sku").get(), qty = try quantity().get()
                w.string("ItemsCancelled"); w.raw(","); envelope(&w, agent)
                w.raw(",\"data\":{\"lines\":[{\"sku\":"); w.string(sku); w.raw(",\"qty\":\(qty)}],\"reason\":"); w.string(form["reason"]?.trimmingSpaces ?? ""); w.raw("}")
            case .cancelOrder:
                w.string("OrderCancelled"); w.raw(","); envelope(&w, agent); w.raw(",\"data\":{\"reason\":"); w.string(form["reason"]?.trimmingSpaces ?? ""); w.raw("}")
            case .requestReturn:
                let id = try text("return_id").get(), sku = try text("sku").get(), qty = try quantity().get()
                w.string("ReturnRequested"); w.raw(","); envelope(&w, agent)
                w.raw(",\"data\":{\"return_id\":"); w.string(id); w.raw(",\"lines\":[{\"sku\":"); w.string(sku); w.raw(",\"qty\":\(qty)}],\"reason\":")
                w.string(form["reason"]?.trimmingSpaces ?? ""); w.raw("}")
            case .receiveReturn:
                w.string("ReturnReceived"); w.raw(","); envelope(&w, agent); w.raw(",\"data\":{\"return_id\":"); w.string(try text("return_id").get()); w.raw("}")
            case .refund:
                let id = try text("refund_id").get()
                guard let minor = minorUnits(try text("amount").get(), currency) else {
                    return .failure(AgentActionError("amount must be a positive amount of \(currency), e.g. 12.50"))
                }
                w.string("RefundIssued"); w.raw(","); envelope(&w, agent)
                w.raw(",\"data\":{\"refund_id\":"); w.string(id); w.raw(",\"amount_minor\":\(minor)")
                if let p = form["payment_id"]?.trimmingSpaces, !p.isEmpty { w.raw(",\"payment_id\":"); w.string(p) }
                if let r = form["return_id"]?.trimmingSpaces, !r.isEmpty { w.raw(",\"return_id\":"); w.string(r) }
                w.raw("}")
            }
        } catch {
            return .failure(error)
        }
        w.raw("}")
        return .success(w.text)
    }

    private static func envelope(_ w: inout JSONWriter, _ agent: String) {
        w.raw("\"actor\":{\"kind\":\"agent\",\"id\":"); w.string(agent); w.raw("},\"channel\":\"service-console\"")
    }

    /// `12.34` in major units of `currency` as minor units (1234 for two decimals), or nil
    /// for text that is not a positive amount with at most the currency's decimals.
    static func minorUnits(_ text: String, _ currency: String) -> Int64? {
        // A code ISO 4217 does not list is shown in minor units (`Currency.format`): read so.
        let exponent = Currency.exponent(of: currency) ?? 0
        guard !text.isEmpty, text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }) else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int64(parts[0].isEmpty ? "0" : String(parts[0])), whole >= 0 else { return nil }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        guard fraction.count <= exponent, fraction.allSatisfy(\.isNumber) else { return nil }
        fraction += String(repeating: "0", count: exponent - fraction.count)
        var scale: Int64 = 1
        for _ in 0..<exponent { scale *= 10 }
        let (m, o1) = whole.multipliedReportingOverflow(by: scale)
        let (v, o2) = m.addingReportingOverflow(Int64(fraction.isEmpty ? "0" : fraction) ?? 0)
        guard !o1, !o2, v > 0 else { return nil }
        return v
    }
}

struct AgentActionError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}
