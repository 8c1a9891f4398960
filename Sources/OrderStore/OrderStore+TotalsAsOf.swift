import Foundation
import Synchronization
import LogStorage
import Logging
import OrderModel

extension OrderStore {
    /// Totals per currency and channel over the events before position `end` (clamped to the
    /// log's end): the same answer however often it is asked, which is how a client reads
    /// them page by page.
    ///
    /// From the nearest known totals at or before `end` — a totals mark (`TotalsMarks`) or
    /// the newest checkpoint — plus the events between it and `end`, replayed on every core:
    /// each order they touch counts its state at `end` instead of its state at the base. An
    /// order's state at the base is empty when its first record in the range has no previous
    /// record; else it is read from the checkpoint's entry (the base is the checkpoint) or
    /// replayed through its key chain (an order in flight at a mark). The cost is the
    /// events after the base, not the log before it (issue 12: totals as of a time
    /// mid-history within 2 s at 10 M orders).
    public func totals(before end: UInt64) throws -> [TotalsRow] {
        // Through everything written: the running totals, no replay.
        if let current = currentTotals(), end >= current.end { return current.rows }
        let stop = min(end, log.endPosition.rawValue)
        let (marks, reader) = state.withLock { ($0.marks, $0.checkpointReader) }
        var base: (position: UInt64, rows: [TotalsRow], checkpoint: CheckpointFile.Reader?) = (0, [], nil)
        if let m = marks.last(where: { $0.position <= stop }) { base = (m.position, m.rows, nil) }
        if let reader, reader.header.position <= stop, reader.header.position >= base.position { base = (reader.header.position, reader.rows, reader) }
        let from = base.position, baseCheckpoint = base.checkpoint
        var parts: [[TotalsRow]] = []
        if from < stop {
            do {
                parts = try ParallelReplay.run(log: log, from: LogPosition(from), end: LogPosition(stop), makePart: { _ in DeltaPart() }, body: { part, view in
                    // A record that does not read ends the replay with an error (as reading the
                    // log does); an event the rules refuse is skipped, as at open.
                    let k = try part.orders.order(of: view)
                    if k == part.before.count {
                        // First seen in the range: its state at the base.
                        if view.previousPosition != nil {
                            part.orders.snapshots[k] = try self.state(of: part.orders.snapshots[k].orderID, at: from, checkpoint: baseCheckpoint)
                        }
                        part.before.append(RunningTotals.Amounts(part.orders.snapshots[k]))
                    }
                    let event = try EventView.read(type: try StoredEvent.type(of: view), view.payload)
                    try? part.orders.snapshots[k].apply(event, position: view.position.rawValue, time: event.ts?.microseconds ?? view.recordedAt.rawValue)
                }, finish: { (part: consuming DeltaPart) -> [TotalsRow] in
                    // Each order's change: its state at the stop in, its state at the base out.
                    var delta = RunningTotals()
                    for (k, s) in part.orders.snapshots.enumerated() {
                        delta.add(s, sign: 1)
                        delta.add(part.before[k], of: s, sign: -1)
                    }
                    return delta.allRows
                })
            } catch let error as StoreError { throw error } catch { throw StoreError.storage(error) }
        }
        // The base's rows and each part's changes, summed by currency and channel.
        var merged: [String: TotalsRow] = [:]
        for row in base.rows + parts.joined() {
            let key = row.currency + "\u{0}" + row.channel
            var m = merged[key] ?? TotalsRow(currency: row.currency, channel: row.channel)
            m.orders &+= row.orders
            m.total &+= row.total
            m.captured &+= row.captured
            m.refunded &+= row.refunded
            merged[key] = m
        }
        return RunningTotals.sorted(merged.values.filter { $0.orders != 0 })
    }

    /// Order `id`'s state as of position `position` (its events before it): from `checkpoint`'s
    /// entry when the checkpoint is at that position and holds the order, else its key chain.
    private func state(of id: OrderID, at position: UInt64, checkpoint: CheckpointFile.Reader?) throws -> OrderSnapshot {
        if let checkpoint, checkpoint.header.position == position, let h = state.withLock({ $0.table.find(id) }), h.index < checkpoint.count {
            do throws(CheckpointProblem) { return try checkpoint.snapshot(h.index, id: id) } catch {
                logger.error("checkpoint entry not usable: the order is replayed from the log", metadata: ["order": "\(id)", "problem": "\(error)"])
            }
        }
        return try replay(id, through: { p, _ in p < position })
    }

    /// One worker's orders of a totals replay, and each one's contribution at the base.
    private struct DeltaPart: Sendable {
        var orders = ReplayPart(capacity: 1024)
        var before: [RunningTotals.Amounts?] = []
    }

    // MARK: Marks

    /// The totals marks' file of the store in `path`.
    static func totalsMarksPath(_ path: String) -> String { checkpointDirectory(path) + "/" + TotalsMarks.fileName }

