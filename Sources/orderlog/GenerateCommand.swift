import ArgumentParser
import Foundation
import OrderModel
import OrderWorkload

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a realistic, seeded order workload as JSONL (one event per line).",
        discussion: "Many orders are in flight at once, so each order's events are spread through the stream. Every event passes the lifecycle rules and carries an event_id, so importing the same file twice stores nothing new.")

    @Option(help: "Number of orders.") var orders = 1000
    @Option(help: "Random seed: the same seed gives the same file.") var seed: UInt64 = 1
    @Option(help: "Orders in flight at once.") var inFlight = 1000
    @Option(help: "Share of orders cancelled before shipping (0–1).") var cancelRate = 0.05
    @Option(help: "Share of delivered orders with a return (0–1).") var returnRate = 0.08
    @Option(help: "Share of orders shipped in two fulfillments (0–1).") var splitRate = 0.15
    @Option(help: "Share of orders with a goodwill partial refund (0–1).") var partialRefundRate = 0.03
    @Option(help: "The most recent orders to leave mid-life (default: a tenth of the orders, at most --in-flight).") var openOrders: Int?
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func validate() throws {
        guard orders >= 0 else { throw ValidationError("--orders must not be negative") }
        guard inFlight >= 1 else { throw ValidationError("--in-flight must be at least 1") }
        for (name, v) in [("--cancel-rate", cancelRate), ("--return-rate", returnRate), ("--split-rate", splitRate), ("--partial-refund-rate", partialRefundRate)] {
            guard (0...1).contains(v) else { throw ValidationError("\(name) must be between 0 and 1, got \(v)") }
        }
    }

    func run() throws {
        var options = OrderWorkloadGenerator.Options()
        options.orders = orders
        options.seed = seed
        options.inFlight = inFlight
        options.cancelRate = cancelRate
        options.returnRate = returnRate
        options.splitShipmentRate = splitRate
        options.partialRefundRate = partialRefundRate
        options.openOrders = openOrders
        let handle: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) else { throw CLIError("cannot create \(output)") }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            handle = .standardOutput
        }
        let out = OutputBuffer(handle: handle)
        var count = 0
        OrderWorkloadGenerator(options: options).generate { event in
            out.line(event.jsonLine())
            count += 1
        }
        out.flush()
        if output != nil { printError("generated \(count) events for \(orders) orders into \(output!)") }
    }
}
