import ArgumentParser
import Foundation
import Histogram
import LogStorage
import LogWorkload

/// Measures the storage engine on its own: append throughput, compression, full scan, open
/// time, per-order read latency and resident memory, on order-shaped records.
struct StorageBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-bench",
        abstract: "Benchmark the storage engine: append, seal, scan, open and per-order reads.",
        discussion: """
            Writes `--orders` orders of 7 lifecycle events each (records of ~120 payload bytes, \
            orders interleaved as in a live shop) into --data, unless --reuse finds them there, \
            then reopens the log and measures. Results go to standard output.
            """)

    @Option(help: "Data directory (default: a new folder under /tmp, removed afterwards).")
    var data: String?

    @Option(help: "Orders to write; each has 7 events.")
    var orders: Int = 300_000

    @Option(help: "Records per append batch.")
    var batch: Int = 1000

    @Option(help: "Concurrent appenders (they share fsyncs).")
    var appenders: Int = 1

    @Option(help: "Durability: always, none, or interval:MS.")
    var fsync: String = "always"

    @Option(help: "Orders to read for each latency figure.")
    var reads: Int = 100_000

    @Option(help: "Orders in the hot working set.")
    var hotOrders: Int = 1000

    @Option(help: "Raw bytes per compressed block (default: the log's default).")
    var blockBytes: Int?

    @Option(help: "Bytes of each sealed segment's compression dictionary (default: the log's default).")
    var dictionaryBytes: Int?

    @Flag(help: "Measure an existing log in --data instead of writing one.")
    var reuse = false

    func run() async throws {
        let directory = data ?? NSTemporaryDirectory() + "orderlog-bench-\(getpid())"
        defer { if data == nil { try? FileManager.default.removeItem(atPath: directory) } }
        let workload = OrderLikeWorkload()
        var configuration = LogConfiguration()
        configuration.durability = try parsePolicy(fsync)
        if let blockBytes { configuration.blockBytesTarget = blockBytes }
        if let dictionaryBytes { configuration.dictionaryBytesTarget = dictionaryBytes }
        let records = orders * OrderLikeWorkload.lifecycle.count
        print("storage-bench: \(orders) orders, \(records) records, batch \(batch), \(appenders) appender(s), fsync \(configuration.durability), blocks \(configuration.blockBytesTarget) B, dictionary \(configuration.dictionaryBytesTarget) B")
        print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB")

        if !reuse {
            let log = try Log.open(path: directory, configuration: configuration)
            // Up to 3M records, batches are made before the clock starts, so the figure is the
            // log's alone; larger runs (memory tests) generate as they go and say so.
            let pregenerate = records <= 3_000_000
            let perAppender = records / appenders
            let ranges = (0..<appenders).map { a in (a * perAppender)..<(a == appenders - 1 ? records : (a + 1) * perAppender) }
            func makeBatches(_ range: Range<Int>) -> [[AppendRequest]] {
                stride(from: range.lowerBound, to: range.upperBound, by: batch).map { start in
                    (start..<min(range.upperBound, start + batch)).map { workload.request(streamIndex: $0) }
                }
            }
            let prepared = pregenerate ? ranges.map(makeBatches) : []
            let rawBytes = prepared.joined().joined().reduce(0) { $0 + $1.payload.count + 40 + $1.key.bytes.count }
            let started = ContinuousClock.now
            var generatedBytes = 0
            try await withThrowingTaskGroup(of: Int.self) { group in
                for a in 0..<appenders {
                    group.addTask {
                        if pregenerate {
                            for b in prepared[a] { _ = try await log.append(b) }
                            return 0
                        }
                        var bytes = 0
                        for start in stride(from: ranges[a].lowerBound, to: ranges[a].upperBound, by: batch) {
                            let b = (start..<min(ranges[a].upperBound, start + batch)).map { workload.request(streamIndex: $0) }
                            bytes += b.reduce(0) { $0 + $1.payload.count + 40 + $1.key.bytes.count }
                            _ = try await log.append(b)
                        }
                        return bytes
                    }
                }
                for try await b in group { generatedBytes += b }
            }
            let elapsed = ContinuousClock.now - started
            print(String(format: "append: %.0f records/s (", Double(records) / elapsed.seconds) + "\(records) records in " + String(format: "%.2f s", elapsed.seconds)
                  + (pregenerate ? ")" : ", including record generation)"))
            let totalRawBytes = rawBytes + generatedBytes
            let sealStart = ContinuousClock.now
            try log.rollActiveSegment()
            log.sealPendingSegments()
            try log.close()
            print(String(format: "seal backlog drained in %.2f s after the last append", (ContinuousClock.now - sealStart).seconds))
            let sealedBytes = fileBytes(directory, ext: "seg")
            let indexBytes = fileBytes(directory, ext: "idx")
            print("compression: \(totalRawBytes) raw record bytes -> \(sealedBytes) sealed bytes (" + String(format: "%.1f%%", 100 * Double(sealedBytes) / Double(totalRawBytes)) + "); indexes \(indexBytes) bytes")
        }

        // Open time and memory.
        let rssBefore = residentBytes()
        let openStart = ContinuousClock.now
        var readConfiguration = configuration
        readConfiguration.sealsInBackground = false
        let log = try Log.open(path: directory, configuration: readConfiguration)
        let openTime = ContinuousClock.now - openStart
        let stats = log.keyDirectoryStatistics
        print(String(format: "open: %.3f s, ", openTime.seconds) + "\(log.endPosition.rawValue) records, \(stats.keys) keys, key directory \(stats.bytes >> 20) MiB")
        print("rss after open: \(residentBytes() >> 20) MiB (before \(rssBefore >> 20) MiB; peak so far \(peakResidentBytes() >> 20) MiB)")

        // Full scan.
        let scanStart = ContinuousClock.now
        var scanned = 0
        var checksum = 0
        try log.scan(from: LogPosition(0)) { view in
            scanned += 1
            checksum &+= view.payload.count
            return true
        }
        let scanTime = ContinuousClock.now - scanStart
        print(String(format: "full scan: %.0f records/s (", Double(scanned) / scanTime.seconds) + "\(scanned) records in " + String(format: "%.2f s)", scanTime.seconds))
        print("rss after scan: \(residentBytes() >> 20) MiB (peak so far \(peakResidentBytes() >> 20) MiB)")

        // Per-order reads. "random": orders drawn from the whole log, so most blocks they
        // need are not in the block cache (the page cache holds the files). "hot": a working
        // set of --hot-orders orders read over and over, whose blocks stay in the block cache,
        // as a service console re-reads the orders being worked on.
        let total = Int(log.endPosition.rawValue) / OrderLikeWorkload.lifecycle.count
        var rng = SystemRandomNumberGenerator()
        let random = (0..<reads).map { _ in Int.random(in: 0..<max(total, 1), using: &rng) }
        let hotSet = (0..<min(hotOrders, max(total, 1))).map { _ in Int.random(in: 0..<max(total, 1), using: &rng) }
        for order in hotSet { _ = try log.records(forKey: workload.key(order: order)) }
        let hot = (0..<reads).map { hotSet[$0 % hotSet.count] }
        for (name, sample) in [("random", random), ("hot", hot)] {
            var histogram = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            var events = 0
            for order in sample {
                let t0 = ContinuousClock.now
                let history = try log.records(forKey: workload.key(order: order))
                let ns = (ContinuousClock.now - t0).nanoseconds
                events += history.count
                histogram.record(UInt64(max(ns, 1)))
            }
            print(String(format: "per-order read (%@, %.1f events/order, %ld reads): p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs",
                         name, Double(events) / Double(histogram.totalCount), sample.count,
                         Double(histogram.valueAtPercentile(50)) / 1000, Double(histogram.valueAtPercentile(99)) / 1000,
                         Double(histogram.valueAtPercentile(99.9)) / 1000, Double(histogram.max) / 1000))
        }
        print("rss after reads: \(residentBytes() >> 20) MiB (anonymous \(procStatus("RssAnon:") >> 20) MiB, file \(procStatus("RssFile:") >> 20) MiB); peak (VmHWM): \(peakResidentBytes() >> 20) MiB")
        try log.close()
        if checksum == 42 { print("") }  // keeps the scan's work observable
    }

    private func fileBytes(_ directory: String, ext: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix("." + ext) }.reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + $1)[.size] as? Int) ?? 0)
        }
    }
}

func parsePolicy(_ text: String) throws -> DurabilityPolicy {
    switch text {
    case "always": return .always
    case "none": return .none
    default:
        if text.hasPrefix("interval:"), let ms = Int(text.dropFirst("interval:".count)) { return .interval(milliseconds: ms) }
        throw ValidationError("--fsync must be always, none or interval:MS, not '\(text)'")
    }
}

/// VmRSS and VmHWM from /proc/self/status, in bytes.
func residentBytes() -> Int { procStatus("VmRSS:") }
func peakResidentBytes() -> Int { procStatus("VmHWM:") }
func procStatus(_ field: String) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(field) {
        return (Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) * 1024
    }
    return 0
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