    /// At open: the marks that fit the log (the file rewritten without the others), and one
    /// at the log's end when the totals there are known and newer than the last mark.
    static func loadTotalsMarks(log: Log, into state: inout State, interval: Int, logger: Logger) {
        let path = totalsMarksPath(log.path)
        let (read, clean) = TotalsMarks.read(path: path)
        var marks = TotalsMarks.fitting(read, log: log)
        if !clean || marks.count != read.count {
            logger.warning("totals marks passed over", metadata: ["file": "\(path)", "kept": "\(marks.count)", "read": "\(read.count)", "torn": "\(!clean)"])
            do { try TotalsMarks.rewrite(marks, path: path) } catch { logger.error("totals marks not rewritten", metadata: ["error": "\(error)"]) }
        }
        let end = log.endPosition.rawValue
        if interval > 0, state.totalsValid, end > (marks.last?.position ?? 0), let mark = TotalsMarks.mark(state.totals, at: end, log: log) {
            do {
                try TotalsMarks.append([mark], path: path)
                marks.append(mark)
            } catch { logger.error("totals mark not written", metadata: ["error": "\(error)"]) }
        }
        state.marks = marks
        state.nextMarkAt = (marks.last?.position ?? 0) + UInt64(max(interval, 1))
    }

    /// Under the lock, after a write moved the totals: takes a mark when one is due, and
    /// says so (the writer then raises `marksPending`).
    static func takeTotalsMarkIfDue(_ s: inout State, interval: Int) -> Bool {
        guard interval > 0, s.totalsValid, s.nextPosition >= s.nextMarkAt, s.totals.rowCount <= TotalsMarks.rowsMax else { return false }
        s.pendingMarks.append((s.nextPosition, s.totals.current))
        s.nextMarkAt = s.nextPosition + UInt64(interval)
        return true
    }

    /// Writes the marks taken whose events are all durable (a mark is kept only once what it
    /// counted is on disk). Without marks taken (nearly every write) it costs one atomic load,
    /// not the store's lock again.
    func persistTotalsMarks() {
        guard marksPending.load(ordering: .relaxed) else { return }
        let durable = log.endPosition.rawValue
        let ready = state.withLock { s -> [(position: UInt64, rows: [TotalsRow])] in
            if s.pendingMarks.isEmpty { marksPending.store(false, ordering: .relaxed) }
            guard let first = s.pendingMarks.first, first.position <= durable else { return [] }
            let k = s.pendingMarks.firstIndex { $0.position > durable } ?? s.pendingMarks.count
            defer { s.pendingMarks.removeFirst(k) }
            return Array(s.pendingMarks[..<k])
        }
        guard !ready.isEmpty else { return }
        let marks = ready.compactMap { p -> TotalsMarks.Mark? in
            guard let prints = CheckpointFile.fingerprints(of: log, at: p.position) else { return nil }
            return TotalsMarks.Mark(position: p.position, firstChecksum: prints.first, lastChecksum: prints.last, rows: RunningTotals.sorted(p.rows))
        }
        let written: Bool = marksFileLock.withLock {
            do {
                try TotalsMarks.append(marks, path: Self.totalsMarksPath(log.path))
                return true
            } catch {
                logger.error("totals marks not written", metadata: ["error": "\(error)"])
                return false
            }
        }
        guard written else { return }
        state.withLock { s in
            s.marks.append(contentsOf: marks)
            s.marks.sort { $0.position < $1.position }
        }
    }
}

extension TotalsMarks {
    /// A mark of `totals` at `position` of `log` (nil: the log does not reach it, or the
    /// totals have more rows than a mark holds).
    static func mark(_ totals: RunningTotals, at position: UInt64, log: Log) -> Mark? {
        guard totals.rowCount <= rowsMax, let prints = CheckpointFile.fingerprints(of: log, at: position) else { return nil }
        return Mark(position: position, firstChecksum: prints.first, lastChecksum: prints.last, rows: totals.sorted)
    }
}

/// What `inspect` reports of a store's totals marks.
public struct TotalsMarksSummary: Sendable, Equatable {
    /// Marks the file holds whole, and of those the ones that fit the log.
    public var read: Int
    public var fitting: Int
    /// The newest fitting mark's position (0: none).
    public var newest: UInt64
    /// False when the file holds bytes after its last whole mark (a torn append, or damage).
    public var clean: Bool
}

extension OrderStore {
    /// The totals marks of the store in `path`, checked against `log` (read only: open is what
    /// rewrites the file).
    public static func totalsMarksSummary(path: String, log: Log) -> TotalsMarksSummary {
        let (read, clean) = TotalsMarks.read(path: checkpointDirectory(path) + "/" + TotalsMarks.fileName)
        let fitting = TotalsMarks.fitting(read, log: log)
        return TotalsMarksSummary(read: read.count, fitting: fitting.count, newest: fitting.last?.position ?? 0, clean: clean)
    }
}
