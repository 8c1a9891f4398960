import ArgumentParser
import Foundation
import LogStorage

/// A short tour of the storage engine on a local directory: append order-like records, roll
/// and seal (compress) segments, reopen, and read one order back.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Append sample records to a log, seal segments, reopen it and read an order back.")

    @Option(name: .long, help: "Data directory (created if missing).")
    var data: String = "./orderlog-data"

    @Option(name: .long, help: "How many orders to write (7 records each).")
    var orders: Int = 20_000

    func run() async throws {
        var configuration = LogConfiguration()
        configuration.segmentBytesMax = 4 << 20
        configuration.batchBytesMax = 1 << 20
        let started = Date()
        let log = try Log.open(path: data, configuration: configuration)
        let before = log.endPosition
        let lifecycle = ["OrderPlaced", "PaymentAuthorized", "PaymentCaptured", "FulfillmentRequested", "FulfillmentPacked", "Shipped", "Delivered"]
        var batch: [AppendRequest] = []
        for step in 0..<lifecycle.count {
            for order in 0..<orders {
                let key = try LogKey("ord-\(before.rawValue)-\(order)")
                let payload = Array("{\"type\":\"\(lifecycle[step])\",\"customer_id\":\"cus-\(order % 977)\",\"sku\":\"SKU-\(order % 113)\",\"amount_minor\":\(1999 + order % 500)}".utf8)
                batch.append(AppendRequest(key: key, type: RecordType(UInt16(step + 1)), payload: payload))
                if batch.count == 1000 {
                    _ = try await log.append(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        if !batch.isEmpty { _ = try await log.append(batch) }
        let appended = log.endPosition.rawValue - before.rawValue
        let seconds = Date().timeIntervalSince(started)
        try log.rollActiveSegment()
        log.sealPendingSegments()
        try log.close()

        let reopened = try Log.open(path: data, configuration: configuration)
        defer { try? reopened.close() }
        let key = try LogKey("ord-\(before.rawValue)-\(orders / 2)")
        let history = try reopened.records(forKey: key)
        print("appended \(appended) records (\(orders) orders) in \(String(format: "%.2f", seconds)) s, durability always")
        print("log \(data): \(reopened.endPosition) records in \(reopened.segmentSummaries.count) segments (\(reopened.segmentSummaries.filter(\.sealed).count) sealed)")
        print("order \(key):")
        for record in history {
            print("  #\(record.sequence) at position \(record.position): \(String(decoding: record.payload, as: UTF8.self))")
        }
        let problems = Log.verify(path: data)
        print(problems.isEmpty ? "verify: no problems" : "verify: \(problems.count) problem(s)")
    }
}
