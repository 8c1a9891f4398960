import Dispatch
import Foundation
import LogStorage
import Logging
import OrderModel

/// Which orders changed since the newest checkpoint, and that checkpoint: what the next one
/// must write afresh and what it may copy from the last.
struct CheckpointTracking: Sendable {
    /// The newest checkpoint's position (0: none) and file.
    var position: UInt64 = 0
    var path: String?
    /// Per handle: changed since `position` (or not yet in any checkpoint).
    private(set) var dirty: [Bool] = []
    private(set) var dirtyList: [OrderHandle] = []
    /// A checkpoint is being written (one at a time).
    var running = false
    /// The store's position when a write last failed: the next try waits for as many new
    /// events as make one due (no retry after every batch).
    var failedAt: UInt64 = 0
    /// Why the newest checkpoint files were not used at open, or why the last write failed.
    var problems: [String] = []

    mutating func mark(_ h: OrderHandle) {
        if h.index >= dirty.count { dirty.append(contentsOf: repeatElement(false, count: max(h.index + 1 - dirty.count, dirty.count / 2 + 1024))) }
        if !dirty[h.index] {
            dirty[h.index] = true
            dirtyList.append(h)
        }
    }

    /// The orders changed so far, which are clean from now on (a failed write marks them again).
    mutating func take() -> [OrderHandle] {
        let taken = dirtyList
        for h in taken { dirty[h.index] = false }
        dirtyList = []
        return taken
    }
}

/// What `writeCheckpoint` wrote.
public struct CheckpointInfo: Sendable, Equatable {
    public var path: String
    public var position: UInt64
    public var orders: Int
    /// Orders written from fresh state; the rest were copied from the previous checkpoint.
    public var changedOrders: Int
    public var bytes: Int
    public var seconds: Double
}

extension OrderStore {
    /// The checkpoints' directory of the store in `path`.
    static func checkpointDirectory(_ path: String) -> String { path + "/" + CheckpointFile.directoryName }

