import ArgumentParser
import Foundation
import OrderStore

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Write a checkpoint of every order's state now, so the next open replays only the log after it.",
        discussion: """
            A store writes checkpoints by itself as events arrive (`--checkpoint-events`); this \
            writes one on demand (after an import, before a restart). Not while a server has \
            the store open: the store is locked.
            """)

    @Option(help: "Data directory.") var data: String

    func run() throws {
        let store = try OrderStore.open(path: data)
        defer { try? store.close() }
        guard let info = try store.writeCheckpoint() else {
            let status = store.checkpointStatus
            if store.endPosition == 0 { print("the store is empty: nothing to write"); return }
            if status.position == store.endPosition { print("checkpoint at \(status.position) is current: nothing to write"); return }
            throw CLIError("no checkpoint could be started (the store's totals are unsure after a failed write: reopen it)")
        }
        print("checkpoint at position \(info.position): \(info.orders) orders (\(info.changedOrders) written afresh), \(info.bytes) bytes in \(String(format: "%.2f", info.seconds)) s → \(info.path)")
    }
}
