import Foundation
import LogStorage
import Logging
import OrderModel
import Synchronization

/// Every tunable of a store, each with its default.
public struct StoreConfiguration: Sendable {
    /// The log underneath (durability, segment size, …). Its payload limit is raised to hold
    /// the largest event the JSON form accepts (1 MiB; the binary form is never larger).
    public var log: LogConfiguration = {
        var c = LogConfiguration()
        c.payloadBytesMax = OrderEvent.jsonBytesMax + 4096
        return c
    }()
    /// The store's memory, bytes: one number for the whole process. `memory(_:)` sizes the
    /// caches from it (a quarter at most for cached snapshots, a sixteenth for the log's
    /// decompressed blocks); at open, what every order costs however it is used — the log's
    /// key directory, the status lists, the checkpoint's order table read in place — is taken
    /// from it first, and the snapshot cache gets at most what is left (16 MiB at least; a
    /// warning when the orders alone need more). `statistics` and `inspect` report each part.
    /// Default 1 GiB.
    public private(set) var memoryBytes = 1 << 30

    /// Sizes the caches from one number of bytes (see `memoryBytes`).
    public mutating func memory(_ bytes: Int) {
        memoryBytes = bytes
        snapshotCacheBytesMax = bytes / 4
        log.blockCacheBytesMax = bytes / 16
    }

    /// Snapshots kept in memory; others are replayed from their events (a handful of reads)
    /// when asked for. Default 200,000.
    public var snapshotCacheMax = 200_000
    /// Bytes of snapshots kept in memory (estimated, `OrderSnapshot.byteCount`): the
    /// bound that holds when orders are large. Default 256 MiB.
    public var snapshotCacheBytesMax = 256 << 20
    /// An order with more events than this is replayed off the caller's thread when a server
    /// asks (`replayCost`): work proportional to one order's history must not hold an event
    /// loop. Default 1000.
    public var replayEventsInline = 1000
    /// Events in one append batch. Default 10,000.
    public var batchEventsMax = 10_000
    /// How far ahead of the store's clock a kept `recorded_at` (a restore) may be, µs.
    /// Recorded times never decrease, so one ahead of the clock holds every later record at
    /// it; a small skew keeps that window small. Default 1 s.
    public var recordedAtSkewMax: Int64 = 1_000_000
    /// A checkpoint of every order's state is written in the background once this many events
    /// were stored since the last one, and an eighth of the log (docs/FORMAT.md §13); open
    /// then replays only the log after it. 0: none in the background (`writeCheckpoint()`
    /// still writes one). Default 1,000,000.
    public var checkpointEvents = 1_000_000
    /// The running totals are marked (written to `checkpoints/totals.marks`, docs/FORMAT.md
    /// §14) at the first batch end after each this many events: totals as of a time replay
    /// at most about this many events from the nearest mark. 0: no marks. Default 500,000.
    public var totalsMarkEvents = 500_000
    /// For drills only: a pause in the middle of each checkpoint write and another before
    /// its rename, µs, so a kill lands while one is being written. Default 0.
    public var checkpointWritePause = 0
    /// Changed orders to replay past which a checkpoint write replays them in one scan of the
    /// log rather than each through its key chain (tests lower it to drive that path).
    var checkpointScanMin = 10_000
    /// Orders whose states one such scan holds at most (about 1.2 KB each); more take more
    /// scans. Default 500,000.
    var checkpointScanBatch = 500_000

    public init() {}
}

/// One event to append, with its condition.
public struct AppendEvent: Sendable, Equatable {
    public var event: OrderEvent
    public var expectedVersion: ExpectedVersion
    /// Keep this recorded time (an import of an export); nil: now.
    public var recordedAt: Int64?
    public init(_ event: OrderEvent, expectedVersion: ExpectedVersion = .any, recordedAt: Int64? = nil) {
        self.event = event
        self.expectedVersion = expectedVersion
        self.recordedAt = recordedAt
    }
}

/// One event to append in its binary form (docs/EVENTS.md §5), with its condition: what a
/// server passes on from an `APPEND` frame. The store reads and checks the bytes in place
/// (`check(_: [AppendRecord])`) without building an `OrderEvent`.
public struct AppendRecord: Sendable, Equatable {
    public var orderID: OrderID
    public var type: EventType
    public var payload: [UInt8]
    public var expectedVersion: ExpectedVersion
    /// Keep this recorded time (an import of an export); nil: now.
    public var recordedAt: Int64?

