import OrderModel

/// The lists kept up to date as events arrive: each customer's orders, and the orders in each
/// status — by order handle, so keeping them costs no hashing of order ids. In memory; rebuilt
/// from the log at open.
struct OrderIndexes: Sendable {
    private var ordersByCustomer: [String: [OrderHandle]] = [:]
    /// Per status, its orders in no particular order (a page sorts them by id).
    private var ordersByStatus = [[OrderHandle]](repeating: [], count: OrderSnapshot.Status.allCases.count)
    /// Per handle: its status's index in `Status.allCases`, or `none`.
    private var statusOf: [UInt8] = []
    /// Per handle: where it is in its status's list.
    private var placeInStatus: [Int32] = []
    private(set) var orderCount = 0

    private static let none: UInt8 = .max
    private static let statuses = OrderSnapshot.Status.allCases
    private static func code(_ status: OrderSnapshot.Status) -> UInt8 { UInt8(statuses.firstIndex(of: status)!) }

    /// Records `snapshot`'s place in the lists (after an event changed it).
    mutating func update(_ snapshot: OrderSnapshot, handle h: OrderHandle) {
        update(h, status: Self.code(snapshot.status), customer: snapshot.customerID)
    }

    /// An order's status code (its index in `Status.allCases`), for a checkpoint.
    static func statusCode(_ status: OrderSnapshot.Status) -> UInt8 { code(status) }

    /// Records order `h`'s place in the lists: in status `status` (a code, as `statusCode`
    /// gives), placed by `customer` — an order new to the lists goes at the newest end of its
    /// customer's.
    mutating func update(_ h: OrderHandle, status: UInt8, customer: @autoclosure () -> String) {
        if h.index >= statusOf.count {
            let more = max(h.index + 1 - statusOf.count, statusOf.count / 2 + 1024)
            statusOf.append(contentsOf: repeatElement(Self.none, count: more))
            placeInStatus.append(contentsOf: repeatElement(-1, count: more))
        }
        let old = statusOf[h.index]
        guard old != status else { return }
        if old == Self.none {
            orderCount += 1
            ordersByCustomer[customer(), default: []].append(h)
        } else {
            // Out of the old list: its last order takes the place.
            let place = Int(placeInStatus[h.index])
            let moved = ordersByStatus[Int(old)].removeLast()
            if moved != h {
                ordersByStatus[Int(old)][place] = moved
                placeInStatus[moved.index] = Int32(place)
            }
        }
        statusOf[h.index] = status
        placeInStatus[h.index] = Int32(ordersByStatus[Int(status)].count)
        ordersByStatus[Int(status)].append(h)
    }

    /// A customer's orders, newest (most recently placed) first.
    func orders(ofCustomer customer: String, _ table: OrderTable) -> [OrderID] { (ordersByCustomer[customer] ?? []).reversed().map { table[$0] } }

    func orders(withStatus status: OrderSnapshot.Status, _ table: OrderTable) -> [OrderID] {
        ordersByStatus[Int(Self.code(status))].map { table[$0] }.sorted()
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
    /// before (the next page holds the ids after it, whatever changed in between).
    func page(withStatus status: OrderSnapshot.Status, after cursor: String?, limit: Int, _ table: OrderTable) -> OrderPage {
        let all = ordersByStatus[Int(Self.code(status))]
        var rest = all.map { table[$0] }
        if let cursor { rest.removeAll { $0.value <= cursor } }
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
