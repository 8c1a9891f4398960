import Benchmark
import Foundation
import LogStorage
import LogWorkload

// Storage engine benchmarks on order-shaped records (~120 payload bytes, see LogWorkload).
// Throughput figures are records per second: every append benchmark writes 1,000 records
// per iteration (scalingFactor .kilo) in batches of 1, 100 or 1,000; the scan reads 1M
// records per iteration (.mega). Figures and the command are recorded in docs/BENCHMARKS.md.

/// Per-benchmark state, made in `setup` and dropped in `teardown` (the harness runs one
/// benchmark at a time).
nonisolated(unsafe) var log: Log?
nonisolated(unsafe) var directory = ""
nonisolated(unsafe) var batches: [[AppendRequest]] = []
nonisolated(unsafe) var next = 0
nonisolated(unsafe) var hotOrders: [LogKey] = []

let workload = OrderLikeWorkload()

func makeDirectory() -> String {
    let path = NSTemporaryDirectory() + "orderlog-benchmark-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func closeAndRemove() throws {
    try log?.close()
    log = nil
    batches = []
    hotOrders = []
    try? FileManager.default.removeItem(atPath: directory)
}

/// A sealed log of `orders` orders with `eventsPerOrder` events each, interleaved.
func buildLog(orders: Int, eventsPerOrder: Int) async throws -> Log {
    directory = makeDirectory()
    let log = try Log.open(path: directory, configuration: { var c = LogConfiguration(); c.durability = .none; return c }())
    let steps = OrderLikeWorkload.lifecycle.count
    var batch: [AppendRequest] = []
    for event in 0..<eventsPerOrder {
        for order in 0..<orders {
            // Past the 7 lifecycle steps, further events repeat the later ones (notes, updates).
            let step = event < steps ? event : steps - 1 - (event % 3)
            batch.append(workload.request(order: order, step: step))
            if batch.count == 1000 { _ = try await log.append(batch); batch.removeAll(keepingCapacity: true) }
        }
    }
    if !batch.isEmpty { _ = try await log.append(batch) }
    try log.rollActiveSegment()
    log.sealPendingSegments()
    return log
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds,
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 1_000)

    for policy in [("always", DurabilityPolicy.always), ("none", .none)] {
        for batchSize in [1, 100, 1000] {
            Benchmark(
                "append batch=\(batchSize) fsync=\(policy.0)",
                configuration: .init(scalingFactor: .kilo, maxDuration: .seconds(batchSize == 1 && policy.0 == "always" ? 5 : 3))
            ) { benchmark in
                for _ in 0..<(1000 / batchSize) {
                    _ = try await log!.append(batches[next % batches.count])
                    next += 1
                }
            } setup: {
                directory = makeDirectory()
                var configuration = LogConfiguration()
                configuration.durability = policy.1
                log = try Log.open(path: directory, configuration: configuration)
                // Records are made before measuring: the benchmark times the log alone.
                batches = stride(from: 0, to: 200_000, by: batchSize).map { start in
                    (start..<(start + batchSize)).map { workload.request(streamIndex: $0) }
                }
                next = 0
            } teardown: {
                try closeAndRemove()
            }
        }
    }

    Benchmark(
        "per-order read, 10-event order, warm",
        configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3), maxIterations: 200_000)
    ) { benchmark in
        let key = hotOrders[next % hotOrders.count]
        next += 1
        benchmark.startMeasurement()
        blackHole(try log!.records(forKey: key))
    } setup: {
        log = try await buildLog(orders: 100_000, eventsPerOrder: 10)
        var rng = SystemRandomNumberGenerator()
        hotOrders = (0..<1000).map { _ in workload.key(order: Int.random(in: 0..<100_000, using: &rng)) }
        for key in hotOrders {  // warms the block cache
            let count = try log!.records(forKey: key).count
            precondition(count == 10)
        }
        next = 0
    } teardown: {
        try closeAndRemove()
    }

    Benchmark(
        "full scan of compressed segments",
        configuration: .init(scalingFactor: .mega, maxDuration: .seconds(5), maxIterations: 20)
    ) { benchmark in
        var count = 0
        try log!.scan(from: LogPosition(0), to: LogPosition(1_000_000)) { view in
            count += 1
            blackHole(view.payload.count)
            return true
        }
        precondition(count == 1_000_000)
    } setup: {
        log = try await buildLog(orders: 142_858, eventsPerOrder: 7)
        // Exactly 1M records: drop the few extra by scanning only the first million.
        precondition(log!.endPosition.rawValue >= 1_000_000)
    } teardown: {
        try closeAndRemove()
    }

    Benchmark(
        "open a log of 2M records (sealed, indexed)",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(5), maxIterations: 50)
    ) { benchmark in
        let opened = try Log.open(path: directory)
        benchmark.stopMeasurement()
        try opened.close()
    } setup: {
        let built = try await buildLog(orders: 285_715, eventsPerOrder: 7)
        try built.close()
    } teardown: {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
