import ArgumentParser
import Foundation
import OrderModel
import OrderStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print every stored event as JSONL, in log order, with position, seq and recorded_at.",
        discussion: "Importing an export into an empty data directory and exporting again gives the same bytes.")

    @Option(help: "Data directory.") var data: String
    @Option(help: "Start at this position.") var from: UInt64 = 0

    func run() throws {
        let store = try OrderStore.open(path: data)
        defer { try? store.close() }
        let out = OutputBuffer()
        try store.forEachEvent(from: from) { stored in
            out.line(stored.event.jsonLine(stored: stored))
            return true
        }
        out.flush()
    }
}
