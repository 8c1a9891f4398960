import ArgumentParser
import Foundation
import Histogram
import OrderModel
import OrderStore
import OrderWorkload

/// Measures an existing store as its users query it (issue 12's targets): how long it takes to
/// open and what it then holds, snapshots of random orders (cold: the cache off by default),
/// a customer's orders, the first page of each status list, totals now and as of a time in the
/// middle of history. Embedded: no network in the figures.
struct QueryBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query-bench",
        abstract: "Benchmark the queries of an existing store: open, cold snapshots, lists, pages, totals.")

    @Option(help: "Data directory of an existing store (not changed).") var data: String
    @Option(help: "Random orders to read (snapshots, and their customers' lists).") var reads = 20_000
    @Option(help: "Snapshots kept in memory (0: every read is cold).") var cache = 0
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Flag(help: "Print the resident set every 100,000 reads.") var verbose = false
    @Option(help: "The store's memory in MiB (as serve's --memory-mib).") var memoryMib = 1024

    func run() throws {
        var configuration = StoreConfiguration()
        guard (16...1 << 20).contains(memoryMib) else { throw ValidationError("--memory-mib must be 16…1048576, got \(memoryMib)") }
        configuration.memory(memoryMib << 20)
        configuration.snapshotCacheMax = cache
        configuration.checkpointEvents = 0
        let started = ContinuousClock.now
        let store = try OrderStore.open(path: data, configuration: configuration)
        defer { try? store.close() }
        let openSeconds = (ContinuousClock.now - started).seconds
        let status = store.checkpointStatus
        print(String(format: "open: %.2f s, RSS %d MiB after (peak %d MiB); from checkpoint at %llu of %llu events", openSeconds,
                     residentMiB("Rss"), residentMiB("VmHWM"), status.position, store.endPosition))

        let st = store.statistics
        print("memory: --memory-mib \(st.memoryBytes >> 20) (snapshot cache bound \(st.cacheBytesMax >> 20) MiB); beside it the key directory \(st.keyDirectoryBytes >> 20) MiB, status lists \(st.statusListBytes >> 20) MiB, \(st.ordersInMemory) orders after the checkpoint in memory")
        // Random orders by their placement index (no list of every id is made: at 10 M orders
        // that list alone would be most of the memory measured).
        let orders = store.orderCount
        guard orders > 0 else { print("the store has no orders"); return }
        var rng = SplitMix64(seed: seed)
        var snapshots = histogram(), customers = histogram()
        var customerIDs: [String] = []
        var peakDuringReads = 0
        for k in 0..<reads {
            guard let id = store.orderID(placedIndex: Int(rng.next() % UInt64(orders))) else { continue }
            let t = ContinuousClock.now
            let s = try store.snapshot(id)
            snapshots.record(nanoseconds(since: t))
            if let s, customerIDs.count < 20_000 { customerIDs.append(s.customerID) }
            if k % 100_000 == 99_999 {
                let rss = residentMiB("Rss")
                peakDuringReads = max(peakDuringReads, rss)
                if verbose { print("  after \(k + 1) reads: RSS \(rss) MiB (anonymous \(residentMiB("Anonymous")), file-backed \(rss - residentMiB("Anonymous")))") }
            }
        }
        let afterReads = residentMiB("Rss")
        for c in customerIDs {
            let t = ContinuousClock.now
            _ = try store.orders(ofCustomer: c, after: nil, limit: 100)
            customers.record(nanoseconds(since: t))
        }
        print("snapshot of a random order (\(cache == 0 ? "cold" : "cache \(cache)")), \(reads) reads: " + percentiles(snapshots))
        print("RSS after the reads \(afterReads) MiB (largest sampled during them \(max(peakDuringReads, afterReads)) MiB; cache \(store.cacheUsage.count) orders, \(store.cacheUsage.bytes >> 20) MiB)")
        print("a customer's orders (first page of 100), \(customerIDs.count) customers: " + percentiles(customers))

        var pages = histogram()
        var slowest = (status: "", ms: 0.0, total: 0)
        for s in OrderSnapshot.Status.allCases {
            for _ in 0..<20 {
                let t = ContinuousClock.now
                let page = store.orders(withStatus: s, after: nil, limit: 100)
                let ns = nanoseconds(since: t)
                pages.record(ns)
                if Double(ns) / 1e6 > slowest.ms { slowest = (s.rawValue, Double(ns) / 1e6, page.total) }
            }
        }
        print("first page (100) of a status list, every status ×20: " + percentiles(pages)
              + String(format: "; slowest %@ (%d orders) %.2f ms", slowest.status, slowest.total, slowest.ms))

        var totalsNow = histogram()
        for _ in 0..<200 {
            let t = ContinuousClock.now
            _ = try store.totals()
            totalsNow.record(nanoseconds(since: t))
        }
        print("totals now: " + percentiles(totalsNow))
        let middle = store.endPosition / 2
        let t = ContinuousClock.now
        let rows = try store.totals(before: middle)
        print(String(format: "totals as of the middle of history (before position %llu): %.2f s, %d rows", middle, (ContinuousClock.now - t).seconds, rows.count))
    }

    func histogram() -> Histogram<UInt64> { Histogram<UInt64>(highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three) }

    func nanoseconds(since t: ContinuousClock.Instant) -> UInt64 {
        let d = ContinuousClock.now - t
        return UInt64(max(1, d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000))
    }

    func percentiles(_ h: Histogram<UInt64>) -> String {
        func us(_ p: Double) -> String { String(format: "%.1f", Double(h.valueAtPercentile(p)) / 1000) }
        return "p50 \(us(50)) µs, p99 \(us(99)) µs, max \(String(format: "%.1f", Double(h.max) / 1000)) µs"
    }

    /// A line of /proc/self/status, in MiB.
    /// A field of /proc/self/status, or of /proc/self/smaps_rollup for "Rss" and "Anonymous"
    /// (exact: a walk of the page tables; /proc/self/status's RSS fields are per-CPU counts
    /// the kernel sums lazily, and lag by hundreds of MiB under many page faults), in MiB.
    func residentMiB(_ field: String) -> Int {
        let file = field == "Rss" || field == "Anonymous" ? "/proc/self/smaps_rollup" : "/proc/self/status"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
