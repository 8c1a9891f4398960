import ArgumentParser
import Foundation
import OrderModel
import OrderStore

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show an order's snapshot: now, as of a time, or as of a log position.")

    @Argument(help: "The order id.") var orderID: String
    @OptionGroup var source: SourceOptions
    @Option(help: "As recorded at this RFC 3339 time.") var asOf: String?
    @Option(help: "As of this global log position (events at or before it).") var position: UInt64?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if asOf != nil && position != nil { throw ValidationError("give --as-of or --position, not both") }
    }

    func run() async throws {
        let id = try parseOrderID(orderID)
        let orders = try await source.open()
        let snapshot = try await orders.snapshot(id, asOfTime: try asOf.map(parseTime), asOfPosition: position)
        await orders.close()
        guard let s = snapshot else {
            if json { print("null") }
            throw CLIError("order \(orderID) not found" + (asOf.map { " as of \($0)" } ?? position.map { " as of position \($0)" } ?? ""))
        }
        if json { print(s.json); return }
        let c = s.currency
        print("Order \(s.orderID)  \(s.status.rawValue) · payment \(s.paymentStatus.rawValue) · returns \(s.returnStatus.rawValue)")
        print("customer \(s.customerID) · channel \(s.channel) · version \(s.version) · last position \(s.lastPosition.map(String.init) ?? "-")")
        print("total \(money(s.totalMinor, c)) · authorized \(money(s.authorizedMinor, c)) · captured \(money(s.capturedMinor, c)) · voided \(money(s.voidedMinor, c)) · refunded \(money(s.refundedMinor, c))")
        if s.netPaidMinor != s.totalMinor || s.openAuthorizationMinor > 0 {
            print("net paid \(money(s.netPaidMinor, c)) · due \(money(max(0, s.totalMinor - s.netPaidMinor), c)) · open authorization \(money(s.openAuthorizationMinor, c))")
        }
        if s.fulfilledUnpaid { print("attention: units were sent to fulfillment with nothing paid or authorized") }
        print("")
        var rows = [["SKU", "PRICE", "ORDERED", "CANCELLED", "REQUESTED", "PACKED", "SHIPPED", "DELIVERED", "RETURN REQ", "RETURNED"]]
        for l in s.lines {
            rows.append([l.sku, money(l.unitPriceMinor, c), "\(l.ordered)", "\(l.cancelled)", "\(l.requested)", "\(l.packed)", "\(l.shipped)", "\(l.delivered)", "\(l.returnRequested)", "\(l.returned)"])
        }
        print(table(rows))
        if !s.fulfillments.isEmpty {
            print("\nFulfillments")
            print(table([["ID", "STATE", "LOCATION", "CARRIER", "TRACKING", "LINES"]] + s.fulfillments.map { f in
                [f.id, f.state.rawValue, f.location, f.carrier ?? "-", f.trackingNo ?? "-",
                 f.lines.map { "\($0.sku)×\($0.qty)" }.joined(separator: " ") + (f.cancelledLines.isEmpty ? "" : " (cancelled " + f.cancelledLines.map { "\($0.sku)×\($0.qty)" }.joined(separator: " ") + ")")]
            }))
        }
        if !s.returns.isEmpty {
            print("\nReturns")
            print(table([["ID", "STATE", "REASON", "LINES"]] + s.returns.map { r in
                [r.id, r.received == nil ? "requested" : "received", r.reason, r.lines.map { "\($0.sku)×\($0.qty)" }.joined(separator: " ")]
            }))
        }
        if !s.refunds.isEmpty {
            print("\nRefunds")
            print(table([["ID", "AMOUNT", "PAYMENT", "RETURN"]] + s.refunds.map { [$0.id, money($0.amountMinor, c), $0.paymentID ?? "-", $0.returnID ?? "-"] }))
        }
        print("\nplaced \(timeText(s.placedAt)) · paid \(timeText(s.paidAt)) · shipped \(timeText(s.shippedAt)) · delivered \(timeText(s.deliveredAt))")
    }
}

struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show an order's timeline: every event with its actor, channel and position.")

    @Argument(help: "The order id.") var orderID: String
    @OptionGroup var source: SourceOptions
    @Flag(help: "Print JSONL (the export form).") var json = false

    func run() async throws {
        let id = try parseOrderID(orderID)
        let orders = try await source.open()
        let events = try await orders.history(id)
        await orders.close()
        guard !events.isEmpty else { throw CLIError("order \(orderID) not found") }
        if json {
            for e in events { print(try e.exportLine()) }
            return
        }
        var rows = [["SEQ", "POSITION", "TIME", "EVENT", "ACTOR", "CHANNEL", "DETAILS"]]
        for e in events {
            let actor = e.event.actor.map { "\($0.kind.rawValue):\($0.id)" } ?? "-"
            rows.append(["\(e.seq)", "\(e.position)", timeText(e.effectiveTime), e.event.type.rawValue, actor, e.event.channel ?? "-", e.event.data.json])
        }
        print(table(rows))
    }
}

