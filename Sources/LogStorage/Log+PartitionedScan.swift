import Dispatch
import Synchronization

extension Log {
    /// Visits every committed record from `start` and below `end` exactly once, in `partitions` parallel
    /// streams: each record goes to the stream `partition(keyBytes)` names (0 ..< partitions),
    /// and each stream sees its records in log order, on one thread at a time. So all the
    /// records of a key are seen in order by one stream — a replay can keep per-key state
    /// without sharing it — while the log is read, checked and decompressed once (a block that
    /// straddles two sub-ranges, below, is decompressed by both).
    ///
    /// How: the log is taken a window at a time. The window's position range is split into
    /// `partitions` sub-ranges scanned in parallel, each record copied into the outbox of its
    /// stream; then the streams run in parallel, each over its outboxes in sub-range order
    /// (log order). A window holds at most `windowRecords` records and about `windowBytes` of
    /// them: a sub-range scan that reaches its share of the bytes stops, and the window is
    /// replayed only up to there (the rest is read again in the next one).
    ///
    /// Errors are reported as a single scan would meet them: the earliest in the log. A
    /// `body`'s error, or a record that fails its checks, ends the scan after every record
    /// before it was visited.
    public func scanPartitioned(
        from startPosition: LogPosition = LogPosition(0), to endPosition: LogPosition? = nil, partitions: Int, windowRecords: Int = 1 << 18, windowBytes: Int = 64 << 20,
        partition: @Sendable (UnsafeRawBufferPointer) -> Int,
        body: @Sendable (Int, RecordView) throws -> Void
    ) throws {
        precondition(partitions >= 1 && windowRecords >= 1)
        let end = min(endPosition?.rawValue ?? .max, committed.load(ordering: .acquiring))
        let budget = max(1, windowBytes / partitions)
        var start = startPosition.rawValue
        while start < end {
            let first = start
            let span = min(end, start + UInt64(windowRecords)) - first
            @Sendable func bounds(_ a: Int) -> (UInt64, UInt64) {
                (first + span * UInt64(a) / UInt64(partitions), first + span * UInt64(a + 1) / UInt64(partitions))
            }
            // Phase 1: sub-ranges scanned once each; records routed to outboxes[range][stream].
            let outboxes = Outboxes(ranges: partitions, streams: partitions)
            let scans = Results<(reached: UInt64, error: (any Error)?)>(count: partitions)
            DispatchQueue.concurrentPerform(iterations: partitions) { a in
                let (from, to) = bounds(a)
                var reached = from, bytes = 0
                do {
                    if from < to {
                        _ = try self.scan(from: LogPosition(from), to: LogPosition(to), managingPages: false) { view in
                            // Past its share of the window's bytes, a sub-range stops before
                            // this record — never before its first, so every window advances.
                            if bytes >= budget && reached > from { return false }
                            let p = partition(view.keyBytes)
                            precondition(p >= 0 && p < partitions, "partition \(p) outside 0..<\(partitions)")
                            outboxes.append(view.bytes, range: a, stream: p)
                            bytes += view.bytes.count
                            reached = view.position.rawValue + 1
                            return true
                        }
                    }
                    scans.set(a, (reached, nil))
                } catch {
                    scans.set(a, (reached, error))
                }
            }
            // The window ends where the first sub-range that was cut short stopped: the ones
            // after it are read again next window (their records must come after its rest).
            var last = partitions - 1
            var next = first + span
            var scanError: (any Error)?
            for a in 0..<partitions {
                let r = scans.get(a)
                if r.reached < bounds(a).1 {
                    last = a
                    next = r.reached
                    scanError = r.error
                    break
                }
            }
            // Phase 2: each stream over its outboxes up to there, in log order; each stream's
            // first error is kept with its position, and the earliest is the one reported.
            let failures = Results<(position: UInt64, error: any Error)?>(count: partitions)
            let replayed = last
            DispatchQueue.concurrentPerform(iterations: partitions) { p in
                var failed: (UInt64, any Error)?
                for a in 0...replayed where failed == nil {
                    outboxes.forEach(range: a, stream: p) { view in
                        guard failed == nil else { return }
                        do { try body(p, view) } catch { failed = (view.position.rawValue, error) }
                    }
                }
                failures.set(p, failed)
            }
            if let earliest = (0..<partitions).compactMap({ failures.get($0) }).min(by: { $0.position < $1.position }) {
                throw earliest.error
            }
            if let scanError { throw scanError }
            // The sealed segments this window finished with: their pages need not stay resident
            // (the scans left them alone while several read one segment).
            let list = segmentList.withLock { $0 }
            for (k, segment) in list.segments.enumerated() {
                guard case .sealed(let sealed) = segment else { continue }
                let segmentEnd = k + 1 < list.segments.count ? list.segments[k + 1].base : end
                if segmentEnd > first && segmentEnd <= next { sealed.map.dropResidentPages() }
            }
            start = next
        }
    }
}

/// One value per worker, each set by its own worker and read after all have joined.
private final class Results<Value>: @unchecked Sendable {
    private var values: [Value?]
    private let lock = Mutex(())

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ v: Value) { lock.withLock { _ in values[i] = v } }
    func get(_ i: Int) -> Value { lock.withLock { _ in values[i]! } }
}

/// Records copied out of a scan, per (sub-range, stream): each range's scanner writes only
/// its own row's cells, each stream reads only its own column's, and the phases are separated
/// by the end of a `concurrentPerform` — so no cell is ever touched by two threads at once.
/// Each cell is an object of its own: the table of cells is never mutated after it is made.
private final class Outboxes: @unchecked Sendable {
    private final class Cell {
        var bytes: [UInt8] = []
        var ends: [Int] = []
    }

    private let cells: [Cell]
    private let streams: Int

    init(ranges: Int, streams: Int) {
        self.streams = streams
        cells = (0..<(ranges * streams)).map { _ in Cell() }
    }

    func append(_ record: UnsafeRawBufferPointer, range: Int, stream: Int) {
        let cell = cells[range * streams + stream]
        cell.bytes.append(contentsOf: UnsafeBufferPointer(start: record.baseAddress?.assumingMemoryBound(to: UInt8.self), count: record.count))
        cell.ends.append(cell.bytes.count)
    }

    func forEach(range: Int, stream: Int, _ body: (RecordView) -> Void) {
        let cell = cells[range * streams + stream]
        cell.bytes.withUnsafeBytes { all in
            var from = 0
            for to in cell.ends {
                body(RecordView(bytes: UnsafeRawBufferPointer(rebasing: all[from..<to])))
                from = to
            }
        }
    }
}
