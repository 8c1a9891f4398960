import Foundation
import OrderModel

#if _endian(big)
#error("checkpoint index sections are read in place as little-endian arrays")
#endif

/// Little-endian `u32` arrays read in place from a mapping.
struct U32Array: @unchecked Sendable {
    // @unchecked: a view into an immutable mapping kept alive by its owner.
    let bytes: UnsafeRawBufferPointer
    var count: Int { bytes.count / 4 }
    @inline(__always) subscript(i: Int) -> UInt32 { bytes.u32(i &* 4) }
}

/// The order-id table a checkpoint holds (docs/FORMAT.md §13, "order table"): handle → id bytes
/// and id → handle, read in place from the file's mapping, so an open neither reads nor
/// interns the ids. The same hash and probing as `OrderTable`.
struct MappedOrderIDs: @unchecked Sendable {
    // @unchecked: views into the reader's immutable mapping; `owner` keeps it mapped.
    let owner: AnyObject
    let count: Int
    /// count + 1 offsets into `blob`.
    let starts: U32Array
    /// Each id's hash, low 32 bits.
    let hashes: U32Array
    /// handle + 1 at each slot, 0: empty; a power of two, with at least one empty slot.
    let slots: U32Array
    let blob: UnsafeRawBufferPointer

    @inline(__always) func bytes(_ h: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: blob[Int(starts[h])..<Int(starts[h &+ 1])])
    }

    @inline(__always) func find(bytes: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let short = UInt32(truncatingIfNeeded: hash)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let v = slots[s]
            if v == 0 { return nil }
            let h = Int(v - 1)
            if hashes[h] == short {
                let id = self.bytes(h)
                if id.count == bytes.count && memcmp(id.baseAddress!, bytes.baseAddress!, id.count) == 0 { return h }
            }
            s = (s + 1) & mask
        }
    }
}

/// Each customer's orders as a checkpoint holds them (§13, "customer lists"): customers
/// sorted by id for a binary search, each with its orders' handles in placement order.
struct MappedCustomerLists: @unchecked Sendable {
    let owner: AnyObject
    /// Customers: C + 1 offsets into `blob` (customer index order, as the summaries number them).
    let starts: U32Array
    let blob: UnsafeRawBufferPointer
    /// Customer indices sorted by their bytes.
    let byID: U32Array
    /// C + 1 offsets into `orders`; customer c's orders are `orders[orderStarts[c] ..< orderStarts[c + 1]]`.
    let orderStarts: U32Array
    let orders: U32Array

    var customerCount: Int { byID.count }

    func customer(_ c: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: blob[Int(starts[c])..<Int(starts[c + 1])]) }

    /// The index of the customer whose id is `bytes`, by binary search.
    func find(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var lo = 0, hi = byID.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if OrderTable.less(customer(Int(byID[mid])), bytes) { lo = mid + 1 } else { hi = mid }
        }
        guard lo < byID.count else { return nil }
        let c = Int(byID[lo])
        let found = customer(c)
        return found.count == bytes.count && (found.isEmpty || memcmp(found.baseAddress!, bytes.baseAddress!, found.count) == 0) ? c : nil
    }

    /// Customer `c`'s orders, oldest first.
    func orders(of c: Int) -> U32Array {
        U32Array(bytes: UnsafeRawBufferPointer(rebasing: orders.bytes[(Int(orderStarts[c]) * 4)..<(Int(orderStarts[c + 1]) * 4)]))
    }
}

extension CheckpointFile {
    /// The index section's parts after the summaries, in file order, as the writer gives them.
    struct IndexParts {
        /// The order table (`OrderTable.encodedSections`).
        var idStarts: [UInt32], idHashes: [UInt32], slots: [UInt32], idBlob: [UInt8]
        /// Per status (`Status.allCases` order), its orders sorted by id.
        var statusLists: [[UInt32]]
        /// Customers in index order (each order's summary names its customer's index).
        var customers: [String]
        var rows: [TotalsRow]
    }

