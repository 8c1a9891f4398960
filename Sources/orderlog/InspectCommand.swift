import ArgumentParser
import LogStorage

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Open a log (recovering it if needed) and list its segments.")

    @Option(name: .long, help: "Data directory.")
    var data: String

    func run() throws {
        let log = try Log.open(path: data)
        defer { try? log.close() }
        let stats = log.keyDirectoryStatistics
        print("records: \(log.endPosition)  keys: \(stats.keys)  key directory: \(stats.bytes >> 20) MiB")
        for segment in log.segmentSummaries {
            print("\(segment.sealed ? "sealed" : "active") \(segment.base) \(segment.path)")
        }
    }
}
