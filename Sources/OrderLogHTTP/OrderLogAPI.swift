import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import OrderLogServer
import OrderModel
import OrderStore

/// The HTTP API's routes (docs/openapi.yaml): JSON in the forms of docs/EVENTS.md, over the
/// store — a thin shell. Reads and writes run on NIO's thread pool, not on the event loop
/// (a large order's history or a totals as-of takes milliseconds).
public struct OrderLogAPI: Sendable {
    let store: OrderStore
    let configuration: HTTPConfiguration
    let streams: EventStreams
    /// The Prometheus text of the process's metrics, when they are kept.
    let metrics: (@Sendable () -> String)?

    init(store: OrderStore, configuration: HTTPConfiguration, streams: EventStreams, metrics: (@Sendable () -> String)?) {
        self.store = store
        self.configuration = configuration
        self.streams = streams
        self.metrics = metrics
    }

    /// The router: every route behind `AccessMiddleware`; the console's pages on the same port.
    func router(access: AccessPolicy) throws -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: AccessMiddleware(access: access, limiter: RequestRateLimiter(perSecond: configuration.requestsPerSecond)))
        try Console(api: self, tokens: access.tokens != nil).add(to: router)
        router.get("/health") { _, _ in try await health() }
        router.get("/metrics") { _, context in try metricsText(context) }
        router.get("/orders/:id") { request, context in try await order(request, context) }
        router.get("/orders/:id/events") { _, context in try await history(context) }
        router.post("/orders/:id/events") { request, context in try await append(request, context) }
        router.get("/customers/:id/orders") { request, context in try await customerOrders(request, context) }
        router.get("/orders") { request, context in try await ordersByStatus(request, context) }
        router.get("/totals") { request, context in try await totals(request, context) }
        router.get("/events") { request, context in try streams.response(request, context) }
        return router
    }

    // MARK: Reads

    func health() async throws -> Response {
        let end = store.endPosition, orders = store.orderCount
        return json("{\"status\":\"ok\",\"events\":\(end),\"orders\":\(orders)}")
    }

    func metricsText(_ context: APIContext) throws -> Response {
        try context.requireRead()
        guard let metrics else { throw APIError.notFound("metrics are kept only with --metrics-port") }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics())))
    }

    func order(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let id = try orderID(context)
        let query = request.uri.queryParameters
        let asOf = try query.get("as_of").map { try time("as_of", $0) }
        let position = try query.get("position").map { try unsigned("position", $0) }
        if asOf != nil && position != nil { throw APIError.badParameter("as_of", "give as_of or position, not both") }
        let snapshot: OrderSnapshot?
        if asOf == nil && position == nil {
            // The current snapshot is one cache lookup or one read of a stored entry (tens of
            // µs): read here, in the handler's task — a hop to NIO's thread pool and back cost
            // more than the read (docs/BENCHMARKS.md). As-of reads replay: they go to the pool.
            do { snapshot = try store.snapshot(id) } catch let error as StoreError { throw APIError(error) }
        } else {
            snapshot = try await offload {
                if let asOf { return try store.snapshot(id, asOfTime: asOf.microseconds) }
                return try store.snapshot(id, asOfPosition: position!)
            }
        }
        guard let snapshot else { throw APIError.notFound("no order \(id.value)" + (asOf != nil || position != nil ? " at that point" : "")) }
        // Written as bytes and copied once into the body (no String on the way).
        var body = JSONBytes(capacity: 2048)
        snapshot.writeJSON(to: &body)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body.withUnsafeBytes { ByteBuffer(bytes: $0) }))
    }

    func history(_ context: APIContext) async throws -> Response {
        try context.requireRead()
        let id = try orderID(context)
        let events = try await offload { try store.history(id) }
        guard !events.isEmpty else { throw APIError.notFound("no order \(id.value)") }
        var body = "{\"order_id\":" + JSONWriter.quoted(id.value) + ",\"version\":\(events.count),\"events\":["
        for (k, e) in events.enumerated() {
            if k > 0 { body += "," }
            do { body += try e.exportLine() } catch { throw APIError(error) }
        }
        return json(body + "]}")
    }

    func customerOrders(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        guard let customer = context.pathParameter("id"), !customer.isEmpty, customer.utf8.count <= 256 else {
            throw APIError.badParameter("id", "a customer id is 1–256 bytes")
        }
        let (cursor, limit) = try paging(request)
        let page = try await offload { try store.orders(ofCustomer: customer, after: cursor, limit: limit) }
        return try await pageResponse(page, extra: "\"customer_id\":" + JSONWriter.quoted(customer))
    }

    func ordersByStatus(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        guard let name = request.uri.queryParameters.get("status") else {
            throw APIError.badParameter("status", "required: one of " + OrderSnapshot.Status.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let status = OrderSnapshot.Status(rawValue: name) else {
            throw APIError.badParameter("status", "\"\(name)\" is not one of " + OrderSnapshot.Status.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let (cursor, limit) = try paging(request)
        let page = try await offload { store.orders(withStatus: status, after: cursor, limit: limit) }
        return try await pageResponse(page, extra: "\"status\":" + JSONWriter.quoted(status.rawValue))
    }

    func totals(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireRead()
        let asOf = try request.uri.queryParameters.get("as_of").map { try time("as_of", $0) }
        let rows = try await offload { try store.totals(asOf: asOf?.microseconds) }
        let items = rows.map { r in
            "{\"currency\":\(JSONWriter.quoted(r.currency)),\"channel\":\(JSONWriter.quoted(r.channel)),\"orders\":\(r.orders),\"total_minor\":\(r.total),\"captured_minor\":\(r.captured),\"refunded_minor\":\(r.refunded),\"net_minor\":\(r.net)}"
        }
        return json("{\"as_of\":" + (asOf.map { JSONWriter.quoted($0.rfc3339) } ?? "null") + ",\"totals\":[" + items.joined(separator: ",") + "]}")
    }

    /// A page of orders as their snapshots, with the list's size and the next cursor.
    private func pageResponse(_ page: OrderPage, extra: String) async throws -> Response {
        let snapshots = try await offload { try page.ids.compactMap { try store.snapshot($0) } }
        var body = JSONBytes(capacity: 1024 + 2048 * snapshots.count)
        body.raw("{"); body.raw(extra)
        body.raw(",\"total\":"); body.unsigned(UInt64(page.total))
        body.raw(",\"next\":"); if let next = page.next { body.string(next) } else { body.raw("null") }
        body.raw(",\"orders\":[")
        for (i, snapshot) in snapshots.enumerated() {
            if i > 0 { body.raw(",") }
            snapshot.writeJSON(to: &body)
        }
        body.raw("]}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body.withUnsafeBytes { ByteBuffer(bytes: $0) }))
    }

    // MARK: Writes

    /// `POST /orders/{id}/events`: one event object or an array, every one for the order of
    /// the path, stored all or none through the same checks as every other way in.
    func append(_ request: Request, _ context: APIContext) async throws -> Response {
        try context.requireAppend()
        let id = try orderID(context)
        // JSON only: a form or text/plain body (what a page elsewhere can send without asking
        // first) is refused before anything is read.
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            throw APIError(.unsupportedMediaType, "unsupported_media_type", "send the events as Content-Type: application/json")
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: configuration.bodyBytesMax) } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "body_too_large", "the body is over \(configuration.bodyBytesMax) bytes")
        }
        let records: [OrderEvent.JSONRecord]
        do { records = try OrderEvent.decodeJSONRecords(body: Array(body.readableBytesView)) } catch { throw APIError(error) }
        for (k, r) in records.enumerated() {
            if r.orderID != id {
                throw APIError(.badRequest, "invalid_order_id", "events[\(k)] is for order \(r.orderID.value), not \(id.value) of the path", orderID: r.orderID.value, field: "order_id", index: k)
            }
            if r.recordedAt != nil && context.role?.mayKeepRecordedTime != true {
                throw APIError(.forbidden, "forbidden", "events[\(k)]: only role admin may set recorded_at (it says when the log learned of an event)", orderID: id.value, field: "recorded_at", index: k)
            }
        }
        let results = try await storeRecords(records)
        let items = results.map { r -> String in
            switch r {
            case .stored(let p, let seq): "{\"position\":\(p),\"seq\":\(seq),\"duplicate\":false}"
            case .duplicate(let p): "{\"position\":\(p),\"duplicate\":true}"
            }
        }
        let stored = results.contains { if case .stored = $0 { true } else { false } }
        return json("{\"order_id\":" + JSONWriter.quoted(id.value) + ",\"results\":[" + items.joined(separator: ",") + "]}", status: stored ? .created : .ok)
    }

    /// Stores `records` all or none through the store's checks, once durable; a refusal as
    /// the `APIError` naming the event and the rule.
    func storeRecords(_ records: [OrderEvent.JSONRecord]) async throws -> [AppendResult] {
        let appends = records.map {
            AppendRecord(orderID: $0.orderID, type: $0.type, payload: $0.payload, expectedVersion: $0.expectedVersion, recordedAt: $0.recordedAt)
        }
        do {
            let pending = try await offload { try store.write(try store.check(appends)) }
            return try await store.waitUntilDurable(pending)
        } catch let error as StoreError {
            throw APIError(error)
        }
    }

    // MARK: Parts


    private func orderID(_ context: APIContext) throws -> OrderID {
        let text = context.pathParameter("id") ?? ""
        do { return try OrderID(text) } catch { throw APIError(error) }
    }

    private func time(_ name: String, _ text: String) throws -> EventTime {
        do { return try EventTime(rfc3339: text) } catch { throw APIError.badParameter(name, error.message) }
    }

    private func unsigned(_ name: String, _ text: String) throws -> UInt64 {
        guard let v = UInt64(text) else { throw APIError.badParameter(name, "\"\(text)\" is not a whole number ≥ 0") }
        return v
    }

    private func paging(_ request: Request) throws -> (cursor: String?, limit: Int) {
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query.get("limit") {
            guard let n = Int(text), (1...configuration.pageLimitMax).contains(n) else {
                throw APIError.badParameter("limit", "must be 1…\(configuration.pageLimitMax), got \"\(text)\"")
            }
            limit = n
        }
        return (query.get("after").flatMap { $0.isEmpty ? nil : $0 }, limit)
    }

    private func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

}

/// One thread for the console's whole-log scans (a tracking-number search, the dashboard, the
/// open returns): they queue behind each other — a second dashboard view finds the first's
/// figures — and never hold the pool that appends and reads run on.
let scanPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: 1)
    pool.start()
    return pool
}()

/// Runs `body` on NIO's thread pool (or `pool`): store calls block on I/O and locks, and must
/// not hold an event loop. Store and model errors come back as `APIError`s.
func offload<T: Sendable>(on pool: NIOThreadPool = .singleton, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    do {
        return try await pool.runIfActive(body)
    } catch let error as StoreError {
        throw APIError(error)
    } catch let error as OrderError {
        throw APIError(error)
    }
}
