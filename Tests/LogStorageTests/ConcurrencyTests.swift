import Foundation
import Synchronization
import Testing
@testable import LogStorage

@Suite("Concurrent readers and writers")
struct ConcurrencyTests {
    @Test("readers running beside an appender never see a partial record or a broken chain",
          arguments: [DurabilityPolicy.always, .none])
    func readersDuringAppends(policy: DurabilityPolicy) async throws {
        let dir = TemporaryDirectory()
        var configuration = LogConfiguration.small(durability: policy)
        configuration.sealsInBackground = true
        let log = try Log.open(path: dir.path, configuration: configuration)
        let total = 3000
        let done = Flag()

        try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                defer { done.raise() }
                try await appendSample(log, count: total, keys: 23, batchSize: 9)
                return 0
            }
            for reader in 0..<2 {
                group.addTask {
                    var checks = 0
                    while !done.isRaised || checks == 0 {
                        let end = log.endPosition
                        var n: UInt64 = 0
                        // Every record below the end is whole and where it should be.
                        try log.scan(from: LogPosition(0), to: end) { view in
                            #expect(view.position.rawValue == n)
                            let k = String(decoding: view.keyBytes, as: UTF8.self)
                            #expect(Array(view.payload) == testPayload(key: k, n: Int(n)))
                            n += 1
                            return true
                        }
                        #expect(n == end.rawValue)
                        let records = try log.records(forKey: key("order-\(reader * 7)"))
                        #expect(records.map(\.sequence.rawValue) == Array(0..<UInt32(records.count)).map { $0 + 1 })
                        #expect(records.allSatisfy { $0.position < log.endPosition })
                        checks += 1
                        // The test's tasks share a pool as small as the machine (2 threads
                        // here); without yielding, readers could starve the appender.
                        await Task.yield()
                    }
                    return checks
                }
            }
            for try await _ in group {}
        }
        #expect(log.endPosition == LogPosition(UInt64(total)))
        try log.close()
    }

    @Test("a waiter for records past the end wakes when they are committed")
    func waitForRecordsWakes() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 5)
        async let woke = log.waitForRecords(after: LogPosition(5))
        try await Task.sleep(for: .milliseconds(20))
        _ = try await log.append(AppendRequest(key: key("x"), type: RecordType(0), payload: [1]))
        #expect(await woke)
        #expect(try log.record(at: LogPosition(5)).key == key("x"))
        try log.close()
    }

    @Test("a waiter is released when the log closes or its task is cancelled")
    func waitEndsOnCloseAndCancel() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let task = Task { await log.waitForRecords(after: LogPosition(100)) }
        task.cancel()
        #expect(await task.value == false)
        async let closed = log.waitForRecords(after: LogPosition(100))
        try await Task.sleep(for: .milliseconds(10))
        try log.close()
        #expect(await closed == false)
    }

    @Test("concurrent appenders share fsyncs and every batch stays whole and in order")
    func concurrentAppendersGroupCommit() async throws {
        let dir = TemporaryDirectory()
        var configuration = LogConfiguration.small()
        configuration.sealsInBackground = true
        let log = try Log.open(path: dir.path, configuration: configuration)
        let receipts = try await withThrowingTaskGroup(of: [AppendReceipt].self) { group in
            for task in 0..<8 {
                group.addTask {
                    var receipts: [AppendReceipt] = []
                    for b in 0..<40 {
                        receipts.append(try await log.append((0..<4).map { i in
                            AppendRequest(key: key("t\(task)"), type: RecordType(UInt16(task)), payload: Array("\(task)/\(b)/\(i)".utf8))
                        }))
                    }
                    return receipts
                }
            }
            var all: [AppendReceipt] = []
            for try await r in group { all += r }
            return all
        }
        #expect(receipts.count == 320)
        for r in receipts {
            let records = try log.records(from: r.firstPosition, limit: 4)
            let parts = records.map { String(decoding: $0.payload, as: UTF8.self).split(separator: "/") }
            #expect(Set(parts.map { $0[0] + "/" + $0[1] }).count == 1, "a batch is contiguous")
            #expect(parts.map { $0[2] } == ["0", "1", "2", "3"])
        }
        for task in 0..<8 {
            #expect(try log.records(forKey: key("t\(task)")).count == 160)
        }
        try log.close()
    }
}
