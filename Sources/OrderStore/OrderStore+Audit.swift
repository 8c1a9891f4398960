import LogStorage
import OrderModel

/// What `audit` found.
public struct AuditReport: Sendable {
    public struct Money: Sendable, Equatable {
        public var orders = 0
        public var total: Int64 = 0
        public var authorized: Int64 = 0
        public var captured: Int64 = 0
        public var voided: Int64 = 0
        public var refunded: Int64 = 0

        // Each order is within ±2^53; wrapping, not trapping, keeps a report of millions of
        // orders from crashing on hostile data.
        mutating func add(_ s: OrderSnapshot) {
            orders += 1
            total &+= s.totalMinor
            authorized &+= s.authorizedMinor
            captured &+= s.capturedMinor
            voided &+= s.voidedMinor
            refunded &+= s.refundedMinor
        }

        func combined(with o: Money) -> Money {
            Money(orders: orders + o.orders, total: total &+ o.total, authorized: authorized &+ o.authorized,
                  captured: captured &+ o.captured, voided: voided &+ o.voided, refunded: refunded &+ o.refunded)
        }
    }

    public struct Violation: Sendable, Equatable {
        public var position: UInt64?
        public var orderID: String?
        public var code: String
        public var message: String
    }

    public var events = 0
    public var orders = 0
    public var byStatus: [String: Int] = [:]
    /// Per currency.
    public var money: [String: Money] = [:]
    public var violations: [Violation] = []
    /// The checkpoint an open would load, compared with this replay at its position (a
    /// difference is a `checkpoint_mismatch` violation); nil when there is none to load.
    public var checkpoint: CheckpointCheck?
    /// Newer checkpoint files an open would pass over, and why (the state is then rebuilt
    /// from the log: not a violation).
    public var checkpointProblems: [CheckpointProblem] = []

    public struct CheckpointCheck: Sendable, Equatable {
        public var path: String
        public var position: UInt64
        public var orders: Int
        /// Orders whose state differs from the replay's, or that only one of them has.
        public var differences: Int
    }

    public var isClean: Bool { violations.isEmpty }
}

/// Totals per currency and channel.
public struct TotalsRow: Sendable, Equatable {
    public var currency: String
    public var channel: String
    public var orders = 0
    public var total: Int64 = 0
    public var captured: Int64 = 0
    public var refunded: Int64 = 0
    public var net: Int64 { captured &- refunded }

    public init(currency: String, channel: String, orders: Int = 0, total: Int64 = 0, captured: Int64 = 0, refunded: Int64 = 0) {
        self.currency = currency
        self.channel = channel
        self.orders = orders
        self.total = total
        self.captured = captured
        self.refunded = refunded
    }
}

extension OrderStore {
    /// Replays every event from position 0: re-checks every record's checksum (the scan does),
    /// every rule, rebuilds every snapshot, and reports counts, money and every violation.
    public func audit() -> AuditReport { Self.audit(log, checkpoints: Self.checkpointDirectory(log.path)) }

    /// Audits the store in `path` without opening it as a store: the log alone is opened
    /// (recovered as any open does), so the replay that rebuilds the lists and the cache is
    /// not done and thrown away first — an audit replays the log once. Throws what opening the
    /// log throws.
    public static func audit(path: String, configuration: StoreConfiguration = StoreConfiguration()) throws -> AuditReport {
        let log: Log
        do { log = try Log.open(path: path, configuration: configuration.log) } catch { throw StoreError.storage(error) }
        defer { try? log.close() }
        return audit(log, checkpoints: checkpointDirectory(path))
    }