    /// Streams the index section (summaries, then `parts`) to `w`; returns its length and CRC32C.
    static func writeIndex(summaries: [Summary], _ parts: IndexParts, to w: Writer) throws -> (length: Int, crc: UInt32) {
        var crcValue: UInt32 = 0
        var length = 0
        func put(_ b: UnsafeRawBufferPointer) throws {
            crcValue = crc(b, crcValue)
            length += b.count
            try w.append(b)
        }
        func put(_ a: [UInt32]) throws { try a.withUnsafeBytes { try put($0) } }
        func put(_ a: [UInt8]) throws { try a.withUnsafeBytes { try put($0) } }
        var out = ByteWriter()
        out.bytes.reserveCapacity(1 << 20)
        for s in summaries {
            out.u64(s.entryOffset); out.u64(s.placedPosition); out.u64(s.lastPosition)
            out.u32(s.customer); out.u32(s.row); out.u32(UInt32(s.status)); out.u32(0)
            if out.bytes.count >= 1 << 20 { try put(out.bytes); out.bytes.removeAll(keepingCapacity: true) }
        }
        try put(out.bytes)
        try put(parts.idStarts)
        try put(parts.idHashes)
        guard parts.slots.count <= Int(UInt32.max) else { throw StoreError(.storage, "\(parts.slots.count) slots: a checkpoint holds at most 2^31 orders") }
        try put([UInt32(parts.slots.count)])
        try put(parts.slots)
        try put(parts.idBlob)
        try put([UInt32(parts.statusLists.count)] + parts.statusLists.map { UInt32($0.count) })
        for list in parts.statusLists { try put(list) }
        // Customers: offsets and bytes, the sorted order, then each one's orders.
        var starts: [UInt32] = [0], blob: [UInt8] = []
        guard parts.customers.reduce(0, { $0 + $1.utf8.count }) < Int(UInt32.max) else {
            throw StoreError(.storage, "the customer ids take more than 4 GiB; a checkpoint holds at most 4 GiB of them")
        }
        for c in parts.customers {
            blob.append(contentsOf: c.utf8)
            starts.append(UInt32(blob.count))
        }
        try put(starts)
        try put(blob)
        let byID: [UInt32] = blob.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> [UInt32] in
            func customer(_ c: UInt32) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: b[Int(starts[Int(c)])..<Int(starts[Int(c) + 1])])
            }
            var order = (0..<UInt32(parts.customers.count)).map { $0 }
            order.sort { x, y in OrderTable.less(customer(x), customer(y)) }
            return order
        }
        try put(byID)
        // Each customer's orders, in handle (placement) order: a counting sort of the summaries.
        var orderStarts = [UInt32](repeating: 0, count: parts.customers.count + 1)
        for s in summaries { orderStarts[Int(s.customer) + 1] += 1 }
        for c in 0..<parts.customers.count { orderStarts[c + 1] += orderStarts[c] }
        try put(orderStarts)
        var next = orderStarts
        var grouped = [UInt32](repeating: 0, count: summaries.count)
        for (h, s) in summaries.enumerated() {
            grouped[Int(next[Int(s.customer)])] = UInt32(h)
            next[Int(s.customer)] += 1
        }
        try put(grouped)
        out.bytes.removeAll(keepingCapacity: true)
        for r in parts.rows {
            out.text32(r.currency); out.text32(r.channel)
            out.u64(UInt64(bitPattern: Int64(r.orders))); out.u64(UInt64(bitPattern: r.total)); out.u64(UInt64(bitPattern: r.captured)); out.u64(UInt64(bitPattern: r.refunded))
        }
        try put(out.bytes)
        return (length, crcValue)
    }

    static func encodeTrailer(orders: UInt64, indexOffset: UInt64, indexLength: Int, indexCRC: UInt32) -> [UInt8] {
        var out = ByteWriter(endMagic)
        out.u64(orders); out.u64(indexOffset); out.u64(UInt64(indexLength))
        out.u32(indexCRC); out.u32(0)
        out.u32(out.bytes.withUnsafeBytes { crc($0) }); out.u32(0)
        return out.bytes
    }

    /// The index section's parts located and checked in place: every count, offset and
    /// handle within range, so no read through them can leave the mapping or loop for ever.
    /// (What only a second reading can check — each id's hash, the lists' order and their
    /// agreement with the summaries — `Reader.verifyIndex` checks.)
    struct IndexLayout {
        var idStarts: U32Array, idHashes: U32Array, slots: U32Array, idBlob: UnsafeRawBufferPointer
        var statusLists: [U32Array]
        var customerStarts: U32Array, customerBlob: UnsafeRawBufferPointer, customersByID: U32Array
        var customerOrderStarts: U32Array, customerOrders: U32Array
        /// Where the totals rows start in the index.
        var rowsOffset: Int

        init(index: UnsafeRawBufferPointer, orders n: Int, customers c: Int) throws(ParseProblem) {
            var at = n * summaryBytes
            func take(_ bytes: Int, _ what: String) throws(ParseProblem) -> UnsafeRawBufferPointer {
                guard bytes >= 0, bytes <= index.count - at else { throw ParseProblem(message: "\(what) does not fit in the index section") }
                defer { at += bytes }
                return UnsafeRawBufferPointer(rebasing: index[at..<(at + bytes)])
            }
            func u32s(_ count: Int, _ what: String) throws(ParseProblem) -> U32Array { U32Array(bytes: try take(count * 4, what)) }
            guard at <= index.count else { throw ParseProblem(message: "index section too short for \(n) orders") }
            idStarts = try u32s(n + 1, "the order ids' offsets")
            idHashes = try u32s(n, "the order ids' hashes")
            let slotCount = Int(try u32s(1, "the slot count")[0])
            guard slotCount > n, slotCount & (slotCount - 1) == 0 else { throw ParseProblem(message: "\(slotCount) slots for \(n) orders") }
            slots = try u32s(slotCount, "the order id slots")
            guard idStarts[0] == 0 else { throw ParseProblem(message: "the first order id does not start at 0") }
            for k in 0..<n {
                let length = Int(idStarts[k + 1]) - Int(idStarts[k])
                guard length >= 1, length <= idBytesMax else { throw ParseProblem(message: "order id \(k) of \(length) bytes") }
            }
            idBlob = try take(Int(idStarts[n]), "the order ids")
            for k in 0..<n where !OrderID.isValid(bytes: UnsafeRawBufferPointer(rebasing: idBlob[Int(idStarts[k])..<Int(idStarts[k + 1])])) {
                throw ParseProblem(message: "order id \(k) in the index is not an order id")
            }
            var empty = false
            for s in 0..<slotCount {
                let v = slots[s]
                if v == 0 { empty = true } else if Int(v) > n { throw ParseProblem(message: "slot \(s) names order \(v - 1) of \(n)") }
            }
            guard empty else { throw ParseProblem(message: "no empty slot") }
            let statusCount = Int(try u32s(1, "the status count")[0])
            guard statusCount == OrderSnapshot.Status.allCases.count else { throw ParseProblem(message: "\(statusCount) status lists") }
            let counts = try u32s(statusCount, "the status lists' lengths")
            var listed = 0
            statusLists = []
            for s in 0..<statusCount {
                let list = try u32s(Int(counts[s]), "status list \(s)")
                for i in 0..<list.count where Int(list[i]) >= n { throw ParseProblem(message: "status list \(s) names order \(list[i]) of \(n)") }
                listed += list.count
                statusLists.append(list)
            }
            guard listed == n else { throw ParseProblem(message: "the status lists hold \(listed) orders of \(n)") }
            customerStarts = try u32s(c + 1, "the customers' offsets")
            guard customerStarts[0] == 0 else { throw ParseProblem(message: "the first customer does not start at 0") }
            for k in 0..<c where customerStarts[k + 1] < customerStarts[k] { throw ParseProblem(message: "customer \(k)'s offsets are out of order") }
            customerBlob = try take(Int(customerStarts[c]), "the customers")
            customersByID = try u32s(c, "the customers by id")
            for k in 0..<c where Int(customersByID[k]) >= c { throw ParseProblem(message: "the customers by id name customer \(customersByID[k]) of \(c)") }
            customerOrderStarts = try u32s(c + 1, "the customers' order offsets")
            guard customerOrderStarts[0] == 0, Int(customerOrderStarts[c]) == n else { throw ParseProblem(message: "the customers' lists do not hold \(n) orders") }
            for k in 0..<c where customerOrderStarts[k + 1] < customerOrderStarts[k] { throw ParseProblem(message: "customer \(k)'s order offsets are out of order") }
            customerOrders = try u32s(n, "the customers' orders")
            for i in 0..<n where Int(customerOrders[i]) >= n { throw ParseProblem(message: "a customer list names order \(customerOrders[i]) of \(n)") }
            rowsOffset = at
        }
    }

    struct ParseProblem: Error { var message: String }
}
