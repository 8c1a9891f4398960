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

    /// One page of a customer's orders, newest first. A customer's list only grows at its
    /// newest end, so the cursor is the count of older orders still to come (a decimal
    /// number): pages stay exact while orders are placed between them.
    func page(ofCustomer customer: String, after cursor: String?, limit: Int) throws(StoreError) -> OrderPage {
        let all = ordersByCustomer[customer] ?? []
        var end = all.count
        if let cursor {
            guard let n = Int(cursor), n >= 0, n <= all.count else {
                throw StoreError(.invalidArgument, "list cursor \"\(cursor)\" is not one this list gave")
            }
            end = n
        }
        let start = max(0, end - max(0, limit))
        return OrderPage(ids: all[start..<end].reversed(), total: all.count, next: start > 0 ? String(start) : nil)
    }

    /// One page of the orders in a status, by id; the cursor is the last id of the page
    /// before (the next page holds the ids after it, whatever changed in between).
    func page(withStatus status: OrderSnapshot.Status, after cursor: String?, limit: Int) -> OrderPage {
        let all = ordersByStatus[status] ?? []
        var rest = cursor.map { c in all.filter { $0.value > c } } ?? Array(all)
        rest.sort()
        let ids = Array(rest.prefix(max(0, limit)))
        return OrderPage(ids: ids, total: all.count, next: rest.count > ids.count ? ids.last?.value : nil)
    }
}

/// One page of a list of orders.
public struct OrderPage: Sendable, Equatable {
    /// The page's orders, in the list's order.
    public var ids: [OrderID]
    /// How many orders the whole list holds now.
    public var total: Int
    /// Pass it as `after` for the next page; nil: this page is the last.
    public var next: String?

    public init(ids: [OrderID], total: Int, next: String?) {
        self.ids = ids
        self.total = total
        self.next = next
    }
}