    /// The audit of `log`. With the checkpoint an open would load (from `checkpoints`), the
    /// replay stops at its position, compares every order's state with it, and goes on.
    static func audit(_ log: Log, checkpoints: String?) -> AuditReport {
        var report = AuditReport()
        struct Part: Sendable {
            var orders: ReplayPart
            var events = 0
            var violations: [AuditReport.Violation] = []
            /// Per order: its stored events that were not applied (rejected or duplicate): its
            /// later events' sequences count them, its snapshot's version does not.
            var skipped: [UInt32] = []
        }
        let workers = ParallelReplay.defaultWorkers
        let expectedOrders = Int(min(log.endPosition.rawValue / 8, 50_000_000)) / workers
        // The snapshot passed inout: a non-mutating call on an array element copies it first.
        @Sendable func admit(_ snapshot: inout OrderSnapshot, _ event: EventView) throws(OrderError) -> OrderSnapshot.Admission {
            try snapshot.admit(event, expected: .any)
        }
        @Sendable func visit(_ part: inout Part, _ view: RecordView) {
                part.events += 1
                var found: Int?
                let event: EventView
                do throws(OrderError) {
                    let k = try part.orders.order(of: view)
                    found = k
                    // One entry per order, made with it: a record that does not read below
                    // must not leave the next new order without one.
                    if k == part.skipped.count { part.skipped.append(0) }
                    event = try EventView.read(type: try StoredEvent.type(of: view), view.payload)
                } catch {
                    part.violations.append(.init(position: view.position.rawValue, orderID: String(decoding: view.keyBytes, as: UTF8.self),
                                                 code: error.code.rawValue, message: "\(error)"))
                    // Not applied: its order's later sequences count it (no false gap).
                    if let k = found { part.skipped[k] += 1 }
                    return
                }
                let k = found!
                let position = view.position.rawValue
                let id = part.orders.snapshots[k].orderID
                if view.sequence.rawValue != part.orders.snapshots[k].version + part.skipped[k] + 1 {
                    part.violations.append(.init(position: position, orderID: id.value, code: "sequence_gap",
                                                 message: "event has sequence \(view.sequence.rawValue) after version \(part.orders.snapshots[k].version)"))
                }
                do throws(OrderError) {
                    if case .duplicate(let original) = try admit(&part.orders.snapshots[k], event) {
                        part.violations.append(.init(position: position, orderID: id.value, code: "duplicate_event",
                                                     message: "event_id \(event.eventID?.string ?? "") was already stored at position \(original)"))
                        part.skipped[k] += 1
                        return
                    }
                    try part.orders.snapshots[k].apply(event, position: position, time: event.ts?.microseconds ?? view.recordedAt.rawValue)
                } catch {
                    part.violations.append(.init(position: position, orderID: id.value, code: error.code.rawValue, message: error.message))
                    part.skipped[k] += 1
                }
        }
        var checkpoint: CheckpointFile.Reader?
        if let checkpoints {
            var problems: [CheckpointProblem] = []
            checkpoint = openNewestCheckpoint(directory: checkpoints, log: log, problems: &problems)
            report.checkpointProblems = problems
        }
        defer { checkpoint?.close() }
        do {
            // Up to the checkpoint's position, then compared with it, then on to the end.
            // Both halves end at one position: a store audited while it takes appends.
            let end = log.endPosition
            let middle = checkpoint.map { LogPosition($0.header.position) } ?? end
            var handoff = try ParallelReplay.run(log: log, end: middle, workers: workers, makePart: { _ in
                Part(orders: ReplayPart(capacity: expectedOrders))
            }, body: visit)
            if let reader = checkpoint {
                var differences: [AuditReport.Violation] = []
                func differ(_ id: String?, _ message: String) {
                    differences.append(.init(position: reader.header.position, orderID: id, code: "checkpoint_mismatch", message: message))
                }
                do throws(CheckpointProblem) {
                    // Every entry read and checked (open reads only those it needs).
                    try reader.verifyEntries()
                    var seen = 0
                    var sums: [String: TotalsRow] = [:]
                    for k in 0..<reader.count {
                        if k % 65_536 == 65_535 { reader.dropResidentPages() }
                        let s = try reader.snapshot(k, id: reader.id(k))
                        var id = s.orderID.value
                        let w = id.withUTF8 { ParallelReplay.owner(UnsafeRawBufferPointer($0), workers) }
                        let replayed = id.withUTF8 { handoff[w].orders.table.find(bytes: UnsafeRawBufferPointer($0), hash: OrderTable.hash(bytes: UnsafeRawBufferPointer($0))) }
                            .map { handoff[w].orders.snapshots[$0.index] }
                        guard let replayed, replayed.exists else {
                            differ(id, "the checkpoint has the order; the replay of the log before \(reader.header.position) does not")
                            continue
                        }
                        seen += 1
                        let summary = reader.summary(k)
                        if !replayed.hasSameState(as: s) {
                            differ(id, "the checkpoint's state (version \(s.version), total \(s.totalMinor), \(s.status.rawValue)) is not the replay's (version \(replayed.version), total \(replayed.totalMinor), \(replayed.status.rawValue))")
                        } else if summary.status != OrderIndexes.statusCode(replayed.status) || reader.customer(Int(summary.customer)) != replayed.customerID {
                            differ(id, "the checkpoint's index gives the order another status or customer than its state")
                        }
                        let key = replayed.currency + "\u{0}" + replayed.channel
                        var row = sums[key] ?? TotalsRow(currency: replayed.currency, channel: replayed.channel)
                        row.orders += 1
                        row.total &+= replayed.totalMinor
                        row.captured &+= replayed.capturedMinor
                        row.refunded &+= replayed.refundedMinor
                        sums[key] = row
                        if summary.row == .max || reader.rows[Int(summary.row)].currency != replayed.currency || reader.rows[Int(summary.row)].channel != replayed.channel {
                            differ(id, "the checkpoint's index puts the order in another totals row")
                        }
                    }
                    let replayedOrders = handoff.reduce(0) { $0 + $1.orders.snapshots.lazy.filter(\.exists).count }
                    if replayedOrders > seen { differ(nil, "the replay has \(replayedOrders - seen) order(s) the checkpoint does not") }
                    let stored = reader.rows.filter { $0.orders != 0 }
                    if RunningTotals.sorted(stored) != RunningTotals.sorted(Array(sums.values)) {
                        differ(nil, "the checkpoint's totals are not the sums of its orders' states")
                    }
                } catch {
                    differ(nil, "\(error)")
                }
                report.checkpoint = .init(path: reader.path, position: reader.header.position, orders: reader.count, differences: differences.count)
                report.violations += differences
            }
            let box = Handoff(handoff)
            handoff = []
            let parts = try ParallelReplay.run(log: log, from: middle, end: end, workers: workers, makePart: { box.take($0) },
                                               body: visit, finish: { (part: consuming Part) -> AuditReport in
                // Summarised on the worker, which also frees its snapshots.
                var r = AuditReport()
                r.events = part.events
                r.violations = part.violations
                for snapshot in part.orders.snapshots where snapshot.exists {
                    r.orders += 1
                    r.byStatus[snapshot.status.rawValue, default: 0] += 1
                    var m = r.money[snapshot.currency] ?? AuditReport.Money()
                    m.add(snapshot)
                    r.money[snapshot.currency] = m
                }
                return r
            })
            for part in parts {
                report.events += part.events
                report.orders += part.orders
                report.violations += part.violations
                report.byStatus.merge(part.byStatus, uniquingKeysWith: +)
                report.money.merge(part.money) { a, b in a.combined(with: b) }
            }
            report.violations.sort { ($0.position ?? .max) < ($1.position ?? .max) }
        } catch {
            // The scan stopped at damage: report where (a checkpoint compared before it stays
            // reported).
            report.violations.append(.init(position: nil, orderID: nil, code: (error as? LogError)?.code.rawValue ?? "storage", message: "\(error)"))
        }
        return report
    }

