import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import OrderStore
import WireProtocol

/// `--data DIR` or `--server HOST:PORT`: where a read command gets its orders.
struct SourceOptions: ParsableArguments {
    @Option(help: "Data directory (embedded mode).") var data: String?
    @Option(help: "Server address, HOST:PORT (network mode).") var server: String?
    @Option(help: "Token for a server started with --tokens (default: $ORDERLOG_TOKEN).") var token: String?

    func validate() throws {
        guard (data == nil) != (server == nil) else { throw ValidationError("give --data DIR or --server HOST:PORT") }
    }

    func open() async throws -> OrderSource {
        if let data { return .local(try OrderStore.open(path: data)) }
        let (host, port) = try parseServer(server!)
        return .remote(try await OrderLogClient.connect(host: host, port: port, clientName: "orderlog-cli", token: resolvedToken(token)))
    }
}

/// `--token`, else the environment's ORDERLOG_TOKEN, else none (enough for a server that
/// accepts local clients without tokens).
func resolvedToken(_ token: String?) -> String {
    token ?? ProcessInfo.processInfo.environment["ORDERLOG_TOKEN"] ?? ""
}

/// The same reads over a local store or a server. Over the network a snapshot is rebuilt from
/// the order's history exactly as the store rebuilds it (the same events, the same rules), so
/// both modes print the same thing.
enum OrderSource {
    case local(OrderStore)
    case remote(OrderLogClient)

    func snapshot(_ id: OrderID, asOfTime: Int64? = nil, asOfPosition: UInt64? = nil) async throws -> OrderSnapshot? {
        switch self {
        case .local(let store):
            if let asOfTime { return try store.snapshot(id, asOfTime: asOfTime) }
            if let asOfPosition { return try store.snapshot(id, asOfPosition: asOfPosition) }
            return try store.snapshot(id)
        case .remote(let client):
            // As of a time, the server decides which events count (a restore's recorded times
            // may run ahead of its clock, EVENTS.md §4): its snapshot names the last position.
            var through = asOfPosition ?? .max
            if let asOfTime {
                guard let json = try await client.snapshotJSON(id.value, asOf: .time(asOfTime)) else { return nil }
                guard case .object(let members, _)? = try? JSONParser.parse(Array(json.utf8)),
                      case .number(_, let raw)? = members.first(where: { $0.0 == "last_position" })?.1, let last = UInt64(raw) else {
                    throw CLIError("the server's snapshot of \(id) names no last position")
                }
                through = last
            }
            let events = try await history(id).prefix { $0.position <= through }
            let snapshot = OrderSnapshot.replaying(id, events)
            return snapshot.exists ? snapshot : nil
        }
    }

    func history(_ id: OrderID) async throws -> [StoredEvent] {
        switch self {
        case .local(let store): try store.history(id)
        case .remote(let client): try await client.history(id.value)
        }
    }

    func orders(customer: String?, status: OrderSnapshot.Status?, limit: Int) async throws -> (total: Int, ids: [OrderID]) {
        switch self {
        case .local(let store):
            let ids = customer.map { store.orders(ofCustomer: $0) } ?? store.orders(withStatus: status!)
            return (ids.count, Array(ids.prefix(limit)))
        case .remote(let client):
            let (total, ids) = customer != nil ? try await client.orders(customer: customer!, limit: limit)
                                               : try await client.orders(status: status!.rawValue, limit: limit)
            return (total, ids.compactMap { try? OrderID($0) })
        }
    }

    func totals(asOf: Int64?) async throws -> [TotalsRow] {
        switch self {
        case .local(let store): return try store.totals(asOf: asOf)
        case .remote(let client):
            return try await client.totals(asOf: asOf).map {
                TotalsRow(currency: $0.currency, channel: $0.channel, orders: Int($0.orders), total: $0.total, captured: $0.captured, refunded: $0.refunded)
            }
        }
    }

    /// Every stored event from `position`, in log order.
    func forEachEvent(from position: UInt64, _ body: (StoredEvent) throws -> Void) async throws {
        switch self {
        case .local(let store):
            try store.forEachEvent(from: position) { try body($0); return true }
        case .remote(let client):
            for try await stored in try await client.subscribe(from: .position(position), credits: 10_000, follow: false) { try body(stored) }
        }
    }

    func close() async {
        switch self {
        case .local(let store): try? store.close()
        case .remote(let client): await client.close()
        }
    }
}
