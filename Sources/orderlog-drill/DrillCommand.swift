import ArgumentParser

/// The reliability drills of docs/RELIABILITY.md; `tools/drill-*` run them.
@main
struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orderlog-drill",
        abstract: "Attack a running OrderLog the way production will: crashes, corruption, a full disk, bad input, a long soak.",
        subcommands: [CrashDrill.self, CorruptDrill.self, DiskFullDrill.self, SoakDrill.self, BadInputDrill.self, HostileDrill.self])
}