    /// Totals per currency and channel over every order as recorded at `time` (µs since the
    /// Unix epoch; nil: now).
    public func totals(asOf time: Int64? = nil) throws -> [TotalsRow] {
        if time == nil, let current = currentTotals() { return current.rows }
        return try totals(before: time.map(endPosition(asOfTime:)) ?? log.endPosition.rawValue)
    }

    /// The position after the last record recorded at or before `time`: what "as of `time`"
    /// covers. As of now or later, everything stored, whatever a restore left ahead of the
    /// clock; and no `time + 1` at the largest time.
    public func endPosition(asOfTime time: Int64) throws -> UInt64 {
        let time = effectiveTime(time)
        if time == .max { return log.endPosition.rawValue }
        do { return try log.firstPosition(recordedAtOrAfter: RecordTimestamp(rawValue: time + 1)).rawValue } catch { throw StoreError.storage(error) }
    }
}

/// Totals per currency and channel kept up to date as events are stored (issue 11: `totals`
/// now costs the number of rows, not a replay of the log): each write takes its orders'
/// contributions out before their events and puts them back after.
struct RunningTotals: Sendable {
    /// Rows in the order first seen; a row whose orders all left it stays, with 0 orders.
    private var rows: [TotalsRow] = []
    private var rowIndex: [String: Int] = [:]
    /// Per order handle from `rowBase` on: its row (an order's currency and channel are fixed
    /// when it is placed), or -1 before it is known. Spares the write path a string key per
    /// order. Below `rowBase`, the orders of the checkpoint `base`, whose summaries say it.
    private var rowOf: [Int32] = []
    private var rowBase = 0
    private var base: CheckpointFile.Reader?

    /// What one order adds to its row's sums.
    struct Amounts: Sendable {
        var total: Int64, captured: Int64, refunded: Int64
        /// Nil before the order is placed: it counts in no row.
        init?(_ s: borrowing OrderSnapshot) {
            guard s.exists else { return nil }
            total = s.totalMinor
            captured = s.capturedMinor
            refunded = s.refundedMinor
        }
    }