    public init(orderID: OrderID, type: EventType, payload: [UInt8], expectedVersion: ExpectedVersion = .any, recordedAt: Int64? = nil) {
        self.orderID = orderID
        self.type = type
        self.payload = payload
        self.expectedVersion = expectedVersion
        self.recordedAt = recordedAt
    }
}

/// What became of one event of an append.
public enum AppendResult: Sendable, Equatable {
    case stored(position: UInt64, seq: UInt32)
    /// Its `event_id` was already stored for its order, at this position; nothing was stored.
    case duplicate(position: UInt64)

    public var position: UInt64 {
        switch self {
        case .stored(let p, _), .duplicate(let p): p
        }
    }
}

/// The query layer: validated appends, snapshots (now, as of a time or a position), timelines,
/// lists by customer and status, totals and audits, over one `Log`.
///
/// Appends are serialized (each batch is checked against the orders' current state and
/// written under one lock, then awaits durability outside it, so batches from many producers
/// share fsyncs). Snapshots are cached; a miss replays the order's few events through its key
/// chain.
public final class OrderStore: Sendable {
    public let log: Log
    public let configuration: StoreConfiguration
    let logger: Logger

    struct State {
        /// Every stored order's handle: the cache, the lists and the totals are by handle.
        var table = OrderTable()
        var cache: SnapshotCache
        var indexes = OrderIndexes()
        var nextPosition: UInt64 = 0
        /// Set after a durability failure or a foreign write: appends are refused until reopen.
        var failure: StoreError?
        /// The latest recorded time the log holds that was ahead of the clock when written (a
        /// restore's kept `recorded_at`; later records are raised to it): `.min` when none.
        var aheadUntil: Int64 = .min
        /// Totals per currency and channel through `nextPosition`.
        var totals = RunningTotals()
        /// False once a failure left `totals` unsure (they may count a batch not on disk).
        var totalsValid = true
        /// The newest checkpoint, and the orders changed since.
        var checkpoint = CheckpointTracking()
        /// `close` was called: no checkpoint starts.
        var closing = false
        /// The newest checkpoint, open: a cold order's state starts from its entry there.
        var checkpointReader: CheckpointFile.Reader?
        /// Totals marks that fit the log, by position; those taken but not yet written (their
        /// events not all durable yet); where the next is due.
        var marks: [TotalsMarks.Mark] = []
        var pendingMarks: [(position: UInt64, rows: [TotalsRow])] = []
        var nextMarkAt: UInt64 = 0
    }

    let state: Locked<State>
    /// Entered while a background checkpoint is written: `close` waits for it.
    let checkpointGroup = DispatchGroup()
    /// Held while totals marks are appended to their file (one writer at a time).
    let marksFileLock = NSLock()
    /// Raised when a write takes a totals mark; lowered once none is left to write.
    let marksPending = Atomic<Bool>(false)

    private init(log: Log, configuration: StoreConfiguration, logger: Logger, state: State) {
        self.log = log
        self.configuration = configuration
        self.logger = logger
        self.state = Locked(state)
    }

