import ArgumentParser
import LogStorage
import OrderModel
import OrderStore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Open a log (recovering it if needed) and list its segments, indexes and checkpoints.")

    @Option(help: "Data directory.")
    var data: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        var configuration = LogConfiguration()
        configuration.payloadBytesMax = OrderEvent.jsonBytesMax + 4096
        let log = try Log.open(path: data, configuration: configuration)
        defer { try? log.close() }
        let stats = log.keyDirectoryStatistics
        let segments = log.segmentSummaries
        let checkpoints = OrderStore.checkpointSummaries(path: data, log: log)
        let marks = OrderStore.totalsMarksSummary(path: data, log: log)
        if json {
            print("{\"records\":\(log.endPosition),\"keys\":\(stats.keys),\"key_directory_bytes\":\(stats.bytes),\"segments\":["
                + segments.map { "{\"base\":\($0.base),\"path\":\(JSONWriter.quoted($0.path)),\"sealed\":\($0.sealed)}" }.joined(separator: ",") + "],\"checkpoints\":["
                + checkpoints.map { c in
                    "{\"path\":\(JSONWriter.quoted(c.path)),\"position\":\(c.position),\"orders\":\(c.orders),\"bytes\":\(c.bytes),\"problem\":"
                        + (c.problem.map { "{\"kind\":\(JSONWriter.quoted($0.kind.rawValue)),\"message\":\(JSONWriter.quoted($0.message))}" } ?? "null") + "}"
                }.joined(separator: ",") + "],\"totals_marks\":{\"read\":\(marks.read),\"fitting\":\(marks.fitting),\"newest\":\(marks.newest),\"clean\":\(marks.clean)}}")
            return
        }
        print("records: \(log.endPosition)  keys: \(stats.keys)  key directory: \(stats.bytes >> 20) MiB")
        // What a server holds beside the caches its --memory-mib sizes (docs/FORMAT.md §13).
        let newest = checkpoints.first { $0.problem == nil }
        print("memory beside the caches when served: key directory \(stats.bytes >> 20) MiB, status lists ~\((stats.keys * 6) >> 20) MiB, "
            + "\(stats.keys - Int(newest?.orders ?? 0)) orders not in the newest usable checkpoint (~\(((stats.keys - Int(newest?.orders ?? 0)) * 80) >> 20) MiB in memory)")
        for segment in segments {
            print("\(segment.sealed ? "sealed" : "active") \(segment.base) \(segment.path)")
        }
        // Checked here by header and fingerprints only: open tries them newest first and also
        // checks the index, and the entries it reads (verify reads them all).
        for c in checkpoints {
            print("checkpoint \(c.position) \(c.path): \(c.orders) orders, \(c.bytes >> 20) MiB" + (c.problem.map { " — not usable: \($0.kind.rawValue): \($0.message)" } ?? ""))
        }
        // What totals as of a time start from (docs/FORMAT.md §14).
        print("totals marks: \(marks.fitting) fit the log" + (marks.newest > 0 ? " (newest at \(marks.newest))" : "")
            + (marks.read > marks.fitting ? ", \(marks.read - marks.fitting) passed over" : "") + (marks.clean ? "" : ", torn or damaged after the last whole mark"))
    }
}
