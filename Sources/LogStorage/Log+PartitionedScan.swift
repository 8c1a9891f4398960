import Dispatch
import Synchronization

extension Log {
    /// Visits every committed record below `end` exactly once, in `partitions` parallel
    /// streams: each record goes to the stream `partition(keyBytes)` names (0 ..< partitions),
    /// and each stream sees its records in log order, on one thread at a time. So all the
    /// records of a key are seen in order by one stream — a replay can keep per-key state
    /// without sharing it — while each segment block is read, checked and decompressed once.
    ///
    /// How: the log is taken a window of `windowRecords` at a time. The window's position range
    /// is split into `partitions` sub-ranges scanned in parallel, each record copied into the
    /// outbox of its stream; then the streams run in parallel, each over its outboxes in
    /// sub-range order (which is log order). Memory: one window's records.
    ///
    /// The first error a `body` throws, or a scan meets, ends the scan and is rethrown.
    public func scanPartitioned(
        to endPosition: LogPosition? = nil, partitions: Int, windowRecords: Int = 1 << 18,
        partition: @Sendable (UnsafeRawBufferPointer) -> Int,
        body: @Sendable (Int, RecordView) throws -> Void
    ) throws {
        precondition(partitions >= 1 && windowRecords >= 1)
        let end = min(endPosition?.rawValue ?? .max, committed.load(ordering: .acquiring))
        let failure = Mutex<(any Error)?>(nil)
        @Sendable func fail(_ e: any Error) { failure.withLock { if $0 == nil { $0 = e } } }
        var start: UInt64 = 0
        while start < end {
            let stop = min(end, start + UInt64(windowRecords))
            let first = start
            // Phase 1: sub-ranges scanned once each; records routed to outboxes[range][stream].
            let outboxes = Outboxes(ranges: partitions, streams: partitions)
            let span = stop - first
            DispatchQueue.concurrentPerform(iterations: partitions) { a in
                let from = first + span * UInt64(a) / UInt64(partitions)
                let to = first + span * UInt64(a + 1) / UInt64(partitions)
                guard from < to else { return }
                do {
                    try self.scan(from: LogPosition(from), to: LogPosition(to)) { view in
                        let p = partition(view.keyBytes)
                        precondition(p >= 0 && p < partitions, "partition \(p) outside 0..<\(partitions)")
                        outboxes.append(view.bytes, range: a, stream: p)
                        return true
                    }
                } catch { fail(error) }
            }
            if let e = failure.withLock({ $0 }) { throw e }
            // Phase 2: each stream over its outboxes, in log order.
            DispatchQueue.concurrentPerform(iterations: partitions) { p in
                do {
                    for a in 0..<partitions {
                        try outboxes.forEach(range: a, stream: p) { try body(p, $0) }
                    }
                } catch { fail(error) }
            }
            if let e = failure.withLock({ $0 }) { throw e }
            start = stop
        }
    }
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

    func forEach(range: Int, stream: Int, _ body: (RecordView) throws -> Void) rethrows {
        let cell = cells[range * streams + stream]
        try cell.bytes.withUnsafeBytes { all in
            var from = 0
            for to in cell.ends {
                try body(RecordView(bytes: UnsafeRawBufferPointer(rebasing: all[from..<to])))
                from = to
            }
        }
    }
}