    /// The newest checkpoint file that opens and fits `log` (its entries are read later, as
    /// needed); every newer one passed over is reported in `problems`. Leftover temporary
    /// files are removed.
    static func openNewestCheckpoint(directory: String, log: Log, problems: inout [CheckpointProblem], removingTemporaryFiles: Bool = false) -> CheckpointFile.Reader? {
        // Only open removes them: an audit beside a store writing one must leave it be.
        if removingTemporaryFiles {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
                for n in names where n.hasSuffix(".ckpt.tmp") { unlink(directory + "/" + n) }
            }
        }
        for (_, file) in CheckpointFile.list(directory) {
            do throws(CheckpointProblem) { return try CheckpointFile.Reader(path: file, log: log) } catch { problems.append(error) }
        }
        return nil
    }

    /// Open's work from a checkpoint: the orders' handles, lists and totals from its index
    /// section, read in place (no order's state is read), then the log after its position replayed onto the
    /// states of the orders it touches — those alone are read from the checkpoint. Throws
    /// when an entry it needs is damaged (open then starts again from the log alone).
    static func restore(from reader: CheckpointFile.Reader, log: Log, into state: inout State, logger: Logger) throws(CheckpointProblem) {
        let n = reader.count
        // The order table, the lists and each order's totals row are read in place from the
        // checkpoint: nothing of its orders is interned, sorted or copied but the status lists.
        var table = OrderTable(base: reader.orderIDs)
        var indexes = OrderIndexes(statusLists: reader.statusLists, customers: reader.customerLists, count: n)
        var totals = RunningTotals(rows: reader.rows, checkpoint: reader)
        // The records after the checkpoint, each applied to its order's state as of it, on
        // every core: each worker owns the orders `ParallelReplay` gives it, reading their
        // states from the checkpoint (read-only, shared) as it first meets them.
        struct Part: Sendable {
            var touched: [Int: OrderSnapshot] = [:]
            var before: [Int: RunningTotals.Amounts?] = [:]
            var fresh: [String: OrderSnapshot] = [:]
            var failure: CheckpointProblem?
        }
        let lookup = table
        var parts: [Part]
        do {
            parts = try ParallelReplay.run(log: log, from: LogPosition(reader.header.position), makePart: { _ in Part() }) { part, view in
                guard part.failure == nil else { return }
                let hash = OrderTable.hash(bytes: view.keyBytes)
                var snapshot: OrderSnapshot
                let known = lookup.find(bytes: view.keyBytes, hash: hash)
                let key = known == nil ? String(decoding: view.keyBytes, as: UTF8.self) : ""
                if let h = known {
                    if let s = part.touched.removeValue(forKey: h.index) {
                        snapshot = s
                    } else {
                        do throws(CheckpointProblem) { snapshot = try reader.snapshot(h.index, id: lookup[h]) } catch { part.failure = error; return }
                        part.before[h.index] = RunningTotals.Amounts(snapshot)
                    }
                } else if let s = part.fresh.removeValue(forKey: key) {
                    snapshot = s
                } else {
                    guard let id = try? OrderID(key) else {
                        logger.error("stored event does not decode", metadata: ["position": "\(view.position)", "error": "invalid order id"])
                        return
                    }
                    snapshot = OrderSnapshot(orderID: id)
                }
                snapshot.apply(stored: view, logger: logger)
                if let h = known { part.touched[h.index] = snapshot } else { part.fresh[key] = snapshot }
            }
        } catch {
            throw CheckpointProblem(file: reader.path, kind: .unreadable, message: "the log after it does not read: \(error)")
        }
        if let failure = parts.compactMap(\.failure).first { throw failure }
        // The workers' orders are disjoint: taken part by part, each part freed as it is
        // merged (merging them all while the parts lived held every state twice).
        var touched: [Int: OrderSnapshot] = [:], before: [Int: RunningTotals.Amounts?] = [:], fresh: [String: OrderSnapshot] = [:]
        while var part = parts.popLast() {
            if touched.isEmpty { swap(&touched, &part.touched) } else { touched.merge(part.touched) { a, _ in a } }
            before.merge(part.before) { a, _ in a }
            fresh.merge(part.fresh) { a, _ in a }
        }
        // Orders new since the checkpoint get handles in placement order, as a full open gives.
        let news = fresh.values.filter(\.exists).sorted { ($0.placedPosition ?? 0) < ($1.placedPosition ?? 0) }
        var changed: [(OrderHandle, OrderSnapshot)] = touched.sorted { $0.key < $1.key }.map { (OrderHandle(raw: UInt32($0.key)), $0.value) }
        for s in news { changed.append((table.intern(s.orderID), s)) }
        for (h, s) in changed {
            if h.index < n { totals.add(before[h.index] ?? nil, of: s, sign: -1, handle: h) }
            if s.exists {
                totals.add(s, sign: 1, handle: h)
                indexes.update(s, handle: h, table)
            }
            state.checkpoint.mark(h)
        }
        // The orders the log after the checkpoint changed are the warm ones: cached, oldest
        // change first (the order the cache evicts in).
        for (h, s) in changed.sorted(by: { ($0.1.lastPosition ?? 0) < ($1.1.lastPosition ?? 0) }).suffix(state.cache.countMax) where s.exists {
            state.cache.insert(s, for: h)
        }
        state.cache.trim()
        state.table = table
        state.indexes = indexes
        state.totals = totals
        state.checkpoint.position = reader.header.position
        state.checkpoint.path = reader.path
    }

    /// Whether a checkpoint is due: at least `checkpointEvents` stored since the last, and at
    /// least an eighth of the log — so the whole of the checkpoints written over a store's life
    /// is a small multiple of its last one, and a restart replays at most about an eighth.
    func checkpointDue(_ s: State) -> Bool {
        let every = configuration.checkpointEvents
        guard every > 0, !s.checkpoint.running, !s.closing, s.failure == nil, s.totalsValid else { return false }
        let since = s.nextPosition - s.checkpoint.position
        return since >= UInt64(every) && since >= s.checkpoint.position / 8
            && s.nextPosition - max(s.checkpoint.position, s.checkpoint.failedAt) >= UInt64(every)
    }

    /// Starts writing a checkpoint on a thread of its own if one is due. The write is claimed
    /// under the lock (`running`, the group entered), so `close` either sees it and waits or
    /// keeps it from starting.
    func checkpointIfDue() {
        let claimed = state.withLock { s -> Taken? in
            guard checkpointDue(s) else { return nil }
            return claim(&s)
        }
        guard let claimed else { return }
        Thread.detachNewThread { [self] in
            do { _ = try write(claimed) } catch {
                logger.error("checkpoint not written", metadata: ["error": "\(error)"])
            }
        }
    }

    /// What a checkpoint write takes under the lock.
    struct Taken {
        var position: UInt64
        var table: OrderTable
        /// The status lists (sorted by id) as of `position`.
        var statusLists: [SortedHandles]
        var totals: RunningTotals
        var changed: [OrderHandle]
        var cached: [OrderSnapshot?]
        var previous: String?
    }

    /// Marks a write as running (the group entered) and takes what it needs.
    private func claim(_ s: inout State) -> Taken {
        s.checkpoint.running = true
        checkpointGroup.enter()
        let changed = s.checkpoint.take()
        return Taken(position: s.nextPosition, table: s.table, statusLists: s.indexes.statusLists, totals: s.totals, changed: changed,
                     cached: changed.map { s.cache[$0] }, previous: s.checkpoint.path)
    }

    /// Writes a checkpoint of every order's state as of the store's current position, in the
    /// background of appends (they wait for none of it): the lock is held only to take the
    /// list of orders changed since the last checkpoint and the cached states of those.
    /// Orders unchanged since are copied from the last checkpoint's file as they are; changed
    /// ones not cached are replayed from their events. Returns nil when nothing changed or a
    /// checkpoint is already being written. Throws when it cannot be written (the store goes
    /// on; the changed orders are kept for the next one).
    @discardableResult
    public func writeCheckpoint() throws -> CheckpointInfo? {
        let claimed = state.withLock { s -> Taken? in
            guard !s.checkpoint.running, !s.closing, s.failure == nil, s.totalsValid, s.nextPosition > s.checkpoint.position else { return nil }
            return claim(&s)
        }
        guard let claimed else { return nil }
        return try write(claimed)
    }

    /// Writes the checkpoint `taken` describes; always ends the claim (running, the group).
    private func write(_ taken: Taken) throws -> CheckpointInfo {
        defer { checkpointGroup.leave() }
        let started = DispatchTime.now()
        var writer: CheckpointFile.Writer?
        do {
            let info = try writeCheckpoint(taken.position, table: taken.table, statusLists: taken.statusLists, totals: taken.totals, changed: taken.changed, cached: taken.cached,
                                           previous: taken.previous, started: started, writer: &writer)
            // The new checkpoint serves cold reads from now on (its index read here, off the lock).
            let reader = try? CheckpointFile.Reader(path: info.path, log: log)
            reader?.dropResidentPages()
            state.withLock { s in
                s.checkpoint.running = false
                s.checkpoint.position = info.position
                s.checkpoint.path = info.path
                // Its orders (every handle below its count) are read from it from now on:
                // the table, the customers' lists and the totals rows keep in memory only
                // the orders stored after it.
                if let reader, reader.count <= s.table.count {
                    s.table = s.table.rebased(on: reader.orderIDs)
                    s.indexes.rebase(customers: reader.customerLists, count: reader.count)
                    s.totals.rebase(on: reader)
                    s.checkpointReader = reader
                }
                // (A new file that does not open leaves the store on the one it reads now,
                // which stays valid: it is not deleted below.)
            }
            // Kept: the one just written and the one it was made from (both valid); any other
            // file — older, or one open passed over — goes.
            let inUse = state.withLock { $0.checkpointReader?.path }
            for (_, other) in CheckpointFile.list(Self.checkpointDirectory(log.path)) where other != info.path && other != taken.previous && other != inUse { unlink(other) }
            logger.info("checkpoint written", metadata: ["position": "\(info.position)", "orders": "\(info.orders)", "changed": "\(info.changedOrders)", "bytes": "\(info.bytes)"])
            return info
        } catch {
            writer?.abandon()
            state.withLock { s in
                s.checkpoint.running = false
                s.checkpoint.failedAt = taken.position
                for h in taken.changed { s.checkpoint.mark(h) }
                s.checkpoint.problems.append("checkpoint at \(taken.position) not written: \(error)")
                if s.checkpoint.problems.count > 20 { s.checkpoint.problems.removeFirst(s.checkpoint.problems.count - 20) }
            }
            throw StoreError.storage(error)
        }
    }

    private func writeCheckpoint(_ position: UInt64, table: OrderTable, statusLists: [SortedHandles], totals: RunningTotals, changed: [OrderHandle], cached: [OrderSnapshot?],
                                 previous: String?, started: DispatchTime, writer: inout CheckpointFile.Writer?) throws -> CheckpointInfo {
        // Only records already durable go into a checkpoint (readers see just those).
        let deadline = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
        while log.endPosition.rawValue < position {
            guard DispatchTime.now().uptimeNanoseconds < deadline, state.withLock({ $0.failure == nil }) else {
                throw StoreError(.storage, "records below \(position) did not become durable")
            }
            usleep(1000)
        }
        guard let prints = CheckpointFile.fingerprints(of: log, at: position) else { throw StoreError(.storage, "the log does not reach \(position)") }
        let directory = Self.checkpointDirectory(log.path)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let w = try CheckpointFile.Writer(directory: directory, position: position)
        writer = w
        try w.append([UInt8](repeating: 0, count: CheckpointFile.headerBytes))
        let n = table.count
        // Each changed order's place in `cached`, by handle (-1: unchanged).
        var slot = [Int32](repeating: -1, count: n)
        for (k, h) in changed.enumerated() { slot[h.index] = Int32(k) }
        // The previous checkpoint, for the unchanged orders' entries (copied byte for byte);
        // if it cannot be read, every order is written from its state.
        var prev: CheckpointFile.Reader?
        if let previous {
            do throws(CheckpointProblem) { prev = try CheckpointFile.Reader(path: previous, log: log) } catch {
                logger.warning("previous checkpoint not readable: every order is written afresh", metadata: ["problem": "\(error)"])
            }
        }
        defer { prev?.close() }
        var summaries: [CheckpointFile.Summary] = []
        summaries.reserveCapacity(n)
        var customers: [String] = []
        var customerIndex: [String: UInt32] = [:]
        func customer(_ c: String) -> UInt32 {
            if let k = customerIndex[c] { return k }
            let k = UInt32(customers.count)
            customers.append(c)
            customerIndex[c] = k
            return k
        }
        // Changed orders neither cached nor copied are replayed. Many of them (the first
        // checkpoint of a store, or after an unreadable one): one scan of the log below the
        // position on every core, instead of one order's key chain at a time.
        // Changed orders not cached, when many: replayed together in one partitioned scan of
        // the log from the previous checkpoint's position (each starting from its state there)
        // or, without one, from the start — only the records of those orders applied, only
        // their states kept. Else each is replayed through its key chain below.
        // Each worker's states stay in its part (an order's part: the worker its key maps to),
        // taken out as they are written: never all held twice.
        struct Part: Sendable { var states: [Int: OrderSnapshot] = [:] }
        var replayed: [Part] = []
        let workers = ParallelReplay.defaultWorkers
        var needed = [Bool](repeating: false, count: n)
        var uncached = 0
        for (k, h) in changed.enumerated() where cached[k] == nil { needed[h.index] = true; uncached += 1 }
        let from = prev?.header.position ?? 0
        let scanning = uncached > configuration.checkpointScanMin && (prev != nil || uncached > n / 4)
        // The scan goes by ranges of handles holding at most `checkpointScanBatch` of those
        // orders, so the states held at once are bounded (one scan of the log a range).
        var scannedUpTo = 0
        func scan(from start: Int) throws {
            var end = start, count = 0
            while end < n && count < configuration.checkpointScanBatch { if needed[end] { count += 1 }; end += 1 }
            replayed = []
            let rangeEnd = end
            replayed = try ParallelReplay.run(log: log, from: LogPosition(from), end: LogPosition(position), workers: workers, makePart: { _ in Part() }) { [needed, prev] part, view in
                guard let h = table.find(bytes: view.keyBytes, hash: OrderTable.hash(bytes: view.keyBytes)), h.index >= start, h.index < rangeEnd, needed[h.index] else { return }
                var state: OrderSnapshot
                if let s = part.states.removeValue(forKey: h.index) {
                    state = s
                } else if let prev, h.index < prev.count {
                    // Its state at the previous checkpoint; a damaged entry: replayed alone below.
                    guard let s = try? prev.snapshot(h.index, id: table[h]) else { return }
                    state = s
                } else {
                    state = OrderSnapshot(orderID: table[h])
                }
                state.apply(stored: view, logger: nil)
                part.states[h.index] = state
            }
            scannedUpTo = end
        }
        func stateNow(_ k: Int, _ id: OrderID) throws -> OrderSnapshot {
            if slot[k] >= 0, let s = cached[Int(slot[k])] { return s }
            // (An order whose previous entry is damaged is not there: replayed alone.)
            if !replayed.isEmpty {
                var bytes = id.value
                let w = bytes.withUTF8 { ParallelReplay.owner(UnsafeRawBufferPointer($0), workers) }
                if let s = replayed[w].states.removeValue(forKey: k) { return s }
            }
            return try replay(id, through: { p, _ in p < position }, skippingUnreadable: true)
        }
        var fresh = 0
        var buffer: [UInt8] = []
        var paused = configuration.checkpointWritePause == 0
        for k in 0..<n {
            if scanning && k >= scannedUpTo { try scan(from: k) }
            // The previous checkpoint's pages copied so far go back to the file (they are read
            // once; kept, a 10 M-order copy made the process 7 GB larger).
            if k % 65_536 == 65_535 { prev?.dropResidentPages() }
            let h = OrderHandle(raw: UInt32(k))
            let id = table[h]
            let offset = UInt64(w.offset)
            // Unchanged since the previous checkpoint: its entry as it is — unless that entry
            // fails its checks (a damaged entry no open needed): then from its state.
            if slot[k] < 0, let prev, k < prev.count, let e = try? prev.entry(k, id: id) {
                var summary = prev.summary(k)
                summary.entryOffset = offset
                summary.customer = customer(prev.customer(Int(summary.customer)))
                summary.row = totals.row(of: h)
                summaries.append(summary)
                try w.append(e.whole)
                continue
            }
            let snapshot = try stateNow(k, id)
            guard snapshot.exists, let placed = snapshot.placedPosition, let last = snapshot.lastPosition else {
                throw StoreError(.storage, "order \(id) has no events before \(position)")
            }
            summaries.append(CheckpointFile.Summary(entryOffset: offset, placedPosition: placed, lastPosition: last, customer: customer(snapshot.customerID),
                                                    row: totals.row(of: h), status: OrderIndexes.statusCode(snapshot.status)))
            buffer.removeAll(keepingCapacity: true)
            CheckpointFile.appendEntry(snapshot, to: &buffer)
            try w.append(buffer)
            fresh += 1
            if !paused && k >= n / 2 { usleep(UInt32(configuration.checkpointWritePause)); paused = true }
        }
        let indexOffset = UInt64(w.offset)
        guard table.idBytes < Int(UInt32.max) else { throw StoreError(.storage, "the order ids take \(table.idBytes) bytes; a checkpoint holds at most 4 GiB of them") }
        let ids = table.encodedSections()
        let parts = CheckpointFile.IndexParts(idStarts: ids.starts, idHashes: ids.hashes, slots: ids.slots, idBlob: ids.blob,
                                              statusLists: statusLists.map(\.all), customers: customers, rows: totals.allRows)
        let (indexLength, indexCRC) = try CheckpointFile.writeIndex(summaries: summaries, parts, to: w)
        try w.append(CheckpointFile.encodeTrailer(orders: UInt64(n), indexOffset: indexOffset, indexLength: indexLength, indexCRC: indexCRC))
        if configuration.checkpointWritePause > 0 { usleep(UInt32(configuration.checkpointWritePause)) }
        let header = CheckpointFile.Header(position: position, orders: UInt64(n), firstChecksum: prints.first, lastChecksum: prints.last,
                                           writtenAt: Self.clock(), customers: UInt32(customers.count), rows: UInt32(totals.allRows.count))
        let final = try w.commit(header: CheckpointFile.encodeHeader(header))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return CheckpointInfo(path: final, position: position, orders: n, changedOrders: fresh, bytes: w.bytesWritten, seconds: seconds)
    }

    /// The open checkpoint and the order's entry in it, when it holds the order: an order's
    /// handle is its entry's index (both in placement order), checked by id.
    func checkpointEntry(of id: OrderID) -> (CheckpointFile.Reader, Int)? {
        state.withLock { Self.checkpointEntry(of: id, in: $0) }
    }

    static func checkpointEntry(of id: OrderID, in s: State) -> (CheckpointFile.Reader, Int)? {
        // Which order entry `h` holds is checked when it is read.
        guard let reader = s.checkpointReader, let h = s.table.find(id), h.index < reader.count else { return nil }
        return (reader, h.index)
    }

    /// The newest checkpoint's position (0: none) and what was wrong with any passed over.
    public var checkpointStatus: (position: UInt64, path: String?, problems: [String]) {
        state.withLock { ($0.checkpoint.position, $0.checkpoint.path, $0.checkpoint.problems) }
    }
}

