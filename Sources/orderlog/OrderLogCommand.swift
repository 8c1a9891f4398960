import ArgumentParser

@main
struct OrderLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderlog",
        abstract: "OrderLog: an append-only event store for the order lifecycle.",
        subcommands: [DemoCommand.self, VerifyCommand.self, InspectCommand.self, StorageBenchCommand.self],
        defaultSubcommand: DemoCommand.self
    )
}
