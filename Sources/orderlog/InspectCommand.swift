import ArgumentParser
import LogStorage
import OrderModel

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Open a log (recovering it if needed) and list its segments and indexes.")

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
        if json {
            print("{\"records\":\(log.endPosition),\"keys\":\(stats.keys),\"key_directory_bytes\":\(stats.bytes),\"segments\":["
                + segments.map { "{\"base\":\($0.base),\"path\":\(JSONWriter.quoted($0.path)),\"sealed\":\($0.sealed)}" }.joined(separator: ",") + "]}")
            return
        }
        print("records: \(log.endPosition)  keys: \(stats.keys)  key directory: \(stats.bytes >> 20) MiB")
        for segment in segments {
            print("\(segment.sealed ? "sealed" : "active") \(segment.base) \(segment.path)")
        }
    }
}