    /// Opens (or creates) the store in `path`, replaying its log to rebuild the lists.
    public static func open(path: String, configuration: StoreConfiguration = StoreConfiguration(), logger: Logger? = nil) throws -> OrderStore {
        let logger = logger ?? Logger(label: "orderlog.store", factory: { _ in SwiftLogNoOpLogHandler() })
        let log: Log
        do { log = try Log.open(path: path, configuration: configuration.log, logger: logger) } catch { throw StoreError.storage(error) }
        func fresh() -> State { State(cache: SnapshotCache(countMax: configuration.snapshotCacheMax, bytesMax: configuration.snapshotCacheBytesMax)) }
        var state = fresh()
        // The newest checkpoint that fits the log, and the log after it; else the whole log.
        var problems: [CheckpointProblem] = []
        var restored = false
        if let reader = openNewestCheckpoint(directory: checkpointDirectory(path), log: log, problems: &problems, removingTemporaryFiles: true) {
            do throws(CheckpointProblem) {
                try restore(from: reader, log: log, into: &state, logger: logger)
                restored = true
                // Kept open for cold reads; the pages the restore read go back to the file.
                reader.dropResidentPages()
                state.checkpointReader = reader
            } catch {
                problems.append(error)
                state = fresh()
            }
        }
        for p in problems { logger.warning("checkpoint not used", metadata: ["file": "\(p.file)", "problem": "\(p.kind.rawValue)", "message": "\(p.message)"]) }
        state.checkpoint.problems = problems.map(\.description)
        if !restored {
            do { try rebuild(log: log, into: &state, logger: logger) } catch {
                try? log.close()
                throw error
            }
        }
        state.nextPosition = log.endPosition.rawValue
        loadTotalsMarks(log: log, into: &state, interval: configuration.totalsMarkEvents, logger: logger)
        // The replay's transient states are freed; give their memory back to the system (glibc
        // keeps freed memory in its arenas otherwise, and the process looks as large as at its peak).
        #if os(Linux)
        _ = orderlog_malloc_trim(0)
        #endif
        // The memory number as a bound: what the process holds now, the checkpoint's parts
        // that lookups will map in, and the log's block cache leave the rest to the snapshot
        // cache (at most its own setting; at least 16 MiB of it, when it allows that much).
        let inPlace = state.checkpointReader?.inPlaceBytes ?? 0
        let room = configuration.memoryBytes - residentBytes() + state.cache.bytes - inPlace - configuration.log.blockCacheBytesMax
        state.cache.bytesMax = min(configuration.snapshotCacheBytesMax, max(16 << 20, room))
        state.cache.trim()
        if room < 16 << 20 {
            logger.warning("the store's orders need more memory than it was given: raise --memory-mib", metadata: [
                "memory_mib": "\(configuration.memoryBytes >> 20)", "resident_mib": "\(residentBytes() >> 20)", "in_place_mib": "\(inPlace >> 20)"])
        }
        // The newest record may carry a restore's time still ahead of the clock.
        if log.endPosition.rawValue > 0, let last = try? log.record(at: LogPosition(log.endPosition.rawValue - 1)), last.recordedAt.rawValue > clock() {
            state.aheadUntil = last.recordedAt.rawValue
        }
        return OrderStore(log: log, configuration: configuration, logger: logger, state: state)
    }

    /// Open's work without a checkpoint: the whole log replayed on every core, every order's
    /// lists, totals and handle from its final state, the most recently changed cached.
    private static func rebuild(log: Log, into state: inout State, logger: Logger) throws {
        // Stored events that do not decode or that the rules refuse are logged and skipped
        // here; `audit` reports them with their positions.
        let workers = ParallelReplay.defaultWorkers
        // Orders have several events each; reserving for a guess avoids most rehashing.
        let expectedOrders = Int(min(log.endPosition.rawValue / 8, 50_000_000)) / workers
        let parts: [ReplayPart]
        do {
            parts = try ParallelReplay.run(log: log, workers: workers, makePart: { _ in ReplayPart(capacity: expectedOrders) }) { part, view in
                let k: Int
                do throws(OrderError) { k = try part.order(of: view) } catch {
                    logger.error("stored event does not decode", metadata: ["position": "\(view.position)", "error": "\(error)"])
                    return
                }
                part.snapshots[k].apply(stored: view, logger: logger)
            }
        } catch {
            throw StoreError.storage(error)
        }
        var snapshots: [OrderSnapshot] = []
        snapshots.reserveCapacity(parts.reduce(0) { $0 + $1.snapshots.count })
        // An order whose every event failed to read or apply has no state (as before it was
        // placed): it is in no list.
        for part in parts { snapshots.append(contentsOf: part.snapshots.lazy.filter(\.exists)) }
        // In placement order, so each customer's list is in the order the orders were placed
        // (and handles are numbered in that order).
        snapshots.sort { ($0.placedPosition ?? 0) < ($1.placedPosition ?? 0) }
        state.table = OrderTable(capacity: snapshots.count)
        var handles: [OrderHandle] = []
        handles.reserveCapacity(snapshots.count)
        for snapshot in snapshots {
            let h = state.table.intern(snapshot.orderID)
            handles.append(h)
            state.indexes.update(snapshot, handle: h, state.table)
            state.totals.add(snapshot, sign: 1, handle: h)
            // No checkpoint holds any order yet.
            state.checkpoint.mark(h)
        }
        // Keep the most recently changed orders warm, within both bounds: inserted oldest
        // change first, which is the order the cache evicts them in.
        let recent = snapshots.indices.sorted { (snapshots[$0].lastPosition ?? 0) > (snapshots[$1].lastPosition ?? 0) }
            .prefix(state.cache.countMax).reversed()
        for k in recent { state.cache.insert(snapshots[k], for: handles[k]) }
        state.cache.trim()
    }

