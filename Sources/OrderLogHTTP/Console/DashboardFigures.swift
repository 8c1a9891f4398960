import OrderModel
import OrderStore
import Synchronization

/// What the dashboard draws: orders and money placed per day, by channel and currency, from
/// one scan of the log's OrderPlaced events (each order's placing time and its placed value:
/// lines, shipping, tax, less discount). The scan reads every event's bytes in place; its
/// result is kept until the log has grown and a minute has passed, so a busy dashboard costs
/// one scan a minute (at 7.6 M events, about a second).
final class DashboardFigures: Sendable {
    struct Figures: Sendable {
        /// Days (`2026-03-01`) in order, with orders placed.
        var ordersByDay: [String: Int64] = [:]
        /// By currency, by day: money placed, minor units.
        var moneyByDay: [String: [String: Int64]] = [:]
        var ordersByChannel: [String: Int64] = [:]
        var events: UInt64 = 0
        var computedAt: ContinuousClock.Instant = .now
        var computedAtTime: Int64 = 0
    }

    private let store: OrderStore
    private let cached = Mutex<Figures?>(nil)

    init(store: OrderStore) { self.store = store }

    func figures(now: Int64) throws -> Figures {
        let end = store.endPosition
        if let c = cached.withLock({ $0 }), c.events == end || ContinuousClock.now - c.computedAt < .seconds(60) { return c }
        var f = Figures()
        f.events = end
        f.computedAtTime = now
        try store.forEachEventView(from: 0, to: end, keyMatches: { _ in true }) { e in
            guard case .orderPlaced(_, let channel, let currency, let lines, let shipping, let tax, let discount) = e.event.data else { return true }
            let time = e.event.ts?.microseconds ?? e.stored.recordedAt
            let day = String(EventTime(microseconds: time).rfc3339.prefix(10))
            var value: Int64 = (shipping ?? 0) &+ (tax ?? 0) &- (discount ?? 0)
            for l in lines { value = value &+ l.qty &* l.unitPriceMinor }
            f.ordersByDay[day, default: 0] += 1
            f.moneyByDay[currency.string, default: [:]][day, default: 0] &+= value
            f.ordersByChannel[channel.string, default: 0] += 1
            return true
        }
        cached.withLock { $0 = f }
        return f
    }
}
