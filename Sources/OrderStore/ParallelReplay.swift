import Dispatch
import Foundation
import LogStorage
import OrderModel

/// Replays the log on every core. Orders are split between workers by a hash of their key, and
/// each worker applies its own orders' events in log order, so an order's events never need
/// another worker's state and the workers share nothing until they finish. The log is read
/// once: `Log.scanPartitioned` scans each part of it on one core and hands every record to
/// the worker that owns its key (each segment block read, checked and decompressed once,
/// however many workers).
enum ParallelReplay {
    static var defaultWorkers: Int { max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)) }

    /// Runs `body` for every record from `start` and below `end` on the worker that owns its
    /// key; returns each worker's part. `makePart` makes worker `w`'s part (a replay from a
    /// checkpoint seeds it with the orders `owner` gives `w`). The first error any worker
    /// throws ends the replay and is rethrown.
    static func run<Part: Sendable>(
        log: Log, from start: LogPosition = LogPosition(0), end: LogPosition? = nil, workers: Int = defaultWorkers,
        makePart: @Sendable (Int) -> Part,
        body: @Sendable (inout Part, RecordView) throws -> Void
    ) throws -> [Part] {
        try run(log: log, from: start, end: end, workers: workers, makePart: makePart, body: body, finish: { $0 })
    }

    /// As `run`, and `finish` turns each worker's part into its result on that worker, so
    /// summarising (and freeing) millions of snapshots happens on every core too.
    static func run<Part, Summary: Sendable>(
        log: Log, from start: LogPosition = LogPosition(0), end: LogPosition? = nil, workers: Int = defaultWorkers,
        makePart: @Sendable (Int) -> Part,
        body: @Sendable (inout Part, RecordView) throws -> Void,
        finish: @Sendable (consuming Part) -> Summary
    ) throws -> [Summary] {
        if workers == 1 {
            var part = makePart(0)
            _ = try log.scan(from: start, to: end) { view in
                try body(&part, view)
                return true
            }
            return [finish(part)]
        }
        let parts = Parts(count: workers, makePart)
        try log.scanPartitioned(from: start, to: end, partitions: workers, partition: { owner($0, workers) }) { w, view in
            try parts.withPart(w) { try body(&$0, view) }
        }
        // Summarised on every core, which also frees the parts there.
        let results = Results<Summary>(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { w in results.set(w, .success(finish(parts.take(w)))) }
        return try results.collect()
    }

    /// Each worker's part, touched only by that worker's stream (`scanPartitioned` runs a
    /// stream on one thread at a time), then taken once to be summarised.
    private final class Parts<Part>: @unchecked Sendable {
        private final class Box { var part: Part?; init(_ p: Part) { part = p } }
        private let boxes: [Box]

        init(count: Int, _ make: (Int) -> Part) { boxes = (0..<count).map { Box(make($0)) } }

        func withPart(_ w: Int, _ body: (inout Part) throws -> Void) rethrows {
            try body(&boxes[w].part!)
        }

        func take(_ w: Int) -> Part {
            let p = boxes[w].part!
            boxes[w].part = nil
            return p
        }
    }

    /// FNV-1a over the key: cheap, and stable within a process, which is all a split needs.
    @inline(__always) static func owner(_ key: UnsafeRawBufferPointer, _ workers: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return Int(h % UInt64(workers))
    }

    private final class Results<Part: Sendable>: @unchecked Sendable {
        // @unchecked: each worker writes only its own slot, under the lock; read after all join.
        private var slots: [Result<Part, any Error>?]
        private let lock = NSLock()

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func set(_ i: Int, _ r: Result<Part, any Error>) { lock.lock(); slots[i] = r; lock.unlock() }

        func collect() throws -> [Part] {
            lock.lock(); defer { lock.unlock() }
            return try slots.map { try $0!.get() }
        }
    }
}