    /// Adds (`sign` 1) or takes out (−1) `s`'s contribution to its row; sums wrap, as the
    /// audit's do.
    mutating func add(_ s: OrderSnapshot, sign: Int64, handle: OrderHandle? = nil) {
        guard let amounts = Amounts(s) else { return }
        add(amounts, of: s, sign: sign, handle: handle)
    }

    /// As `add(_:sign:handle:)` with amounts taken earlier (before a batch changed `s`).
    mutating func add(_ a: Amounts?, of s: OrderSnapshot, sign: Int64, handle: OrderHandle? = nil) {
        guard let a else { return }
        let r = row(of: s, handle: handle)
        rows[r].orders += Int(sign)
        rows[r].total &+= sign &* a.total
        rows[r].captured &+= sign &* a.captured
        rows[r].refunded &+= sign &* a.refunded
    }

    private mutating func row(of s: OrderSnapshot, handle: OrderHandle?) -> Int {
        if let h = handle {
            if let base, h.index < rowBase { return Int(base.summary(h.index).row) }
            if h.index - rowBase < rowOf.count, rowOf[h.index - rowBase] >= 0 { return Int(rowOf[h.index - rowBase]) }
        }
        let key = s.currency + "\u{0}" + s.channel
        let r: Int
        if let known = rowIndex[key] {
            r = known
        } else {
            r = rows.count
            rows.append(TotalsRow(currency: s.currency, channel: s.channel))
            rowIndex[key] = r
        }
        if let h = handle, h.index >= rowBase {
            let i = h.index - rowBase
            if i >= rowOf.count { rowOf.append(contentsOf: repeatElement(-1, count: max(i + 1 - rowOf.count, rowOf.count / 2 + 1024))) }
            rowOf[i] = Int32(r)
        }
        return r
    }

    /// The rows that count an order, in no particular order.
    var current: [TotalsRow] { rows.filter { $0.orders != 0 } }

    /// Every row, in the order first seen (what a checkpoint stores), and each order's row.
    var allRows: [TotalsRow] { rows }
    /// How many rows, counting those with no orders left.
    var rowCount: Int { rows.count }
    func row(of h: OrderHandle) -> UInt32 {
        if let base, h.index < rowBase { return base.summary(h.index).row }
        let i = h.index - rowBase
        return i < rowOf.count && rowOf[i] >= 0 ? UInt32(rowOf[i]) : .max
    }

    init() {}

    /// The totals a checkpoint stored: its rows; each of its orders' row is read from its
    /// summary there when needed (an order's row never changes).
    init(rows: [TotalsRow], checkpoint: CheckpointFile.Reader) {
        self.rows = rows
        for (k, r) in rows.enumerated() { rowIndex[r.currency + "\u{0}" + r.channel] = k }
        base = checkpoint
        rowBase = checkpoint.count
    }

    /// These totals on a newer checkpoint of the same orders (its rows are these rows as they
    /// were when it was taken: the same indices).
    mutating func rebase(on checkpoint: CheckpointFile.Reader) {
        let drop = min(rowOf.count, max(0, checkpoint.count - rowBase))
        rowOf = Array(rowOf[drop...])  // not removeFirst: that keeps the whole capacity
        base = checkpoint
        rowBase = checkpoint.count
    }

    var sorted: [TotalsRow] { Self.sorted(current) }

    /// Rows by currency, then channel: the order every totals answer has.
    static func sorted(_ rows: [TotalsRow]) -> [TotalsRow] { rows.sorted { ($0.currency, $0.channel) < ($1.currency, $1.channel) } }
}

extension OrderStore {
    /// The running totals and the position they run through, when every written event is
    /// readable (durable, under the default policy) — so they count what a replay of the log
    /// would — or nil: while a batch waits for its fsync, or after a failure left them unsure
    /// (then totals replay the log).
    public func currentTotals() -> (rows: [TotalsRow], end: UInt64)? {
        let current: ([TotalsRow], UInt64)? = state.withLock { s in
            guard s.totalsValid, s.nextPosition == log.endPosition.rawValue else { return nil }
            return (s.totals.current, s.nextPosition)
        }
        // Sorted outside the lock appends take: rows can be as many as orders.
        return current.map { (RunningTotals.sorted($0.0), $0.1) }
    }
}

/// Parts handed from one replay to the next by move: each taken once, so the second replay
/// changes them without copying their arrays.
private final class Handoff<Part>: @unchecked Sendable {
    // @unchecked: `ParallelReplay` makes its parts one after another on the calling thread.
    private var parts: [Part?]
    init(_ parts: [Part]) { self.parts = parts }
    func take(_ w: Int) -> Part {
        let p = parts[w]!
        parts[w] = nil
        return p
    }
}
