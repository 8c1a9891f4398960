import OrderModel

/// The lists kept up to date as events arrive: each customer's orders, and the orders in each
/// status. In memory; rebuilt from the log at open.
struct OrderIndexes: Sendable {
    private(set) var ordersByCustomer: [String: [OrderID]] = [:]
    private(set) var ordersByStatus: [OrderSnapshot.Status: Set<OrderID>] = [:]
    private(set) var statusOf: [OrderID: OrderSnapshot.Status] = [:]

    var orderCount: Int { statusOf.count }

    /// Records `snapshot`'s place in the lists (after an event changed it).
    mutating func update(_ snapshot: OrderSnapshot) {
        let id = snapshot.orderID
        let status = snapshot.status
        let old = statusOf.updateValue(status, forKey: id)
        if old == nil { ordersByCustomer[snapshot.customerID, default: []].append(id) }
        if old != status {
            if let old { ordersByStatus[old]?.remove(id) }
            ordersByStatus[status, default: []].insert(id)
        }
    }

    /// A customer's orders, newest (most recently placed) first.
    func orders(ofCustomer customer: String) -> [OrderID] { (ordersByCustomer[customer] ?? []).reversed() }

    func orders(withStatus status: OrderSnapshot.Status) -> [OrderID] { (ordersByStatus[status] ?? []).sorted() }
}
