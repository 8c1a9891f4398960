import OrderModel

/// The lists kept up to date as events arrive: each customer's orders, and the orders in each
/// status — by order handle, so keeping them costs no hashing of order ids.
///
/// Customers' lists: those of the checkpoint the store opened from (or last wrote) are read in
/// place from its file (`customerBase`, sorted by customer id, each list in placement order);
/// only the orders placed after it are in memory (`laterByCustomer`). Status lists: in memory,
/// four bytes an order, loaded already sorted from the checkpoint.
struct OrderIndexes: Sendable {
    private var customerBase: MappedCustomerLists?
    /// Orders placed after the base (handles from `customerBaseCount` on), by customer.
    private var laterByCustomer: [String: [OrderHandle]] = [:]
    private var customerBaseCount = 0
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

    /// The lists of a checkpoint's `count` orders (handles `0 ..< count`): its status lists
    /// (sorted by id) copied, its customers' lists read in place.
    init(statusLists: [U32Array], customers: MappedCustomerLists, count: Int) {
        statusOf = [UInt8](repeating: Self.none, count: count)
        for (s, list) in statusLists.enumerated() {
            var handles = [UInt32](repeating: 0, count: list.count)
            handles.withUnsafeMutableBytes { $0.copyMemory(from: list.bytes) }
            for h in handles { statusOf[Int(h)] = UInt8(s) }
            ordersByStatus[s] = SortedHandles(sorted: handles)
        }
        orderCount = count
        customerBase = customers
        customerBaseCount = count
    }

    init() {}

    /// These lists on a newer checkpoint's customer lists (`count` orders: every order below
    /// that handle is in them): only the orders placed after it stay in memory.
    mutating func rebase(customers: MappedCustomerLists, count: Int) {
        customerBase = customers
        customerBaseCount = count
        var later: [String: [OrderHandle]] = [:]
        for (c, handles) in laterByCustomer {
            let kept = handles.filter { $0.index >= count }
            if !kept.isEmpty { later[c] = kept }
        }
        laterByCustomer = later
    }

    /// Per status, its orders sorted by id (what a checkpoint stores; a copy that shares the
    /// lists' storage until they change).
    var statusLists: [SortedHandles] { ordersByStatus }

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
            laterByCustomer[customer(), default: []].append(h)
        } else {
            ordersByStatus[Int(old)].remove(h.raw, table.idLess)
        }
        statusOf[h.index] = status
        ordersByStatus[Int(status)].insert(h.raw, table.idLess)
    }

    /// A customer's orders, oldest first: the base's, then the later ones.
    private struct CustomerList {
        var base: U32Array?
        var later: [OrderHandle]
        var count: Int { (base?.count ?? 0) + later.count }
        subscript(i: Int) -> OrderHandle {
            if let base, i < base.count { return OrderHandle(raw: base[i]) }
            return later[i - (base?.count ?? 0)]
        }
    }

    private func list(ofCustomer customer: String) -> CustomerList {
        var base: U32Array?
        if let customerBase {
            var c = customer
            if let k = c.withUTF8({ customerBase.find(UnsafeRawBufferPointer($0)) }) { base = customerBase.orders(of: k) }
        }
        return CustomerList(base: base, later: laterByCustomer[customer] ?? [])
    }

    /// A customer's orders, newest (most recently placed) first.
    func orders(ofCustomer customer: String, _ table: OrderTable) -> [OrderID] {
        let all = list(ofCustomer: customer)
        return (0..<all.count).reversed().map { table[all[$0]] }
    }

    func orders(withStatus status: OrderSnapshot.Status, _ table: OrderTable) -> [OrderID] {
        ordersByStatus[Int(Self.code(status))].all.map { table[OrderHandle(raw: $0)] }
    }

    /// One page of a customer's orders, newest first. A customer's list only grows at its
    /// newest end, so the cursor is the count of older orders still to come (a decimal
    /// number): pages stay exact while orders are placed between them.
    func page(ofCustomer customer: String, after cursor: String?, limit: Int, _ table: OrderTable) throws(StoreError) -> OrderPage {
        let all = list(ofCustomer: customer)
        var end = all.count
        if let cursor {
            guard let n = Int(cursor), n >= 0, n <= all.count else {
                throw StoreError(.invalidArgument, "list cursor \"\(cursor)\" is not one this list gave")
            }
            end = n
        }
        let start = max(0, end - max(0, limit))
        return OrderPage(ids: (start..<end).reversed().map { table[all[$0]] }, total: all.count, next: start > 0 ? String(start) : nil)
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