extension OrderStore {
    /// Checks every checkpoint file of the store in `path` without opening it (no lock: it can
    /// run beside a server): each file's header, entries, states and trailer. Which log a
    /// checkpoint belongs to, and whether the log still reaches it, are checked when the store
    /// opens (a problem then is reported and the checkpoint not used). Leftover temporary
    /// files are not problems: open removes them.
    public static func verifyCheckpoints(path: String) -> [CheckpointProblem] {
        var problems: [CheckpointProblem] = []
        for (_, file) in CheckpointFile.list(checkpointDirectory(path)) {
            do throws(CheckpointProblem) {
                let reader = try CheckpointFile.Reader(path: file, log: nil)
                defer { reader.close() }
                try reader.verifyEntries()
            } catch {
                problems.append(error)
            }
        }
        if let marks = TotalsMarks.problem(path: totalsMarksPath(path)) { problems.append(marks) }
        return problems
    }
}

/// A checkpoint file as `inspect` lists it: its header, and whether it fits the log (the
/// entries are not read: `verify` and open check those).
public struct CheckpointSummary: Sendable {
    public var path: String
    public var position: UInt64
    public var orders: UInt64
    public var bytes: Int
    public var writtenAt: Int64
    /// Why an open would pass it over, as far as its header tells; nil: it fits the log.
    public var problem: CheckpointProblem?
}

