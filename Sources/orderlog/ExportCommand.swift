import ArgumentParser
import Foundation
import OrderModel
import OrderStore

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print every stored event as JSONL, in log order, with position, seq and recorded_at.",
        discussion: "Importing an export into an empty data directory and exporting again gives the same bytes.")

    @OptionGroup var source: SourceOptions
    @Option(help: "Start at this position.") var from: UInt64 = 0

    func run() async throws {
        let orders = try await source.open()
        let out = OutputBuffer()
        try await orders.forEachEvent(from: from) { stored in
            do throws(OrderError) { out.line(try stored.exportLine()) } catch {
                out.flush()
                throw CLIError("export stopped: \(error.detail)")
            }
        }
        out.flush()
        await orders.close()
    }
}
