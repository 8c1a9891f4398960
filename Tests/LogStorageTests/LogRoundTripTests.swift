import Foundation
import Testing
@testable import LogStorage

@Suite("Log round trips")
struct LogRoundTripTests {
    @Test("appended records read back by position with their key, sequence, type and payload")
    func roundTrip() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let receipt = try await log.append([
            AppendRequest(key: key("a"), type: RecordType(1), payload: [1, 2, 3]),
            AppendRequest(key: key("b"), type: RecordType(2), payload: []),
            AppendRequest(key: key("a"), type: RecordType(3), payload: Array("hello".utf8)),
        ])
        #expect(receipt.firstPosition == LogPosition(0))
        #expect(receipt.sequences == [RecordSequence(1), RecordSequence(1), RecordSequence(2)])
        #expect(log.endPosition == LogPosition(3))
        let r2 = try log.record(at: LogPosition(2))
        #expect(r2.key == key("a"))
        #expect(r2.sequence == RecordSequence(2))
        #expect(r2.type == RecordType(3))
        #expect(r2.payload == Array("hello".utf8))
        #expect(r2.previousPosition == LogPosition(0))
        #expect(r2.recordedAt == receipt.recordedAt)
        #expect(try log.record(at: LogPosition(1)).payload == [])
        #expect(throws: LogError.self) { try log.record(at: LogPosition(3)) }
        try log.close()
    }

    @Test("the active segment rolls at its size limit and sealed segments are LZ4 blocks")
    func rollsAndSeals() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let written = try await appendSample(log, count: 600)
        log.sealPendingSegments()
        let sealed = dir.files(withExtension: "seg")
        #expect(sealed.count >= 3)
        #expect(dir.files(withExtension: "idx").count == sealed.count)
        #expect(dir.files(withExtension: "log").count == 1)
        for file in dir.files(withExtension: "log") + sealed {
            #expect((try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int) <= 16 << 10)
        }
        // Names sort in log order.
        #expect(log.segmentSummaries.map(\.path) == log.segmentSummaries.map(\.path).sorted())
        for (i, (k, payload)) in written.enumerated() {
            let r = try log.record(at: LogPosition(UInt64(i)))
            #expect(r.key.string == k && r.payload == payload)
        }
        try log.close()
    }

    @Test("a partitioned scan hands every record to exactly one stream, the one its key names, each stream in log order, across windows and sealed and active segments")
    func partitionedScanVisitsEachRecordOnce() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let written = try await appendSample(log, count: 700, keys: 41, batchSize: 13)
        try log.rollActiveSegment()
        log.sealPendingSegments()
        _ = try await appendSample(log, count: 50, keys: 41, batchSize: 7)  // some in the active segment
        final class Seen: @unchecked Sendable {
            let lock = NSLock()
            var byStream: [[(UInt64, String, [UInt8])]] = Array(repeating: [], count: 3)
        }
        @Sendable func stream(_ key: UnsafeRawBufferPointer) -> Int { Int(key.reduce(0) { $0 &+ UInt32($1) } % 3) }
        // Windows cut by record count, and (tiny byte budget) by bytes mid-window.
        for (records, bytes) in [(64, 64 << 20), (1 << 18, 3_000)] {
            let seen = Seen()
            try log.scanPartitioned(to: LogPosition(730), partitions: 3, windowRecords: records, windowBytes: bytes, partition: stream) { p, view in
                #expect(stream(view.keyBytes) == p)
                seen.lock.lock()
                seen.byStream[p].append((view.position.rawValue, String(decoding: view.keyBytes, as: UTF8.self), Array(view.payload)))
                seen.lock.unlock()
            }
            let all = seen.byStream.flatMap { $0 }
            #expect(all.count == 730)
            #expect(Set(all.map(\.0)) == Set(0..<730))
            for s in seen.byStream { #expect(s.map(\.0) == s.map(\.0).sorted()) }
            for (position, key, payload) in all where position < 700 {
                #expect(key == written[Int(position)].0 && payload == written[Int(position)].1)
            }
        }
        // Errors come back as one scan would meet them: the earliest, whichever stream threw
        // first.
        struct Stop: Error { let position: UInt64 }
        for _ in 0..<5 {
            do {
                try log.scanPartitioned(partitions: 2, windowRecords: 400, partition: { _ in 0 }) { _, view in
                    if view.position.rawValue == 100 { throw Stop(position: 100) }
                }
                Issue.record("no error")
            } catch let stop as Stop { #expect(stop.position == 100) }
        }
        do {
            // Streams by the parity of the key's last digit: position 52 (key order-11) is in
            // stream 1, position 100 (key order-18) in stream 0.
            try log.scanPartitioned(partitions: 2, windowRecords: 400, partition: { k in Int(k.last! % 2) }) { _, view in
                let p = view.position.rawValue
                if p == 52 || p == 100 { throw Stop(position: p) }
            }
            Issue.record("no error")
        } catch let stop as Stop { #expect(stop.position == 52) }
        try log.close()
    }

    @Test("reads from compressed segments equal the bytes written, through scan and point reads")
    func compressedReadsEqualOriginal() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let written = try await appendSample(log, count: 500, keys: 37, batchSize: 11)
        try log.rollActiveSegment()
        log.sealPendingSegments()
        #expect(log.segmentSummaries.dropLast().allSatisfy { $0.sealed })
        var seen = 0
        try log.scan(from: LogPosition(0)) { view in
            #expect(view.position.rawValue == UInt64(seen))
            #expect(String(decoding: view.keyBytes, as: UTF8.self) == written[seen].0)
            #expect(Array(view.payload) == written[seen].1)
            seen += 1
            return true
        }
        #expect(seen == 500)
        // Random point reads, in an order that defeats any sequential shortcut.
        for i in stride(from: 499, through: 0, by: -37) {
            #expect(try log.record(at: LogPosition(UInt64(i))).payload == written[i].1)
        }
        #expect(try log.records(from: LogPosition(123), limit: 5).map(\.position.rawValue) == [123, 124, 125, 126, 127])
        try log.close()
    }

    @Test("a key's records come back in sequence order across many segments, sealed and not")
    func perKeyReadsAcrossSegments() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        let written = try await appendSample(log, count: 700, keys: 9, batchSize: 5)
        log.sealPendingSegments()
        _ = try await appendSample(log, count: 20, keys: 9, batchSize: 5)  // some in the active segment
        let all = try log.records(from: LogPosition(0), limit: 10_000)
        for k in 0..<9 {
            let name = "order-\(k)"
            let records = try log.records(forKey: key(name))
            let expected = all.filter { $0.key.string == name }
            #expect(records == expected)
            #expect(records.map(\.sequence.rawValue) == Array(1...UInt32(expected.count)))
            #expect(log.head(forKey: key(name))?.sequence.rawValue == UInt32(expected.count))
        }
        #expect(written.count == 700)
        #expect(try log.records(forKey: key("no-such-order")).isEmpty)
        try log.close()
    }

    @Test("a reopened log has the same records, chains and end, and appends continue the sequences")
    func reopen() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 300, keys: 7)
        log.sealPendingSegments()
        let before = try log.records(from: LogPosition(0), limit: 1000)
        try log.close()

        log = try Log.open(path: dir.path, configuration: .small())
        #expect(log.endPosition == LogPosition(300))
        #expect(try log.records(from: LogPosition(0), limit: 1000) == before)
        let receipt = try await log.append(AppendRequest(key: key("order-3"), type: RecordType(1), payload: [9]))
        #expect(receipt.firstPosition == LogPosition(300))
        #expect(receipt.sequences == [RecordSequence(UInt32(before.filter { $0.key.string == "order-3" }.count + 1))])
        #expect(try log.records(forKey: key("order-3")).last?.payload == [9])
        #expect(receipt.recordedAt >= before.last!.recordedAt)
        try log.close()
    }

    @Test("position and time lookups find the first record at or after a time")
    func timeLookup() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        var marks: [(RecordTimestamp, LogPosition)] = []
        for round in 0..<6 {
            let r = try await log.append((0..<40).map { AppendRequest(key: key("k\($0 % 5)"), type: RecordType(0), payload: testPayload(key: "k", n: round * 40 + $0)) })
            marks.append((r.recordedAt, r.firstPosition))
            try await Task.sleep(for: .milliseconds(3))
            if round == 3 { log.sealPendingSegments() }
        }
        for (time, position) in marks {
            #expect(try log.firstPosition(recordedAtOrAfter: time) == position)
            #expect(try log.firstPosition(recordedAtOrAfter: RecordTimestamp(rawValue: time.rawValue - 1)) <= position)
        }
        #expect(try log.firstPosition(recordedAtOrAfter: RecordTimestamp(rawValue: 0)) == LogPosition(0))
        #expect(try log.firstPosition(recordedAtOrAfter: RecordTimestamp(rawValue: .max)) == log.endPosition)
        try log.close()
    }

    @Test("bad appends are refused with a clear error and store nothing")
    func refusesBadInput() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        #expect(throws: LogError.self) { try LogKey("") }
        #expect(throws: LogError.self) { try LogKey(String(repeating: "x", count: 65)) }
        #expect(throws: LogError.self) { try LogKey("has space") }
        await #expect(throws: LogError.self) { try await log.append([]) }
        let big = AppendRequest(key: key("a"), type: RecordType(0), payload: [UInt8](repeating: 1, count: 2 << 10))
        do {
            _ = try await log.append([AppendRequest(key: key("a"), type: RecordType(0), payload: [1]), big])
            Issue.record("oversized payload accepted")
        } catch let error as LogError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("record 1"))
        }
        #expect(log.endPosition == LogPosition(0))
        #expect(log.head(forKey: key("a")) == nil)
        try log.close()
    }

    @Test("a second writer is refused with the holder's pid; the lock is released on close")
    func secondWriterRefused() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        do {
            _ = try Log.open(path: dir.path, configuration: .small())
            Issue.record("second writer opened the log")
        } catch let error as LogError {
            #expect(error.code == .locked)
            #expect(error.message.contains("\(getpid())"))
        }
        try log.close()
        let again = try Log.open(path: dir.path, configuration: .small())
        try again.close()
    }

    @Test("appends after close fail with .closed")
    func appendAfterClose() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        try log.close()
        await #expect(throws: LogError.self) { try await log.append(AppendRequest(key: key("a"), type: RecordType(0), payload: [])) }
    }

    @Test("background sealing compresses rolled segments while appends go on", arguments: [DurabilityPolicy.always, .interval(milliseconds: 5), .none])
    func backgroundSealing(policy: DurabilityPolicy) async throws {
        let dir = TemporaryDirectory()
        var configuration = LogConfiguration.small(durability: policy)
        configuration.sealsInBackground = true
        let log = try Log.open(path: dir.path, configuration: configuration)
        let written = try await appendSample(log, count: 800, keys: 11, batchSize: 13)
        log.sealPendingSegments()
        #expect(log.segmentSummaries.filter(\.sealed).count >= 5)
        #expect(try log.records(from: LogPosition(0), limit: 1000).map(\.payload) == written.map(\.1))
        try log.close()
        #expect(Log.verify(path: dir.path).isEmpty)
    }
}
