import CCRC32C
import Foundation
import LogStorage
import OrderModel

#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint: every order's state as of a log position, in one file (docs/FORMAT.md §13).
/// Open loads the newest valid one and replays only the log after it; nothing in one is
/// trusted before its checksums, its layout and its fingerprints of the log all agree.
///
/// This type is the file format alone — names, bytes, checks; `OrderStore+Checkpoint.swift`
/// decides when to write one and what goes in.
enum CheckpointFile {
    /// The checkpoints' directory inside the store's: the log ignores it.
    static let directoryName = "checkpoints"
    static let magic = Array("ORDCKPT1".utf8)
    static let endMagic = Array("ORDCKEND".utf8)
    static let formatVersion: UInt32 = 3
    static let headerBytes = 64
    static let trailerBytes = 48
    static let summaryBytes = 40
    /// An entry's order id: 1…64 bytes (a log key).
    static let idBytesMax = 64

    /// The header's facts.
    struct Header: Equatable, Sendable {
        /// The checkpoint holds the state after records `0 ..< position`.
        var position: UInt64
        var orders: UInt64
        /// The stored CRC32C of record 0 and of record `position − 1`: which log, and how far.
        var firstChecksum: UInt32
        var lastChecksum: UInt32
        /// When it was written, µs since the Unix epoch.
        var writtenAt: Int64
        var customers: UInt32 = 0
        var rows: UInt32 = 0
    }

    /// What the index section says of one order (entry `k` is order handle `k`).
    struct Summary: Equatable, Sendable {
        /// Where its entry starts in the file.
        var entryOffset: UInt64
        var placedPosition: UInt64
        var lastPosition: UInt64
        /// Its customer's index in the customers list.
        var customer: UInt32
        /// Its row of the running totals (currency, channel): an index into the rows.
        var row: UInt32
        /// Its status's index in `OrderSnapshot.Status.allCases`.
        var status: UInt8
    }

    typealias Problem = CheckpointProblem