    public func close() throws {
        // No checkpoint starts from now on; one being written is waited for.
        state.withLock { $0.closing = true }
        checkpointGroup.wait()
        persistTotalsMarks()
        do { try log.close() } catch { throw StoreError.storage(error) }
    }

    /// The store's clock, µs since the Unix epoch.
    static func clock() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// The recorded time an as-of query at `time` means. Recorded times run ahead of the clock
    /// only after a restore kept one (at most `recordedAtSkewMax` ahead; later records are
    /// raised to it): a time within that skew below it means it, so "as of now" sees
    /// everything stored. Every other time is exact.
    /// Once the clock has passed that time by the skew, every time is exact again (as after
    /// a reopen).
    func effectiveTime(_ time: Int64) -> Int64 {
        let ahead = state.withLock { $0.aheadUntil }
        let skew = configuration.recordedAtSkewMax
        guard ahead != .min, Self.clock() < ahead &+ skew else { return time }
        return time < ahead && time >= ahead &- skew ? ahead : time
    }

    /// The position of the order's newest written event, durable or not; nil: it has none.
    func head(of id: OrderID) -> UInt64? {
        (try? LogKey(id.value)).flatMap { log.head(forKey: $0)?.position.rawValue }
    }

    /// How many events the reads or the write that `ids` need would replay: 0 when every
    /// order is cached. A server runs the work on a thread pool above
    /// `configuration.replayEventsInline`, so no event loop replays a long order.
    public func replayCost(_ ids: some Sequence<OrderID>, cachedCountsAsFree: Bool = true) -> Int {
        // One look at the cache for the whole batch: this runs before every append a server takes.
        let uncached = cachedCountsAsFree ? state.withLock { s in ids.filter { !(s.table.find($0).map(s.cache.contains) ?? false) } } : Array(ids)
        var cost = 0
        for id in uncached {
            guard let key = try? LogKey(id.value), let head = log.head(forKey: key) else { continue }
            cost += Int(head.sequence.rawValue)
        }
        return cost
    }

    /// Memory held by cached snapshots: (count, estimated bytes).
    public var cacheUsage: (count: Int, bytes: Int) { state.withLock { ($0.cache.count, $0.cache.bytes) } }

    /// Replays `id`'s events whose filter passes into a snapshot.
    /// Replays `id`'s events, oldest first, while `include` (given the event's position and
    /// recorded time) holds, applying each from its stored bytes. A stored event the rules
    /// refuse is logged and skipped (stored events are replayed, not judged); one that does not
    /// read throws, as `history` does — or, `skippingUnreadable`, is logged and skipped as open
    /// skips it (what a checkpoint must hold: the state open would compute).
    ///
    /// The order's current state (`include` nil) starts, when the newest checkpoint holds the
    /// order, from its state there, and applies only the records after it: a cold read costs
    /// the order's events since the checkpoint, not its whole history. A checkpoint entry that
    /// fails its checks is logged and the order replayed from its first record.
    ///
    /// `underLock`: the caller holds the store's lock (`s`), where the checkpoint is looked up.
    func replay(_ id: OrderID, through include: ((_ position: UInt64, _ recordedAt: Int64) -> Bool)?, includingUnsynced: Bool = false,
                skippingUnreadable: Bool = false, underLock s: State? = nil) throws -> OrderSnapshot {
        var snapshot = OrderSnapshot(orderID: id)
        var start: UInt64 = 0
        var entry: (CheckpointFile.Reader, Int)?
        if include == nil {
            if let s { entry = Self.checkpointEntry(of: id, in: s) } else { entry = checkpointEntry(of: id) }
        }
        if let (reader, k) = entry {
            do throws(CheckpointProblem) {
                snapshot = try reader.snapshot(k, id: id)
                start = reader.header.position
            } catch {
                logger.error("checkpoint entry not usable: the order is replayed from the log", metadata: ["order": "\(id)", "problem": "\(error)"])
            }
        }
        let records: [Record]
        do { records = try log.records(forKey: try LogKey(id.value), includingUnsynced: includingUnsynced, from: LogPosition(start)) } catch { throw StoreError.storage(error) }
        for record in records {
            let position = record.position.rawValue, recordedAt = record.recordedAt.rawValue
            if let include, !include(position, recordedAt) { break }
            guard let type = EventType(code: record.type.rawValue) else {
                if skippingUnreadable {
                    logger.error("stored event does not decode", metadata: ["position": "\(position)", "error": "unknown event type code \(record.type.rawValue)"])
                    continue
                }
                throw StoreError.storage(OrderError(.corruptPayload, "record \(position) has unknown event type code \(record.type.rawValue)", orderID: id.value))
            }
            // Outer result: the record reads; inner: the rules' answer.
            let outcome = record.payload.withUnsafeBytes { raw in
                Result { () throws(OrderError) -> OrderError? in
                    let event = try EventView.read(type: type, raw)
                    do throws(OrderError) {
                        try snapshot.apply(event, position: position, time: event.ts?.microseconds ?? recordedAt)
                        return nil
                    } catch { return error }
                }
            }
            switch outcome {
            case .failure(var error):
                error.orderID = id.value
                if skippingUnreadable {
                    logger.error("stored event does not decode", metadata: ["position": "\(position)", "error": "\(error)"])
                    continue
                }
                throw StoreError.storage(error)
            case .success(let refused?):
                logger.error("stored event breaks a rule", metadata: ["position": "\(position)", "error": "\(refused)"])
            case .success(nil):
                break
            }
        }
        return snapshot
    }

