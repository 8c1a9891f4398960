import ArgumentParser
import OrderLogServer

struct OrderLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderlog",
        abstract: "OrderLog: an append-only event store for the order lifecycle.",
        version: OrderLogServer.version,
        subcommands: [
            ServeCommand.self, TailCommand.self, BenchCommand.self, GenerateCommand.self, ImportCommand.self, ExportCommand.self, ShowCommand.self, HistoryCommand.self, OrdersCommand.self,
            TotalsCommand.self, AuditCommand.self, VerifyCommand.self, CheckpointCommand.self, InspectCommand.self, DemoCommand.self, StorageBenchCommand.self, StoreBenchCommand.self, QueryBenchCommand.self,
        ]
    )
}