extension OrderStore {
    /// The checkpoint files of the store in `path`, newest first, each checked against `log`
    /// by its header and fingerprints.
    public static func checkpointSummaries(path: String, log: Log) -> [CheckpointSummary] {
        CheckpointFile.list(checkpointDirectory(path)).map { (_, file) in
            var s = CheckpointSummary(path: file, position: 0, orders: 0, bytes: 0, writtenAt: 0)
            do {
                let mapped = try MappedFile(path: file)
                defer { mapped.close() }
                s.bytes = mapped.bytes.count
                guard let h = CheckpointFile.decodeHeader(mapped.bytes) else {
                    s.problem = CheckpointProblem(file: file, kind: .damaged, message: "header fails its magic, version or checksum")
                    return s
                }
                (s.position, s.orders, s.writtenAt) = (h.position, h.orders, h.writtenAt)
                let b = mapped.bytes, t = b.count - CheckpointFile.trailerBytes
                if t < CheckpointFile.headerBytes || Array(b[t..<(t + 8)]) != CheckpointFile.endMagic
                    || b.u32(t + 40) != CheckpointFile.crc(UnsafeRawBufferPointer(rebasing: b[t..<(t + 40)])) || b.u64(t + 8) != h.orders {
                    s.problem = CheckpointProblem(file: file, kind: .damaged, message: "trailer missing or not matching the header (a torn write?)")
                } else if h.position > log.endPosition.rawValue {
                    s.problem = CheckpointProblem(file: file, kind: .stale, message: "covers \(h.position) records; the log holds \(log.endPosition.rawValue)")
                } else if let prints = CheckpointFile.fingerprints(of: log, at: h.position), prints != (h.firstChecksum, h.lastChecksum) {
                    s.problem = CheckpointProblem(file: file, kind: .foreign, message: "its fingerprints of records 0 and \(h.position - 1) are not the log's")
                }
            } catch {
                s.problem = CheckpointProblem(file: file, kind: .unreadable, message: "\(error)")
            }
            return s
        }
    }
}

