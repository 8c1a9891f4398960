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

    /// The newest valid checkpoint's states, or nil (the log is then replayed from 0); every
    /// file passed over is reported in `problems`. Leftover temporary files are removed.
    static func loadNewestCheckpoint(directory: String, log: Log, problems: inout [CheckpointFile.Problem]) -> (header: CheckpointFile.Header, path: String, snapshots: [OrderSnapshot])? {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for n in names where n.hasSuffix(".ckpt.tmp") { unlink(directory + "/" + n) }
        }
        for (_, file) in CheckpointFile.list(directory) {
            var snapshots: [OrderSnapshot] = []
            do throws(CheckpointFile.Problem) {
                let header = try CheckpointFile.read(path: file, log: log) { (e) throws(CheckpointFile.Problem) in
                    do throws(OrderError) {
                        let id = try OrderID(String(decoding: e.id, as: UTF8.self))
                        snapshots.append(try OrderSnapshot(orderID: id, storedState: e.state))
                    } catch {
                        throw CheckpointFile.Problem(file: file, kind: .damaged, message: error.message)
                    }
                    if !snapshots[snapshots.count - 1].exists {
                        throw CheckpointFile.Problem(file: file, kind: .damaged, message: "order \(snapshots[snapshots.count - 1].orderID) has no events")
                    }
                }
                // Every state must describe records the checkpoint covers.
                if let bad = snapshots.first(where: { ($0.lastPosition ?? .max) >= header.position }) {
                    throw CheckpointFile.Problem(file: file, kind: .damaged, message: "order \(bad.orderID)'s state is at or past the checkpoint's position \(header.position)")
                }
                return (header, file, snapshots)
            } catch {
                problems.append(error)
            }
        }
        return nil
    }

    /// Whether a checkpoint is due: at least `checkpointEvents` stored since the last, and at
    /// least an eighth of the log — so the whole of the checkpoints written over a store's life
    /// is a small multiple of its last one, and a restart replays at most about an eighth.
    func checkpointDue(_ s: State) -> Bool {
        let every = configuration.checkpointEvents
        guard every > 0, !s.checkpoint.running, s.failure == nil else { return false }
        let since = s.nextPosition - s.checkpoint.position
        return since >= UInt64(every) && since >= s.checkpoint.position / 8
    }

    /// Starts writing a checkpoint on a thread of its own if one is due.
    func checkpointIfDue() {
        guard state.withLock({ checkpointDue($0) }) else { return }
        checkpointGroup.enter()
        Thread.detachNewThread { [self] in
            defer { checkpointGroup.leave() }
            do { _ = try writeCheckpoint() } catch {
                logger.error("checkpoint not written", metadata: ["error": "\(error)"])
            }
        }
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
        let started = DispatchTime.now()
        struct Taken { var position: UInt64; var table: OrderTable; var changed: [OrderHandle]; var cached: [OrderSnapshot?]; var previous: String? }
        let taken: Taken? = state.withLock { s in
            guard !s.checkpoint.running, s.failure == nil, s.nextPosition > s.checkpoint.position else { return nil }
            s.checkpoint.running = true
            let changed = s.checkpoint.take()
            return Taken(position: s.nextPosition, table: s.table, changed: changed, cached: changed.map { s.cache[$0] }, previous: s.checkpoint.path)
        }
        guard let taken else { return nil }
        var writer: CheckpointFile.Writer?
        do {
            let info = try writeCheckpoint(taken.position, table: taken.table, changed: taken.changed, cached: taken.cached,
                                           previous: taken.previous, started: started, writer: &writer)
            state.withLock { s in
                s.checkpoint.running = false
                s.checkpoint.position = info.position
                s.checkpoint.path = info.path
            }
            // The newest two are kept: the one just written, and the one before it.
            for (_, old) in CheckpointFile.list(Self.checkpointDirectory(log.path)).dropFirst(2) { unlink(old) }
            logger.info("checkpoint written", metadata: ["position": "\(info.position)", "orders": "\(info.orders)", "changed": "\(info.changedOrders)", "bytes": "\(info.bytes)"])
            return info
        } catch {
            writer?.abandon()
            state.withLock { s in
                s.checkpoint.running = false
                for h in taken.changed { s.checkpoint.mark(h) }
                s.checkpoint.problems.append("checkpoint at \(taken.position) not written: \(error)")
            }
            throw StoreError.storage(error)
        }
    }

    private func writeCheckpoint(_ position: UInt64, table: OrderTable, changed: [OrderHandle], cached: [OrderSnapshot?],
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
        try w.append(repeatElement(UInt8(0), count: CheckpointFile.headerBytes).map { $0 })
        var isChanged = [Bool](repeating: false, count: table.count)
        for h in changed { isChanged[h.index] = true }
        var written = [Bool](repeating: false, count: table.count)
        var orders = 0
        // Unchanged orders: their entries in the previous checkpoint, byte for byte.
        if let previous {
            do {
                _ = try CheckpointFile.read(path: previous, log: log) { e in
                    guard let h = table.find(bytes: e.id, hash: OrderTable.hash(bytes: e.id)), !isChanged[h.index], !written[h.index] else { return }
                    written[h.index] = true
                    orders += 1
                    try? w.append(e.whole)
                }
            } catch {
                throw StoreError(.storage, "the previous checkpoint cannot be read: \(error)")
            }
        }
        if configuration.checkpointWritePause > 0 { usleep(UInt32(configuration.checkpointWritePause)) }
        // Changed orders (and, with no previous checkpoint, every order): their state now.
        var fresh = 0
        var buffer: [UInt8] = []
        for (k, h) in changed.enumerated() where !written[h.index] {
            let id = table[h]
            let snapshot = try cached[k] ?? replay(id, through: { p, _ in p < position })
            guard snapshot.exists else { continue }
            written[h.index] = true
            buffer.removeAll(keepingCapacity: true)
            CheckpointFile.appendEntry(snapshot, to: &buffer)
            try w.append(buffer)
            orders += 1
            fresh += 1
        }
        guard orders == table.count else {
            throw StoreError(.storage, "the checkpoint would hold \(orders) orders of \(table.count): the previous one is missing some")
        }
        try w.append(CheckpointFile.encodeTrailer(orders: UInt64(orders)))
        if configuration.checkpointWritePause > 0 { usleep(UInt32(configuration.checkpointWritePause)) }
        let header = CheckpointFile.Header(position: position, orders: UInt64(orders), firstChecksum: prints.first, lastChecksum: prints.last, writtenAt: Self.clock())
        let final = try w.commit(header: CheckpointFile.encodeHeader(header))
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return CheckpointInfo(path: final, position: position, orders: orders, changedOrders: fresh, bytes: w.bytesWritten, seconds: seconds)
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
                _ = try CheckpointFile.read(path: file, log: nil) { (e) throws(CheckpointProblem) in
                    do throws(OrderError) {
                        let id = try OrderID(String(decoding: e.id, as: UTF8.self))
                        _ = try OrderSnapshot(orderID: id, storedState: e.state)
                    } catch {
                        throw CheckpointProblem(file: file, kind: .damaged, message: error.message)
                    }
                }
            } catch {
                problems.append(error)
            }
        }
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
                if h.position > log.endPosition.rawValue {
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
