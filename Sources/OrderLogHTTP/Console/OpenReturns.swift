import OrderModel
import OrderStore
import Synchronization

/// Returns requested and not yet received — the console's "returns waiting" queue. No index
/// of the store holds them, so this follows the log: each view scans only the events stored
/// since the last one (a ReturnRequested adds its return, a ReturnReceived removes it), so it
/// holds exactly the open returns, and the first view after a start scans the log once.
final class OpenReturns: Sendable {
    struct Open: Sendable {
        var orderID: String
        var returnID: String
        /// When it was requested (its `ts`, else its recorded time), µs.
        var requestedAt: Int64
    }

    private struct State {
        var scannedTo: UInt64 = 0
        /// By "order id \u{0} return id".
        var open: [String: Open] = [:]
    }

    private let store: OrderStore
    private let state = Mutex(State())

    init(store: OrderStore) { self.store = store }

    /// Every open return, oldest request first.
    func list() throws -> [Open] {
        let end = store.endPosition
        let from = state.withLock { $0.scannedTo }
        var added: [String: Open] = [:]
        var removed = Set<String>()
        if from < end {
            try store.forEachEventView(from: from, to: end, keyMatches: { _ in true }) { e in
                switch e.event.data {
                case .returnRequested(let r, _, _):
                    let order = String(decoding: e.orderID, as: UTF8.self)
                    let key = order + "\u{0}" + r.string
                    added[key] = Open(orderID: order, returnID: r.string, requestedAt: e.event.ts?.microseconds ?? e.stored.recordedAt)
                    removed.remove(key)
                case .returnReceived(let r, _):
                    let key = String(decoding: e.orderID, as: UTF8.self) + "\u{0}" + r.string
                    if added.removeValue(forKey: key) == nil { removed.insert(key) }
                default:
                    break
                }
                return true
            }
        }
        return state.withLock { s in
            // Another view may have scanned meanwhile: only a scan from where the state is
            // applies (the other's result is as new).
            if s.scannedTo == from && from < end {
                for k in removed { s.open[k] = nil }
                s.open.merge(added) { _, new in new }
                s.scannedTo = end
            }
            return s.open.values.sorted { ($0.requestedAt, $0.orderID) < ($1.requestedAt, $1.orderID) }
        }
    }
}
