import Foundation
import Hummingbird
import Mustache
import NIOCore
import OrderLogServer
import OrderModel
import OrderStore

/// The service console (issue 14): server-rendered pages on the API's port — search, a
/// customer's orders, an order with its live timeline, work queues, a dashboard, and agent
/// actions through the same checks as every other way in. Signed in by a cookie holding a
/// token (with `--tokens`) and the agent's name; without tokens, local browsers act as admin.
struct Console: Sendable {
    let api: OrderLogAPI
    /// Whether the server has a tokens file (the sign-in form asks for one).
    let tokens: Bool
    let library: MustacheLibrary
    let dashboard: DashboardFigures
    let openReturns: OpenReturns

    static let tokenCookie = "orderlog_token"
    static let agentCookie = "orderlog_agent"

    init(api: OrderLogAPI, tokens: Bool) throws {
        self.api = api
        self.tokens = tokens
        library = try ConsoleTemplates.library()
        dashboard = DashboardFigures(store: api.store)
        openReturns = OpenReturns(store: api.store)
    }

    func add(to router: Router<APIContext>) {
        router.get("/") { request, context in try await home(request, context) }
        router.get("/console/login") { request, context in try login(request, context) }
        router.post("/console/login") { request, context in try await signIn(request, context) }
        router.get("/console/search") { request, context in try await search(request, context) }
        router.get("/console/customers/:id") { request, context in try await customer(request, context) }
        router.get("/console/orders/:id") { request, context in try await order(request, context) }
        router.post("/console/orders/:id/actions") { request, context in try await act(request, context) }
        router.get("/console/queues") { request, context in try await queue(request, context) }
        router.get("/console/dashboard") { request, context in try await dashboardPage(request, context) }
    }

    // MARK: Pages

    func home(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let store = api.store
        let wanted: [(OrderSnapshot.Status, Int, String)] = [
            (.paid, 24, "Paid, not shipped after 24 h"), (.authorized, 24, "Authorized, not captured after 24 h"),
            (.awaitingPayment, 0, "Awaiting payment"), (.partiallyShipped, 48, "Partially shipped after 48 h"), (.placed, 1, "Placed, no payment after 1 h"),
        ]
        // (Returns waiting are a queue of their own, linked below: counting them scans the log.)
        let totals = try await offload { wanted.map { store.orders(withStatus: $0.0, after: nil, limit: 1).total } }
        let queues: [[String: Any]] = zip(wanted, totals).map { q, total in
            ["href": "/console/queues?status=\(q.0.rawValue)&hours=\(q.1)", "label": q.2, "count": "\(total) \(q.0.rawValue)"]
        }
        let all = queues + [["href": "/console/queues?status=returns&hours=24", "label": "Returns requested, not received after 24 h", "count": ""]]
        return page("home", title: "Search", request, context, ["orders": store.orderCount, "events": store.endPosition, "queues": all])
    }

    func login(_ request: Request, _ context: APIContext) throws -> Response {
        page("login", title: "Sign in", request, context, ["tokens": tokens])
    }