/// What a store holds now, for metrics and `inspect`-like reports.
public struct StoreStatistics: Sendable, Equatable {
    /// Orders stored (each with a handle).
    public var orders: Int
    /// Snapshots in the cache, their bytes, and the bound on those (`snapshotCacheBytesMax`,
    /// lowered at open to what the memory number leaves).
    public var cachedSnapshots: Int
    public var cacheBytes: Int
    public var cacheBytesMax: Int
    /// The position after the newest event written.
    public var endPosition: UInt64
    /// The newest checkpoint's position (0: none), and whether one is being written.
    public var checkpointPosition: UInt64
    public var checkpointRunning: Bool
    /// The memory the caches are sized from (`StoreConfiguration.memoryBytes`), and the
    /// process's resident set now (Linux: /proc/self/statm; 0 elsewhere).
    public var memoryBytes: Int
    public var residentBytes: Int
    /// What every order costs however it is used, beside the caches: the log's key directory,
    /// the status lists (4 bytes an order, and 2 more of per-order flags), and the orders
    /// stored after the checkpoint the store reads its table and customers' lists from (in
    /// memory: each id, hash and slot, about 30 bytes, and its customer list's entry).
    public var keyDirectoryBytes: Int
    public var statusListBytes: Int
    public var ordersInMemory: Int
}

extension OrderStore {
    public var statistics: StoreStatistics {
        state.withLock { s in
            StoreStatistics(orders: s.table.count, cachedSnapshots: s.cache.count, cacheBytes: s.cache.bytes, cacheBytesMax: s.cache.bytesMax, endPosition: s.nextPosition,
                            checkpointPosition: s.checkpoint.position, checkpointRunning: s.checkpoint.running,
                            memoryBytes: configuration.memoryBytes, residentBytes: Self.residentBytes(),
                            keyDirectoryBytes: log.keyDirectoryStatistics.bytes, statusListBytes: s.table.count * 6,
                            ordersInMemory: s.table.count - (s.table.base?.count ?? 0))
        }
    }

    /// The process's resident set, bytes (Linux); 0 where it cannot be read.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