    static func name(position: UInt64) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".ckpt"
    }

    /// The position a checkpoint file's name gives, or nil for another name.
    static func position(ofName name: String) -> UInt64? {
        guard name.count == 25, name.hasSuffix(".ckpt") else { return nil }
        let digits = name.prefix(20)
        guard digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(digits)
    }

    /// The checkpoint files in `directory`, newest (largest position) first.
    static func list(_ directory: String) -> [(position: UInt64, path: String)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap { n in position(ofName: n).map { ($0, directory + "/" + n) } }.sorted { $0.position > $1.position }
    }

    static func crc(_ bytes: UnsafeRawBufferPointer, _ seed: UInt32 = 0) -> UInt32 {
        orderlog_crc32c_extend(seed, bytes.baseAddress, bytes.count)
    }

    static func encodeHeader(_ h: Header) -> [UInt8] {
        var out = ByteWriter(magic)
        out.u32(formatVersion); out.u32(OrderSnapshot.storedStateLayout)
        out.u64(h.position); out.u64(h.orders)
        out.u32(h.firstChecksum); out.u32(h.lastChecksum)
        out.u64(UInt64(bitPattern: h.writtenAt))
        out.u32(h.customers); out.u32(h.rows); out.u32(0)
        out.u32(out.bytes.withUnsafeBytes { crc($0) })
        return out.bytes
    }

    static func decodeHeader(_ b: UnsafeRawBufferPointer) -> Header? {
        guard b.count >= headerBytes, Array(b[0..<8]) == magic else { return nil }
        guard b.u32(60) == crc(UnsafeRawBufferPointer(rebasing: b[0..<60])) else { return nil }
        guard b.u32(8) == formatVersion, b.u32(12) == OrderSnapshot.storedStateLayout, b.u64(16) >= 1, b.u32(56) == 0 else { return nil }
        return Header(position: b.u64(16), orders: b.u64(24), firstChecksum: b.u32(32), lastChecksum: b.u32(36),
                      writtenAt: Int64(bitPattern: b.u64(40)), customers: b.u32(48), rows: b.u32(52))
    }

    /// Appends one entry — the order id and its stored state, framed and checksummed.
    static func appendEntry(_ snapshot: OrderSnapshot, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: [0, 0, 0, 0])  // length, set below
        let id = snapshot.orderID.value.utf8
        out.append(UInt8(id.count))
        out.append(contentsOf: id)
        snapshot.appendStoredState(to: &out)
        let length = UInt32(out.count - start - 4)
        withUnsafeBytes(of: length.littleEndian) { l in for k in 0..<4 { out[start + k] = l[k] } }
        let sum = out.withUnsafeBytes { crc(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
    }

    /// One entry read in place: its bytes (length field to checksum, for copying verbatim),
    /// the id's bytes and the stored state's.
    struct EntryView {
        var whole: UnsafeRawBufferPointer
        var id: UnsafeRawBufferPointer
        var state: UnsafeRawBufferPointer
    }

    struct EntryProblem: Error { var message: String }

    /// Reads the entry at `offset` of `b` (the whole file; entries end at `end`); checks its
    /// frame and checksum.
    static func entry(in b: UnsafeRawBufferPointer, at offset: Int, end: Int, firstOffset: Int = headerBytes) -> Result<EntryView, EntryProblem> {
        guard offset >= firstOffset, offset + 4 <= end else { return .failure(EntryProblem(message: "entry at \(offset) outside the entries")) }
        let length = Int(b.u32(offset))
        guard length >= 1 + 1 + OrderSnapshot.storedStateHeaderBytes + 4, offset + 4 + length + 4 <= end else {
            return .failure(EntryProblem(message: "entry at \(offset) of \(length) bytes does not fit"))
        }
        let framed = UnsafeRawBufferPointer(rebasing: b[offset..<(offset + 4 + length)])
        guard b.u32(offset + 4 + length) == crc(framed) else { return .failure(EntryProblem(message: "entry at \(offset): checksum mismatch")) }
        let idCount = Int(b[offset + 4])
        guard idCount >= 1, idCount <= idBytesMax, 1 + idCount + OrderSnapshot.storedStateHeaderBytes + 4 <= length else {
            return .failure(EntryProblem(message: "entry at \(offset): id of \(idCount) bytes"))
        }
        let id = UnsafeRawBufferPointer(rebasing: b[(offset + 5)..<(offset + 5 + idCount)])
        let state = UnsafeRawBufferPointer(rebasing: b[(offset + 5 + idCount)..<(offset + 4 + length)])
        return .success(EntryView(whole: UnsafeRawBufferPointer(rebasing: b[offset..<(offset + 8 + length)]), id: id, state: state))
    }

    /// The fingerprints of `log` a checkpoint at `position` must carry: nil when the log does
    /// not reach `position` (or `position` is 0).
    static func fingerprints(of log: Log, at position: UInt64) -> (first: UInt32, last: UInt32)? {
        guard position > 0, log.endPosition.rawValue >= position,
              let first = try? log.withRecord(at: LogPosition(0), { $0.checksum }),
              let last = try? log.withRecord(at: LogPosition(position - 1), { $0.checksum }) else { return nil }
        return (first, last)
    }

    /// A checkpoint file opened and checked — header, trailer, index section, and (given the
    /// log) its fit to the log — with its index read into memory. Entries are read, and their
    /// checksums checked, one at a time when asked for (`entry(_:)`), or all by `verifyEntries`.
    final class Reader: @unchecked Sendable {
        // @unchecked: immutable after init; the mapping is read-only and unmapped by `close`,
        // called once no reader uses it.
        let path: String
        let header: Header
        /// Orders (entries, summaries).
        let count: Int
        let rows: [TotalsRow]
        /// The index section's parts after the summaries, located and bounds-checked.
        private let layout: IndexLayout
        private let file: MappedFile
        /// The file open for `pread` (cold reads of single entries; see `snapshot`).
        private let readFD: Int32
        /// Where the entries end (the index section starts), which is where the summaries
        /// are: read from the mapping when asked, not held.
        private let entriesEnd: Int

        init(path: String, log: Log?) throws(Problem) {
            func problem(_ kind: Problem.Kind, _ message: String) -> Problem { Problem(file: path, kind: kind, message: message) }
            let file: MappedFile
            do { file = try MappedFile(path: path) } catch { throw problem(.unreadable, "\(error)") }
            self.path = path
            self.file = file
            let b = file.bytes
            guard let header = decodeHeader(b) else { throw problem(.damaged, "header fails its magic, version (this build reads format \(formatVersion)) or checksum") }
            self.header = header
            // Without the log (verify beside a running server): the file's own checks only.
            if let log {
                guard header.position <= log.endPosition.rawValue else {
                    throw problem(.stale, "covers \(header.position) records; the log holds \(log.endPosition.rawValue)")
                }
                guard let prints = fingerprints(of: log, at: header.position), prints.first == header.firstChecksum, prints.last == header.lastChecksum else {
                    throw problem(.foreign, "its fingerprints of records 0 and \(header.position - 1) are not the log's")
                }
            }
            guard b.count >= headerBytes + trailerBytes else { throw problem(.damaged, "\(b.count) bytes: no trailer") }
            let t = b.count - trailerBytes
            guard Array(b[t..<(t + 8)]) == endMagic, b.u32(t + 40) == crc(UnsafeRawBufferPointer(rebasing: b[t..<(t + 40)])), b.u64(t + 8) == header.orders else {
                throw problem(.damaged, "trailer missing or not matching the header (a torn write?)")
            }
            let indexOffset = b.u64(t + 16), indexLength = b.u64(t + 24)
            guard indexOffset >= UInt64(headerBytes), indexOffset <= UInt64(t), indexLength == UInt64(t) - indexOffset else {
                throw problem(.damaged, "index section at \(indexOffset) of \(indexLength) bytes does not fit")
            }
            let index = UnsafeRawBufferPointer(rebasing: b[Int(indexOffset)..<t])
            guard b.u32(t + 32) == crc(index) else { throw problem(.damaged, "index section fails its checksum") }
            entriesEnd = Int(indexOffset)
            // The index, read with every bound checked (its checksum held, but its layout is
            // not trusted either).
            var r = ByteReader(index)
            let n = Int(clamping: header.orders)
            guard n <= index.count / CheckpointFile.summaryBytes else { throw problem(.damaged, "index section too short for \(n) orders") }
            for _ in 0..<n {
                let (status, zero) = (index.u32(r.i + 32), index.u32(r.i + 36))
                guard status < 256, zero == 0 else { throw problem(.damaged, "a summary's status \(status) or reserved field is out of range") }
                r.i += CheckpointFile.summaryBytes
            }
            let layout: IndexLayout
            do throws(ParseProblem) { layout = try IndexLayout(index: index, orders: n, customers: Int(header.customers)) } catch {
                throw problem(.damaged, error.message)
            }
            r.i = layout.rowsOffset
            var rows: [TotalsRow] = []
            for k in 0..<Int(header.rows) {
                guard let currency = r.text32(), let channel = r.text32(), let orders = r.u64Checked(), let total = r.u64Checked(),
                      let captured = r.u64Checked(), let refunded = r.u64Checked() else { throw problem(.damaged, "totals row \(k) does not read") }
                guard orders <= UInt64(header.orders) else { throw problem(.damaged, "totals row \(k) counts \(orders) orders") }
                rows.append(TotalsRow(currency: currency, channel: channel, orders: Int(orders), total: Int64(bitPattern: total),
                                      captured: Int64(bitPattern: captured), refunded: Int64(bitPattern: refunded)))
            }
            guard !r.failed, r.atEnd else { throw problem(.damaged, "index section does not read to its end") }
            let statuses = OrderSnapshot.Status.allCases.count
            // Each row counts exactly the orders whose summaries name it.
            var counted = [Int](repeating: 0, count: rows.count)
            var previous: Summary?
            for k in 0..<n {
                let s = Self.summary(k, in: index)
                guard Int(s.customer) < Int(header.customers), Int(s.row) < rows.count, Int(s.status) < statuses,
                      s.lastPosition < header.position, s.placedPosition <= s.lastPosition, s.entryOffset >= UInt64(headerBytes), s.entryOffset < indexOffset else {
                    throw problem(.damaged, "order \(k)'s summary is out of range")
                }
                // Handles are in placement order.
                if let previous, s.placedPosition <= previous.placedPosition { throw problem(.damaged, "orders not in placement order at order \(k)") }
                previous = s
                counted[Int(s.row)] += 1
            }
            if let r = rows.indices.first(where: { rows[$0].orders != counted[$0] }) {
                throw problem(.damaged, "totals row \(r) counts \(rows[r].orders) orders; \(counted[r]) summaries name it")
            }
            self.count = n
            self.layout = layout
            self.rows = rows
            // Opened last: a throw above leaves nothing open (deinit does not run for an
            // object whose init threw).
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw problem(.unreadable, "cannot open for reading: \(String(cString: strerror(errno)))") }
            readFD = fd
            // Its index was read in order above; from now on it is read an entry at a time.
            file.adviseRandom()
        }

        func close() { file.close() }

        deinit { if readFD >= 0 { Glibc.close(readFD) } }

        /// See `MappedFile.dropResidentPages`.
        func dropResidentPages() { file.dropResidentPages() }

        /// The order table, read in place (the reader stays mapped while it is used).
        var orderIDs: MappedOrderIDs {
            MappedOrderIDs(owner: self, count: count, starts: layout.idStarts, hashes: layout.idHashes, slots: layout.slots, blob: layout.idBlob)
        }

        /// Each customer's orders, read in place.
        var customerLists: MappedCustomerLists {
            MappedCustomerLists(owner: self, starts: layout.customerStarts, blob: layout.customerBlob, byID: layout.customersByID,
                                orderStarts: layout.customerOrderStarts, orders: layout.customerOrders)
        }

        /// Per status (`Status.allCases` order), its orders sorted by id.
        var statusLists: [U32Array] { layout.statusLists }

        /// Bytes of the parts a store reads in place for lookups (the order table and the
        /// customers' lists): what lookups map into the process over time.
        var inPlaceBytes: Int {
            layout.idStarts.bytes.count + layout.idHashes.bytes.count + layout.slots.bytes.count + layout.idBlob.count
                + layout.customerStarts.bytes.count + layout.customerBlob.count + layout.customersByID.bytes.count
                + layout.customerOrderStarts.bytes.count + layout.customerOrders.bytes.count
        }

        /// Order `k`'s id.
        func id(_ k: Int) -> OrderID { OrderID(trusted: String(decoding: orderIDs.bytes(k), as: UTF8.self)) }

        /// Customer `c`'s id.
        func customer(_ c: Int) -> String { String(decoding: customerLists.customer(c), as: UTF8.self) }

        /// Order `k`'s summary, read from the index section (checked when the file was opened).
        func summary(_ k: Int) -> Summary {
            Self.summary(k, in: UnsafeRawBufferPointer(rebasing: file.bytes[entriesEnd...]))
        }

        static func summary(_ k: Int, in index: UnsafeRawBufferPointer) -> Summary {
            let o = k * CheckpointFile.summaryBytes
            return Summary(entryOffset: index.u64(o), placedPosition: index.u64(o + 8), lastPosition: index.u64(o + 16),
                           customer: index.u32(o + 24), row: index.u32(o + 28), status: UInt8(truncatingIfNeeded: index.u32(o + 32)))
        }

        /// Summary `k`, read with `pread` (see `snapshot`).
        private func readSummary(_ k: Int) throws(Problem) -> Summary {
            var raw = [UInt8](repeating: 0, count: CheckpointFile.summaryBytes)
            let n = raw.withUnsafeMutableBytes { Glibc.pread(readFD, $0.baseAddress, $0.count, off_t(entriesEnd + k * CheckpointFile.summaryBytes)) }
            guard n == raw.count else { throw Problem(file: path, kind: .unreadable, message: "summary \(k) could not be read: \(String(cString: strerror(errno)))") }
            let s = raw.withUnsafeBytes { Self.summary(0, in: $0) }
            // The same summary the open checked (the file does not change under a reader).
            guard s.entryOffset >= UInt64(headerBytes), s.entryOffset < UInt64(entriesEnd), Int(s.row) < rows.count,
                  Int(s.customer) < customerLists.customerCount, Int(s.status) < OrderSnapshot.Status.allCases.count else {
                throw Problem(file: path, kind: .damaged, message: "summary \(k) is out of range")
            }
            return s
        }

        /// The entry at `offset`, read with `pread`: its first 4 KiB, then the rest if longer.
        private func readEntry(at offset: Int) throws(Problem) -> [UInt8] {
            let first = min(4096, entriesEnd - offset)
            var bytes = [UInt8](repeating: 0, count: first)
            func read(_ count: Int, into start: Int, from at: Int) throws(Problem) {
                let n = bytes.withUnsafeMutableBytes { Glibc.pread(readFD, $0.baseAddress! + start, count, off_t(at)) }
                guard n == count else { throw Problem(file: path, kind: .unreadable, message: "entry at \(at) could not be read: \(String(cString: strerror(errno)))") }
            }
            try read(first, into: 0, from: offset)
            guard first >= 4 else { return bytes }
            let whole = 4 + Int(bytes.withUnsafeBytes { $0.u32(0) }) + 4
            if whole > first, whole <= entriesEnd - offset {
                bytes.append(contentsOf: repeatElement(0, count: whole - first))
                try read(whole - first, into: first, from: offset + first)
            }
            return bytes
        }

        /// Entry `k` (order handle `k`), its frame and checksum checked, and that it is order `id`'s.
        func entry(_ k: Int, id: OrderID) throws(Problem) -> EntryView {
            switch CheckpointFile.entry(in: file.bytes, at: Int(summary(k).entryOffset), end: entriesEnd) {
            case .failure(let p): throw Problem(file: path, kind: .damaged, message: p.message)
            case .success(let e):
                guard e.id.elementsEqual(id.value.utf8) else { throw Problem(file: path, kind: .damaged, message: "entry \(k) is not order \(id)'s") }
                return e
            }
        }

        /// Order `k`'s state (order `id`), as stored, checked (and that it agrees with its
        /// summary). Read with `pread`, not through the mapping: a cold read of one order must
        /// not leave pages of a 10 GB file in the process (the kernel maps whole large folios
        /// of a file around each fault — megabytes an entry — so reads through the mapping
        /// grew the resident set by hundreds of MiB between two `dropResidentPages`).
        func snapshot(_ k: Int, id: OrderID) throws(Problem) -> OrderSnapshot {
            let summary = try readSummary(k)
            let bytes = try readEntry(at: Int(summary.entryOffset))
            // Everything read from the entry's bytes inside one access to them.
            let read: Result<OrderSnapshot, Problem> = bytes.withUnsafeBytes { raw in
                switch CheckpointFile.entry(in: raw, at: 0, end: raw.count, firstOffset: 0) {
                case .failure(let p): return .failure(Problem(file: path, kind: .damaged, message: "entry \(k): " + p.message))
                case .success(let e):
                    guard e.id.elementsEqual(id.value.utf8) else { return .failure(Problem(file: path, kind: .damaged, message: "entry \(k) is not order \(id)'s")) }
                    do throws(OrderError) { return .success(try OrderSnapshot(orderID: id, storedState: e.state)) } catch {
                        return .failure(Problem(file: path, kind: .damaged, message: error.message))
                    }
                }
            }
            let s = try read.get()
            let row = rows[Int(summary.row)]
            guard s.exists, s.lastPosition == summary.lastPosition, s.placedPosition == summary.placedPosition,
                  OrderIndexes.statusCode(s.status) == summary.status, customerLists.customer(Int(summary.customer)).elementsEqual(s.customerID.utf8),
                  row.currency == s.currency, row.channel == s.channel else {
                throw Problem(file: path, kind: .damaged, message: "order \(id)'s state does not match its summary")
            }
            return s
        }

        /// Checks every entry (before `takeIDs`): frame, checksum, id, state and its summary; entries must tile
        /// the space between the header and the index.
        func verifyEntries() throws(Problem) {
            var expected = UInt64(headerBytes)
            for k in 0..<count {
                if k % 65_536 == 65_535 { dropResidentPages() }
                guard summary(k).entryOffset == expected else { throw Problem(file: path, kind: .damaged, message: "entry \(k) at \(summary(k).entryOffset), expected at \(expected)") }
                _ = try snapshot(k, id: id(k))
                expected += UInt64(try entry(k, id: id(k)).whole.count)
            }
            guard expected == UInt64(entriesEnd) else { throw Problem(file: path, kind: .damaged, message: "\(UInt64(entriesEnd) - expected) bytes between the last entry and the index") }
            try verifyIndex()
        }

        /// What open does not check of the index (it needs a second reading): each id's hash
        /// and slot, each id once; the status lists sorted by id, each order in its summary's
        /// status; the customers sorted, each order in its summary's customer's list, in
        /// placement order.
        func verifyIndex() throws(Problem) {
            func damaged(_ m: String) -> Problem { Problem(file: path, kind: .damaged, message: m) }
            let ids = orderIDs
            for k in 0..<count {
                let b = ids.bytes(k)
                let hash = OrderTable.hash(bytes: b)
                guard ids.hashes[k] == UInt32(truncatingIfNeeded: hash) else { throw damaged("order \(id(k))'s hash is not its id's") }
                guard ids.find(bytes: b, hash: hash) == k else { throw damaged("order \(id(k)) is not found at its slot, or is in the table twice") }
            }
            var seen = [Bool](repeating: false, count: count)
            for (s, list) in statusLists.enumerated() {
                for i in 0..<list.count {
                    let h = Int(list[i])
                    guard !seen[h], summary(h).status == UInt8(s) else { throw damaged("order \(id(h)) is in status list \(s) wrongly") }
                    seen[h] = true
                    if i > 0 { guard OrderTable.less(ids.bytes(Int(list[i - 1])), ids.bytes(h)) else { throw damaged("status list \(s) is not sorted by id") } }
                }
            }
            let lists = customerLists
            for i in 1..<max(1, lists.customerCount) {
                guard OrderTable.less(lists.customer(Int(lists.byID[i - 1])), lists.customer(Int(lists.byID[i]))) else { throw damaged("the customers are not sorted by id") }
            }
            for c in 0..<lists.customerCount {
                let orders = lists.orders(of: c)
                for i in 0..<orders.count {
                    let h = Int(orders[i])
                    guard summary(h).customer == UInt32(c), i == 0 || orders[i - 1] < orders[i] else { throw damaged("customer \(c)'s list holds order \(id(h)) wrongly") }
                }
            }
        }
    }

    /// A file written under a temporary name, fsynced, renamed into place and its directory
    /// fsynced: a crash at any point leaves either no file of that name or the whole file.
    final class Writer {
        let directory: String
        let finalName: String
        let temporaryPath: String
        private var fd: Int32
        private var buffer: [UInt8] = []
        private(set) var bytesWritten = 0

        init(directory: String, position: UInt64) throws {
            self.directory = directory
            finalName = CheckpointFile.name(position: position)
            temporaryPath = directory + "/" + finalName + ".tmp"
            fd = Glibc.open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw StoreError(.storage, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))") }
            buffer.reserveCapacity(1 << 20)
        }

        /// Where the next byte goes in the file.
        var offset: Int { bytesWritten + buffer.count }

        func append(_ bytes: [UInt8]) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        func append(_ bytes: UnsafeRawBufferPointer) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        private func flush() throws {
            var done = 0
            while done < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(.storage, "writing \(temporaryPath): \(String(cString: strerror(errno)))")
                }
                done += n
            }
            bytesWritten += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }

        /// Writes the header at the start (its counts are known last), fsyncs, renames, and
        /// fsyncs the directory. Returns the final path.
        func commit(header: [UInt8]) throws -> String {
            try flush()
            let n = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard n == header.count else { throw StoreError(.storage, "writing \(temporaryPath)'s header: \(String(cString: strerror(errno)))") }
            guard fsync(fd) == 0 else { throw StoreError(.storage, "fsync \(temporaryPath): \(String(cString: strerror(errno)))") }
            Glibc.close(fd)
            fd = -1
            let final = directory + "/" + finalName
            guard rename(temporaryPath, final) == 0 else { throw StoreError(.storage, "rename \(temporaryPath): \(String(cString: strerror(errno)))") }
            let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 { _ = fsync(dfd); Glibc.close(dfd) }
            return final
        }

        /// Gives up: the temporary file is removed.
        func abandon() {
            if fd >= 0 { Glibc.close(fd); fd = -1 }
            unlink(temporaryPath)
        }

        deinit { if fd >= 0 { Glibc.close(fd) } }
    }
}

/// What is wrong with a checkpoint file (it is then not used).
public struct CheckpointProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file's own bytes fail a check: header, an entry, the trailer, a state.
        case damaged
        /// It covers records the log does not have (the log ends before its position).
        case stale
        /// Its fingerprints do not match the log's records: it belongs to another log, or
        /// the log's records were replaced.
        case foreign
        case unreadable
    }
    public var file: String
    public var kind: Kind
    public var message: String
    public var description: String { "\(kind.rawValue): \(file): \(message)" }
}