struct OrdersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "orders", abstract: "List a customer's orders (newest first) or the orders in a status.")

    @OptionGroup var source: SourceOptions
    @Option(help: "A customer id.") var customer: String?
    @Option(help: "A status: \(OrderSnapshot.Status.allCases.map(\.rawValue).joined(separator: ", ")).") var status: String?
    @Option(help: "Show at most this many.") var limit = 100
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard (customer == nil) != (status == nil) else { throw ValidationError("give exactly one of --customer or --status") }
        if let status, OrderSnapshot.Status(rawValue: status) == nil {
            throw ValidationError("unknown status \"\(status)\"; one of: \(OrderSnapshot.Status.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let orders = try await source.open()
        let (total, ids) = try await orders.orders(customer: customer, status: status.flatMap(OrderSnapshot.Status.init(rawValue:)), limit: limit)
        var shown: [OrderSnapshot] = []
        for id in ids { if let s = try await orders.snapshot(id) { shown.append(s) } }
        await orders.close()
        if json {
            print("{\"count\":\(total),\"orders\":[" + shown.map(\.json).joined(separator: ",") + "]}")
            return
        }
        var rows = [["ORDER", "STATUS", "PAYMENT", "TOTAL", "CUSTOMER", "PLACED"]]
        for s in shown { rows.append([s.orderID.value, s.status.rawValue, s.paymentStatus.rawValue, money(s.totalMinor, s.currency), s.customerID, timeText(s.placedAt)]) }
        print(table(rows))
        print("\(total) order(s)" + (total > shown.count ? ", first \(shown.count) shown (--limit)" : ""))
    }
}

struct TotalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "totals", abstract: "Totals per currency and channel: orders, total, captured, refunded, net.")

    @OptionGroup var source: SourceOptions
    @Option(help: "As recorded at this RFC 3339 time.") var asOf: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let orders = try await source.open()
        let rows = try await orders.totals(asOf: try asOf.map(parseTime))
        await orders.close()
        if json {
            print("[" + rows.map { r in
                "{\"currency\":\(JSONWriter.quoted(r.currency)),\"channel\":\(JSONWriter.quoted(r.channel)),\"orders\":\(r.orders),\"total_minor\":\(r.total),\"captured_minor\":\(r.captured),\"refunded_minor\":\(r.refunded),\"net_minor\":\(r.net)}"
            }.joined(separator: ",") + "]")
            return
        }
        print(table([["CURRENCY", "CHANNEL", "ORDERS", "TOTAL", "CAPTURED", "REFUNDED", "NET"]] + rows.map { r in
            [r.currency, r.channel, "\(r.orders)", money(r.total, r.currency), money(r.captured, r.currency), money(r.refunded, r.currency), money(r.net, r.currency)]
        }))
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Replay every event: re-check checksums and every rule, rebuild every snapshot, report counts, money and violations.",
        discussion: "Exits 1 when there is any violation.")

    @Option(help: "Data directory.") var data: String
    @Flag(help: "Print one JSON object with events, orders, by_status, money, violations.") var json = false

    func run() throws {
        // The wall clock a user waits: opening the log (its recovery) included.
        let started = ContinuousClock.now
        let r = try OrderStore.audit(path: data)
        let seconds = (ContinuousClock.now - started).seconds
        if json {
            var w = JSONWriter()
            w.raw("{\"events\":\(r.events),\"orders\":\(r.orders),\"by_status\":{")
            w.raw(r.byStatus.sorted { $0.key < $1.key }.map { "\(JSONWriter.quoted($0.key)):\($0.value)" }.joined(separator: ","))
            w.raw("},\"money\":{")
            w.raw(r.money.sorted { $0.key < $1.key }.map { c, m in
                "\(JSONWriter.quoted(c)):{\"orders\":\(m.orders),\"total_minor\":\(m.total),\"authorized_minor\":\(m.authorized),\"captured_minor\":\(m.captured),\"voided_minor\":\(m.voided),\"refunded_minor\":\(m.refunded)}"
            }.joined(separator: ","))
            w.raw("},\"violations\":[")
            w.raw(r.violations.map { v in
                "{\"position\":\(v.position.map(String.init) ?? "null"),\"order_id\":\(v.orderID.map(JSONWriter.quoted) ?? "null"),\"code\":\(JSONWriter.quoted(v.code)),\"message\":\(JSONWriter.quoted(v.message))}"
            }.joined(separator: ","))
            w.raw("],\"checkpoint\":")
            w.raw(r.checkpoint.map { c in "{\"path\":\(JSONWriter.quoted(c.path)),\"position\":\(c.position),\"orders\":\(c.orders),\"differences\":\(c.differences)}" } ?? "null")
            w.raw(",\"checkpoint_problems\":[")
            w.raw(r.checkpointProblems.map { p in "{\"file\":\(JSONWriter.quoted(p.file)),\"kind\":\(JSONWriter.quoted(p.kind.rawValue)),\"message\":\(JSONWriter.quoted(p.message))}" }.joined(separator: ","))
            w.raw("]}")
            print(w.text)
        } else {
            print("audit of \(data): \(r.events) events, \(r.orders) orders, audited in " + String(format: "%.2f s (%.0f events/s, opening the log included)", seconds, Double(r.events) / max(seconds, 1e-9)))
            print("\nby status")
            print(table(r.byStatus.sorted { $0.key < $1.key }.map { ["  " + $0.key, "\($0.value)"] }))
            print("\nmoney")
            print(table([["  CURRENCY", "ORDERS", "TOTAL", "AUTHORIZED", "CAPTURED", "VOIDED", "REFUNDED"]] + r.money.sorted { $0.key < $1.key }.map { c, m in
                ["  " + c, "\(m.orders)", money(m.total, c), money(m.authorized, c), money(m.captured, c), money(m.voided, c), money(m.refunded, c)]
            }))
            if let c = r.checkpoint {
                print("\ncheckpoint at position \(c.position) (\(c.orders) orders): " + (c.differences == 0 ? "every state matches the replay" : "\(c.differences) difference(s) from the replay (violations below)"))
            }
            for p in r.checkpointProblems { print("checkpoint not usable: \(p)") }
            if r.violations.isEmpty {
                print("\nno violations")
            } else {
                print("\n\(r.violations.count) violation(s)")
                for v in r.violations { print("  position \(v.position.map(String.init) ?? "?") \(v.orderID ?? "") \(v.code): \(v.message)") }
            }
        }
        if !r.isClean { throw ExitCode(1) }
    }
}