    // MARK: - Reads

    /// The order now, or nil if it has no events.
    public func snapshot(_ id: OrderID) throws -> OrderSnapshot? {
        let hash = OrderTable.hash(id)
        if let cached = state.withLock({ s in s.table.find(id, hash: hash).flatMap { s.cache[$0] } }) { return cached }
        let snapshot = try replay(id, through: nil)
        guard snapshot.exists else { return nil }
        state.withLock { s in
            // Cache it only if it holds the order's newest written event: an append since the
            // replay (or one not yet durable, which the replay could not see) makes it stale.
            // Appends hold this lock, so the head cannot move while we look.
            let head = (try? LogKey(id.value)).flatMap { log.head(forKey: $0)?.position.rawValue }
            // A stored order has a handle (every one is given one when its first event is).
            if let h = s.table.find(id, hash: hash), !s.cache.contains(h) && snapshot.lastPosition == head {
                s.cache.insert(snapshot, for: h)
                s.cache.trim()
            }
        }
        return snapshot
    }

    /// The order as of global position `position`: exactly its events at or before it.
    /// The cached snapshot serves when the order's newest event is at or before `position`:
    /// it then holds exactly those events (and the parts of a snapshot read as of the
    /// position the first part gave agree with it).
    public func snapshot(_ id: OrderID, asOfPosition position: UInt64) throws -> OrderSnapshot? {
        let hash = OrderTable.hash(id)
        if let cached = state.withLock({ s in s.table.find(id, hash: hash).flatMap { s.cache[$0] } }), let last = cached.lastPosition, last <= position { return cached }
        // Written events count, durable or not yet, as for the cached snapshot now: the parts
        // of one snapshot must agree whichever path serves them.
        let s = try replay(id, through: { p, _ in p <= position }, includingUnsynced: true)
        return s.exists ? s : nil
    }

    /// The order as it was recorded at time `time` (µs since the Unix epoch): its events
    /// recorded at or before it.
    ///
    /// As of now or later, everything stored counts — whatever recorded times a restore left
    /// slightly ahead of the clock (EVENTS.md §4, "Recorded time").
    public func snapshot(_ id: OrderID, asOfTime time: Int64) throws -> OrderSnapshot? {
        let time = effectiveTime(time)
        let s = try replay(id, through: { _, recorded in recorded <= time })
        return s.exists ? s : nil
    }

    /// The order's timeline: every event, oldest first, with its position and times.
    public func history(_ id: OrderID) throws -> [StoredEvent] {
        let key: LogKey
        do { key = try LogKey(id.value) } catch { throw StoreError.storage(error) }
        do {
            return try log.records(forKey: key).map { try StoredEvent.decode($0) }
        } catch { throw StoreError.storage(error) }
    }

    /// A customer's orders, most recently placed first.
    public func orders(ofCustomer customer: String) -> [OrderID] {
        state.withLock { $0.indexes.orders(ofCustomer: customer, $0.table) }
    }

    /// The orders whose status is `status`, by id.
    public func orders(withStatus status: OrderSnapshot.Status) -> [OrderID] {
        state.withLock { $0.indexes.orders(withStatus: status, $0.table) }
    }