    /// Sets the cookies (HttpOnly, SameSite=Strict: a page elsewhere cannot act through them)
    /// after checking the token gives a role.
    func signIn(_ request: Request, _ context: APIContext) async throws -> Response {
        let form = try await formFields(request)
        let agent = (form["agent"] ?? "").trimmingSpaces
        guard !agent.isEmpty, agent.utf8.count <= 64 else {
            return page("login", title: "Sign in", request, context, ["tokens": tokens, "flash": ["kind": "err", "text": "An agent name of 1–64 characters is needed."]], status: .badRequest)
        }
        let token = form["token"] ?? ""
        if tokens {
            guard context.role(token: token) != nil else {
                return page("login", title: "Sign in", request, context, ["tokens": tokens, "agent": agent, "flash": ["kind": "err", "text": "That token is not one of the server's."]], status: .unauthorized)
            }
        }
        var response = Response(status: .seeOther, headers: [.location: "/"])
        if tokens { response.setCookie(Cookie(name: Self.tokenCookie, value: ConsoleViews.pathSegment(token), path: "/", httpOnly: true, sameSite: .strict)) }
        response.setCookie(Cookie(name: Self.agentCookie, value: ConsoleViews.pathSegment(agent), path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    /// An order id, then a customer id, then a tracking number (a scan of the log's shipments
    /// on the console's scan thread, oldest first, at most 20 matches; about a second at 7.6 M
    /// events — no index of tracking numbers is kept).
    func search(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let q = (request.uri.queryParameters.get("q") ?? "").trimmingSpaces
        guard !q.isEmpty, q.utf8.count <= 256 else { return Response(status: .seeOther, headers: [.location: "/"]) }
        let store = api.store
        if let id = try? OrderID(q), try await offload({ try store.snapshot(id) }) != nil {
            return Response(status: .seeOther, headers: [.location: "/console/orders/" + ConsoleViews.pathSegment(q)])
        }
        if try await offload({ try store.orders(ofCustomer: q, after: nil, limit: 1).total }) > 0 {
            return Response(status: .seeOther, headers: [.location: "/console/customers/" + ConsoleViews.pathSegment(q)])
        }
        let wanted = Array(q.utf8)
        let matches: [[String: String]] = try await offload(on: scanPool) {
            var found: [[String: String]] = []
            try store.forEachEventView(from: 0, keyMatches: { _ in true }) { e in
                if case .shipped(let f, let carrier, let tracking) = e.event.data, tracking.bytes.elementsEqual(wanted) {
                    found.append(["order": String(decoding: e.orderID, as: UTF8.self), "fulfillment": f.string, "carrier": carrier.string])
                }
                return found.count < 20
            }
            return found
        }
        if matches.count == 1, let only = matches.first?["order"] {
            return Response(status: .seeOther, headers: [.location: "/console/orders/" + ConsoleViews.pathSegment(only)])
        }
        return page("search", title: "Search", request, context, ["query": q, "matches": matches, "hasMatches": !matches.isEmpty])
    }

    func customer(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let customer = context.pathParameter("id") ?? ""
        let after = request.uri.queryParameters.get("after")
        let store = api.store
        let (found, total, next): ([(OrderSnapshot, Int64?)], Int, String?) = try await offload {
            let page = try store.orders(ofCustomer: customer, after: after?.isEmpty == false ? after : nil, limit: 50)
            let found = try page.ids.compactMap { id -> (OrderSnapshot, Int64?)? in
                guard let s = try store.snapshot(id) else { return nil }
                return (s, try Self.recordedTime(store, s.lastPosition))
            }
            return (found, page.total, page.next)
        }
        let rows = found.map { ConsoleViews.row($0.0, lastChange: $0.1) }
        var model: [String: Any] = ["customer": customer, "orders": rows, "total": total]
        if let next { model["next"] = ConsoleViews.pathSegment(next) }
        return page("customer", title: "Customer \(customer)", request, context, model)
    }

    func order(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        guard let id = try? OrderID(context.pathParameter("id") ?? "") else { throw APIError.notFound("no such order") }
        let store = api.store
        // The page's live stream starts at the log's end as read before the order is: every
        // later event of the order reaches the page, and the stream does not read the log
        // from the order's last event on.
        let (end, snapshot, history) = try await offload { (store.endPosition, try store.snapshot(id), try store.history(id)) }
        guard let snapshot else {
            return page("message", title: "Not found", request, context, ["heading": "No order \(id.value)", "text": "Nothing is stored for this order id."], status: .notFound)
        }
        var model = ConsoleViews.order(snapshot, history: history, canAct: context.role?.mayAppend == true, streamFrom: end)
        if let flash = request.uri.queryParameters.get("done") { model["flash"] = ["kind": "ok", "text": flash] }
        if request.uri.queryParameters.get("fragment") != nil {
            let html = model["orderBody"] as? String ?? ""
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        return page("order", title: "Order \(id.value)", request, context, model)
    }

    /// An agent action: the form read into the event it asks for, stored through the same
    /// checks as any event; on refusal the order page again with the rule's message.
    func act(_ request: Request, _ context: APIContext) async throws -> Response {
        guard let id = try? OrderID(context.pathParameter("id") ?? "") else { throw APIError.notFound("no such order") }
        // (A form posted from another site carries no cookie — SameSite=Strict — and any POST
        // from another Origin is refused before this: AccessMiddleware.)
        try context.requireAppend("act on orders")
        let form = try await formFields(request)
        let store = api.store
        guard let snapshot = try await offload({ try store.snapshot(id) }) else { throw APIError.notFound("no order \(id.value)") }
        let agent = context.agent ?? "console"
        let back = "/console/orders/" + ConsoleViews.pathSegment(id.value)
        func refused(_ message: String) async throws -> Response {
            let (end, history) = try await offload { (store.endPosition, try store.history(id)) }
            var model = ConsoleViews.order(snapshot, history: history, canAct: true, streamFrom: end)
            model["flash"] = ["kind": "err", "text": message]
            return page("order", title: "Order \(id.value)", request, context, model, status: .unprocessableContent)
        }
        let json: String
        switch AgentAction.eventJSON(orderID: id, form: form, agent: agent, currency: snapshot.currency) {
        case .success(let text): json = text
        case .failure(let error): return try await refused(error.message)
        }
        do {
            let records = try OrderEvent.decodeJSONRecords(body: Array(json.utf8))
            _ = try await api.storeRecords(records)
        } catch let error as OrderError {
            return try await refused("Refused (\(error.code.rawValue)): \(error.message)")
        } catch let error as APIError {
            return try await refused("Refused (\(error.code)): \(error.message)")
        }
        let label = AgentAction(rawValue: form["action"] ?? "")?.label ?? "Done"
        return Response(status: .seeOther, headers: [.location: back + "?done=" + ConsoleViews.pathSegment(label + ": recorded")])
    }

    /// Orders with a status, oldest first within a page of the status list, with how long each
    /// has been in it (since the milestone that put it there, else since its last change).
    func queue(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let query = request.uri.queryParameters
        if query.get("status") == "returns" { return try await returnsQueue(request, context) }
        let status = OrderSnapshot.Status(rawValue: query.get("status") ?? "paid") ?? .paid
        let hours = max(0, min(24 * 365, Int(query.get("hours") ?? "24") ?? 24))
        let after = query.get("after")
        let store = api.store
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let (found, total, next): ([(OrderSnapshot, Int64)], Int, String?) = try await offload {
            let page = store.orders(withStatus: status, after: after?.isEmpty == false ? after : nil, limit: 200)
            var found: [(OrderSnapshot, Int64)] = []
            for id in page.ids {
                guard let s = try store.snapshot(id) else { continue }
                let since = try Self.since(s, store) ?? now
                guard (now - since) / 3_600_000_000 >= hours else { continue }
                found.append((s, since))
            }
            return (found.sorted { $0.1 < $1.1 }, page.total, page.next)
        }
        let rows = found.map { s, since -> [String: Any] in
            var row = ConsoleViews.row(s, lastChange: nil)
            row["since"] = ConsoleViews.time(since)
            row["age"] = (now - since) / 3_600_000_000
            return row
        }
        let label = status.rawValue.replacingOccurrences(of: "_", with: " ")
        var model: [String: Any] = [
            "label": label, "status": status.rawValue, "hours": hours, "orders": rows, "total": total,
            "statuses": [["name": "returns", "selected": false]] + OrderSnapshot.Status.allCases.map { ["name": $0.rawValue, "selected": $0 == status] },
        ]
        if let next { model["next"] = ConsoleViews.pathSegment(next) }
        return page("queue", title: "Queue: \(label)", request, context, model)
    }

    /// Returns requested and not received, oldest request first, those older than `hours`,
    /// 200 a page (`after`: how many to skip).
    func returnsQueue(_ request: Request, _ context: APIContext) async throws -> Response {
        let query = request.uri.queryParameters
        let hours = max(0, min(24 * 365, Int(query.get("hours") ?? "24") ?? 24))
        let skip = max(0, min(Int(query.get("after") ?? "0") ?? 0, Int(Int32.max)))
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let store = api.store, openReturns = self.openReturns
        let (found, total): ([(OrderSnapshot, OpenReturns.Open)], Int) = try await offload(on: scanPool) {
            let waiting = try openReturns.list().filter { (now - $0.requestedAt) / 3_600_000_000 >= hours }
            let page = waiting.dropFirst(skip).prefix(200)
            let found = try page.compactMap { r -> (OrderSnapshot, OpenReturns.Open)? in
                guard let id = try? OrderID(r.orderID), let s = try store.snapshot(id) else { return nil }
                return (s, r)
            }
            return (found, waiting.count)
        }
        let rows = found.map { s, r -> [String: Any] in
            var row = ConsoleViews.row(s, lastChange: nil)
            row["since"] = ConsoleViews.time(r.requestedAt) + " (return " + r.returnID + ")"
            row["age"] = (now - r.requestedAt) / 3_600_000_000
            return row
        }
        var model: [String: Any] = [
            "label": "returns requested, not received", "status": "returns", "hours": hours, "orders": rows, "total": total,
            "statuses": [["name": "returns", "selected": true]] + OrderSnapshot.Status.allCases.map { ["name": $0.rawValue, "selected": false] },
        ]
        if total - skip > 200 { model["next"] = "\(skip + 200)" }
        return page("queue", title: "Queue: returns", request, context, model)
    }

    func dashboardPage(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let days = max(1, min(366, Int(request.uri.queryParameters.get("days") ?? "30") ?? 30))
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let dashboard = self.dashboard
        let f = try await offload(on: scanPool) { try dashboard.figures(now: now) }
        // The last `days` days that have orders (a generated store's dates need not be today's).
        let shown = Array(f.ordersByDay.keys.sorted().suffix(days))
        let ordersChart = SVGChart.columns(shown.map { (String($0.dropFirst(5)), f.ordersByDay[$0] ?? 0) })
        let currencies = f.moneyByDay.keys.sorted().map { code -> [String: Any] in
            let byDay = f.moneyByDay[code] ?? [:]
            return ["code": code, "chart": SVGChart.columns(shown.map { (String($0.dropFirst(5)), byDay[$0] ?? 0) }, format: { ConsoleViews.money($0, code) })]
        }
        let channels = SVGChart.bars(f.ordersByChannel.sorted { $0.value > $1.value }.map { ($0.key, $0.value) })
        return page("dashboard", title: "Dashboard", request, context, [
            "days": days, "events": f.events, "computed": ConsoleViews.time(f.computedAtTime),
            "ordersChart": ordersChart, "currencies": currencies, "channelsChart": channels,
        ])
    }

    // MARK: Parts

    /// When the order entered its status: the milestone for it, else its last change.
    static func since(_ s: OrderSnapshot, _ store: OrderStore) throws -> Int64? {
        switch s.status {
        case .paid: s.paidAt ?? s.placedAt
        case .shipped, .partiallyShipped: s.shippedAt ?? s.placedAt
        case .delivered: s.deliveredAt
        case .placed: s.placedAt
        default: try recordedTime(store, s.lastPosition) ?? s.placedAt
        }
    }

    /// The recorded time of the event at `position`.
    static func recordedTime(_ store: OrderStore, _ position: UInt64?) throws -> Int64? {
        guard let position else { return nil }
        return try store.events(from: position, limit: 1).first?.recordedAt
    }


    private func page(_ template: String, title: String, _ request: Request, _ context: APIContext, _ model: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        var m = model
        m["title"] = title
        m["agent"] = context.agent ?? (tokens ? nil : "console")
        m["query"] = m["query"] ?? ""
        let html = library.render(m, withTemplate: template) ?? "template \(template) missing"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// An `application/x-www-form-urlencoded` body's fields (at most 64 KiB).
    private func formFields(_ request: Request) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 64 << 10)
        return Self.decodeForm(String(buffer: body))
    }

    static func decodeForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { (String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding) ?? String(s) }
            fields[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return fields
    }
}
