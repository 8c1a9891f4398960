import OrderModel

/// The lists kept up to date as events arrive: each customer's orders, and the orders in each
/// status — by order handle, so keeping them costs no hashing of order ids. In memory; rebuilt
/// from the log at open.
struct OrderIndexes: Sendable {
    private var ordersByCustomer: [String: [OrderHandle]] = [:]
    /// Per status, its orders sorted by id (what a page walks).
    private var ordersByStatus = [SortedHandles](repeating: SortedHandles(), count: OrderSnapshot.Status.allCases.count)
    /// Per handle: its status's index in `Status.allCases`, or `none`.
    private var statusOf: [UInt8] = []
    private(set) var orderCount = 0

    private static let none: UInt8 = .max
    private static let statuses = OrderSnapshot.Status.allCases
    private static func code(_ status: OrderSnapshot.Status) -> UInt8 { UInt8(statuses.firstIndex(of: status)!) }

    /// Records `snapshot`'s place in the lists (after an event changed it); `table` orders
    /// the status lists by id.
    mutating func update(_ snapshot: OrderSnapshot, handle h: OrderHandle, _ table: borrowing OrderTable) {
        update(h, status: Self.code(snapshot.status), customer: snapshot.customerID, table)
    }

    /// The lists of orders `0 ..< statuses.count` (handles in placement order), built at once:
    /// each order's status code and its customer's index in `customers` — what a checkpoint's
    /// index holds. Each status list is sorted once and each customer looked up once, instead
    /// of an insertion and a hash of the customer's id per order.
    init(statuses: [UInt8], customerOf: [UInt32], customers: [String], _ table: OrderTable) {
        statusOf = statuses
        orderCount = statuses.count
        var byStatus = [[UInt32]](repeating: [], count: Self.statuses.count)
        for (h, s) in statuses.enumerated() { byStatus[Int(s)].append(UInt32(h)) }
        for (s, handles) in byStatus.enumerated() {
            ordersByStatus[s] = SortedHandles(sorted: handles.sorted(by: table.idLess))
        }
        var byCustomer = [[OrderHandle]](repeating: [], count: customers.count)
        for (h, c) in customerOf.enumerated() { byCustomer[Int(c)].append(OrderHandle(raw: UInt32(h))) }
        ordersByCustomer.reserveCapacity(customers.count)
        for (c, handles) in byCustomer.enumerated() where !handles.isEmpty { ordersByCustomer[customers[c], default: []] += handles }
    }

    init() {}

    /// An order's status code (its index in `Status.allCases`), for a checkpoint.
    static func statusCode(_ status: OrderSnapshot.Status) -> UInt8 { code(status) }

    /// Records order `h`'s place in the lists: in status `status` (a code, as `statusCode`
    /// gives), placed by `customer` — an order new to the lists goes at the newest end of its
    /// customer's.
    mutating func update(_ h: OrderHandle, status: UInt8, customer: @autoclosure () -> String, _ table: borrowing OrderTable) {
        if h.index >= statusOf.count {
            let more = max(h.index + 1 - statusOf.count, statusOf.count / 2 + 1024)
            statusOf.append(contentsOf: repeatElement(Self.none, count: more))
        }
        let old = statusOf[h.index]
        guard old != status else { return }
        if old == Self.none {
            orderCount += 1
            ordersByCustomer[customer(), default: []].append(h)
        } else {
            ordersByStatus[Int(old)].remove(h.raw, table.idLess)
        }
        statusOf[h.index] = status
        ordersByStatus[Int(status)].insert(h.raw, table.idLess)
    }

    /// A customer's orders, newest (most recently placed) first.
    func orders(ofCustomer customer: String, _ table: OrderTable) -> [OrderID] { (ordersByCustomer[customer] ?? []).reversed().map { table[$0] } }

    func orders(withStatus status: OrderSnapshot.Status, _ table: OrderTable) -> [OrderID] {
        ordersByStatus[Int(Self.code(status))].all.map { table[OrderHandle(raw: $0)] }
    }

    /// One page of a customer's orders, newest first. A customer's list only grows at its
    /// newest end, so the cursor is the count of older orders still to come (a decimal
    /// number): pages stay exact while orders are placed between them.
    func page(ofCustomer customer: String, after cursor: String?, limit: Int, _ table: OrderTable) throws(StoreError) -> OrderPage {
        let all = ordersByCustomer[customer] ?? []
        var end = all.count
        if let cursor {
            guard let n = Int(cursor), n >= 0, n <= all.count else {
                throw StoreError(.invalidArgument, "list cursor \"\(cursor)\" is not one this list gave")
            }
            end = n
        }
        let start = max(0, end - max(0, limit))
        return OrderPage(ids: all[start..<end].reversed().map { table[$0] }, total: all.count, next: start > 0 ? String(start) : nil)
    }

    /// One page of the orders in a status, by id; the cursor is the last id of the page
    /// before (the next page holds the ids after it, whatever changed in between). A binary
    /// search and a walk of the page: nothing is sorted.
    func page(withStatus status: OrderSnapshot.Status, after cursor: String?, limit: Int, _ table: OrderTable) -> OrderPage {
        let list = ordersByStatus[Int(Self.code(status))]
        let limit = max(0, limit)
        let found: (elements: [UInt32], more: Bool)
        if var cursor {
            found = cursor.withUTF8 { u in list.page(from: { !table.id($0, isAfter: UnsafeRawBufferPointer(u)) }, limit: limit) }
        } else {
            found = list.page(from: { _ in false }, limit: limit)
        }
        let ids = found.elements.map { table[OrderHandle(raw: $0)] }
        return OrderPage(ids: ids, total: list.count, next: found.more ? ids.last?.value : nil)
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
