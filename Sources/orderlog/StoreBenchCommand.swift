import ArgumentParser
import Foundation
import Histogram
import LogStorage
import OrderModel
import OrderStore
import OrderWorkload

/// Measures the query layer: validated appends, replaying the whole log, and snapshot reads.
struct StoreBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store-bench",
        abstract: "Benchmark the order store: validated appends, full replay, snapshot reads.")

    @Option(help: "Data directory (default: a new folder under /tmp, removed afterwards).") var data: String?
    @Option(help: "Orders to generate and append.") var orders = 100_000
    @Option(help: "Events per append batch.") var batch = 1000
    @Option(help: "Durability: always, none, or interval:MS.") var fsync = "always"
    @Option(help: "Snapshot reads per figure.") var reads = 200_000
    @Option(help: "Snapshots kept in memory (the cache).") var cache = 200_000

    func run() async throws {
        let directory = data ?? NSTemporaryDirectory() + "orderlog-store-bench-\(getpid())"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: directory) } }
        var configuration = StoreConfiguration()
        configuration.log.durability = try parsePolicy(fsync)
        configuration.snapshotCacheMax = cache
        var options = OrderWorkloadGenerator.Options()
        options.orders = orders
        var events: [AppendEvent] = []
        OrderWorkloadGenerator(options: options).generate { events.append(AppendEvent($0)) }
        print("store-bench: \(orders) orders, \(events.count) events, batch \(batch), fsync \(configuration.log.durability), snapshot cache \(cache)")

        var store = try OrderStore.open(path: directory, configuration: configuration)
        let started = ContinuousClock.now
        for start in stride(from: 0, to: events.count, by: batch) {
            _ = try await store.append(Array(events[start..<min(events.count, start + batch)]))
        }
        let appendTime = (ContinuousClock.now - started).seconds
        print(String(format: "validated append: %.0f events/s, %.0f orders/s (%.2f s)", Double(events.count) / appendTime, Double(orders) / appendTime, appendTime))
        try store.close()

        let openStart = ContinuousClock.now
        store = try OrderStore.open(path: directory, configuration: configuration)
        let openTime = (ContinuousClock.now - openStart).seconds
        print(String(format: "open (replays every event to rebuild lists and snapshots): %.2f s, %.0f events/s", openTime, Double(events.count) / openTime))
        let auditStart = ContinuousClock.now
        let report = store.audit()
        let auditTime = (ContinuousClock.now - auditStart).seconds
        print(String(format: "audit (checksums, every rule, every snapshot): %.2f s, %.0f events/s, %ld violations", auditTime, Double(report.events) / auditTime, report.violations.count))

        var rng = SystemRandomNumberGenerator()
        let ids = (0..<reads).map { _ in
            let n = String(Int.random(in: 1...orders, using: &rng))
            return try! OrderID("ORD-" + String(repeating: "0", count: max(0, 8 - n.count)) + n)
        }
        for (name, read) in [("cached", { (id: OrderID) throws -> OrderSnapshot? in try store.snapshot(id) }),
                             ("replayed from the log", { (id: OrderID) throws -> OrderSnapshot? in try store.snapshot(id, asOfPosition: .max) })] {
            var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            for id in ids {
                let t0 = ContinuousClock.now
                let s = try read(id)
                histogram.record(UInt64(max((ContinuousClock.now - t0).nanoseconds, 1)))
                precondition(s != nil)
            }
            print(String(format: "snapshot of a random order (%@): p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs", name,
                         Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000,
                         Double(histogram.valueAtPercentile(99.9)) / 1000, Double(histogram.max) / 1000))
        }
        print("rss: \(residentBytes() >> 20) MiB; peak \(peakResidentBytes() >> 20) MiB")
        try store.close()
    }
}