    /// A page of a customer's orders, most recently placed first: at most `limit`, after the
    /// `cursor` a previous page returned (nil: from the newest). Throws `invalidArgument` for
    /// a cursor this list did not give.
    public func orders(ofCustomer customer: String, after cursor: String?, limit: Int) throws -> OrderPage {
        try state.withLock { s throws(StoreError) in try s.indexes.page(ofCustomer: customer, after: cursor, limit: limit, s.table) }
    }

    /// A page of the orders whose status is `status`, by id: at most `limit`, with ids after
    /// `cursor` (nil: from the first).
    public func orders(withStatus status: OrderSnapshot.Status, after cursor: String?, limit: Int) -> OrderPage {
        state.withLock { $0.indexes.page(withStatus: status, after: cursor, limit: limit, $0.table) }
    }

    public var orderCount: Int { state.withLock { $0.indexes.orderCount } }

    /// The id of the `k`-th order stored (0-based, in placement order), nil past the last:
    /// how a benchmark samples orders without listing them all.
    public func orderID(placedIndex k: Int) -> OrderID? {
        state.withLock { s in k >= 0 && k < s.table.count ? s.table[OrderHandle(raw: UInt32(k))] : nil }
    }

    /// Stored events in log order from `position`, up to `limit`.
    public func events(from position: UInt64, limit: Int) throws -> [StoredEvent] {
        var result: [StoredEvent] = []
        do {
            try log.scan(from: LogPosition(position)) { view in
                result.append(try StoredEvent.decode(view))
                return result.count < limit
            }
        } catch { throw StoreError.storage(error) }
        return result
    }

    /// Visits the stored events from `position` up to `end` (the log's end: nil) in log order
    /// whose order id's bytes (the record's key) `keyMatches` takes — the others are not
    /// decoded — until `body` returns false. Returns the position after the last record
    /// looked at (matching or not).
    @discardableResult
    public func forEachEvent(from position: UInt64, to end: UInt64? = nil, keyMatches: (UnsafeRawBufferPointer) -> Bool,
                             _ body: (StoredEvent) throws -> Bool) throws -> UInt64 {
        do {
            return try log.scan(from: LogPosition(position), to: end.map { LogPosition($0) }) { view in
                guard keyMatches(view.keyBytes) else { return true }
                return try body(try StoredEvent.decode(view))
            }.rawValue
        } catch let error as StoreError { throw error } catch { throw StoreError.storage(error) }
    }

    /// Visits the stored events from `position` up to `end` (the log's end: nil) in log order
    /// whose order id's bytes `keyMatches` takes, each read in place — no `OrderEvent` is
    /// built — until `body` returns false. The view is valid only inside `body`. Returns the
    /// position after the last record looked at. Throws `corrupt_payload` (naming the
    /// position) for a record whose type or bytes do not read.
    @discardableResult
    public func forEachEventView(from position: UInt64, to end: UInt64? = nil, keyMatches: (UnsafeRawBufferPointer) -> Bool,
                                 _ body: (StoredEventView) throws -> Bool) throws -> UInt64 {
        do {
            return try log.scan(from: LogPosition(position), to: end.map { LogPosition($0) }) { record in
                guard keyMatches(record.keyBytes) else { return true }
                let type = try StoredEvent.type(of: record)
                let event: EventView
                do throws(OrderError) { event = try EventView.read(type: type, record.payload) } catch {
                    var e = error
                    e.message = "record \(record.position): " + e.message
                    e.orderID = String(decoding: record.keyBytes, as: UTF8.self)
                    throw e
                }
                let stored = EventView.Stored(position: record.position.rawValue, seq: record.sequence.rawValue, recordedAt: record.recordedAt.rawValue)
                return try body(StoredEventView(orderID: record.keyBytes, event: event, stored: stored))
            }.rawValue
        } catch let error as StoreError { throw error } catch let error as OrderError { throw error } catch { throw StoreError.storage(error) }
    }

    /// Visits every stored event in log order from `position`.
    public func forEachEvent(from position: UInt64 = 0, _ body: (StoredEvent) throws -> Bool) throws {
        do {
            try log.scan(from: LogPosition(position)) { view in try body(try StoredEvent.decode(view)) }
        } catch { throw StoreError.storage(error) }
    }
}

#if os(Linux)
/// glibc's `malloc_trim` (in <malloc.h>, which the Glibc module does not bring in).
@_silgen_name("malloc_trim")
private func orderlog_malloc_trim(_ pad: Int) -> Int32
#endif
