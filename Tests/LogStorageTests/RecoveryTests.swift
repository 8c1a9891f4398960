import Foundation
import Testing
@testable import LogStorage

@Suite("Recovery and corruption")
struct RecoveryTests {
    /// A log of `batches` batches of 3 records, closed; returns the active segment's path.
    private func makeLog(_ dir: TemporaryDirectory, batches: Int = 5) async throws -> String {
        let log = try Log.open(path: dir.path, configuration: .small())
        for b in 0..<batches {
            _ = try await log.append((0..<3).map { AppendRequest(key: key("order-\($0)"), type: RecordType(1), payload: testPayload(key: "o", n: b * 3 + $0)) })
        }
        try log.close()
        return dir.files(withExtension: "log").last!
    }

    @Test("truncating the last batch at every byte offset leaves exactly the complete batches")
    func tornTailAtEveryOffset() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir)
        let original = readFile(path)
        let offsets = recordOffsets(path)
        let lastBatchStart = offsets[offsets.count - 3]
        for cut in lastBatchStart..<original.count {
            // As a crash before the last batch's fsync leaves it: durable up to that batch.
            writeFile(path, Array(original[0..<cut]))
            setDurableBytes(path, lastBatchStart)
            let log = try Log.open(path: dir.path, configuration: .small())
            #expect(log.endPosition == LogPosition(12), "cut at \(cut)")
            #expect(try log.records(forKey: key("order-0")).count == 4)
            try log.close()
            #expect(readFile(path).count == lastBatchStart)
        }
    }

    @Test("cutting a file short of its durable length is refused, naming the file")
    func truncationBeforeDurablePointRefused() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir)
        let original = readFile(path)
        let offsets = recordOffsets(path)
        for cut in [offsets[4], offsets[4] + 10, original.count - 1] {
            writeFile(path, Array(original[0..<cut]))
            do {
                _ = try Log.open(path: dir.path, configuration: .small())
                Issue.record("opened a log cut at \(cut), before its durable point")
            } catch let error as LogError {
                #expect(error.code == .corruption)
                #expect(error.file == path)
            }
            #expect(readFile(path).count == cut, "a refused open changes nothing")
        }
    }

    @Test("verify names the durable length the commit slot holds, as open does, when the file was cut short of it")
    func verifyNamesTheRecordedDurableLength() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir, batches: 1)
        let original = readFile(path)
        writeFile(path, Array(original[0..<(original.count - 10)]))
        let problems = Log.verify(path: dir.path)
        #expect(problems.contains { $0.message.contains("but \(original.count) were recorded as durable") }, "\(problems)")
        do {
            _ = try Log.open(path: dir.path, configuration: .small())
            Issue.record("opened a cut log")
        } catch let error as LogError {
            #expect(error.message.contains("\(original.count) were recorded as durable"))
        }
    }

    @Test("a flipped byte anywhere in a durable record is reported with its file and offset")
    func flippedByteInActiveSegment() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir)
        let original = readFile(path)
        let offsets = recordOffsets(path)
        let target = 7
        let start = offsets[target], end = offsets[target + 1]
        for i in start..<end {
            var damaged = original
            damaged[i] ^= 0x5A
            writeFile(path, damaged)
            do {
                _ = try Log.open(path: dir.path, configuration: .small())
                Issue.record("flip at \(i) not detected")
            } catch let error as LogError {
                #expect(error.code == .corruption, "flip at \(i)")
                #expect(error.file == path)
                #expect(error.offset == UInt64(start), "flip at \(i)")
            }
            let problems = Log.verify(path: dir.path)
            #expect(problems.contains { $0.file == path && $0.offset == UInt64(start) && $0.kind == .damagedRecord }, "flip at \(i)")
            #expect(readFile(path) == damaged, "nothing is cut when the damage is before the durable point")
        }
    }

    @Test("garbage appended after the last record is cut off at open")
    func appendedGarbage() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir)
        let original = readFile(path)
        for garbage in [[UInt8](repeating: 0, count: 100), [UInt8](repeating: 0xFF, count: 7), (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31) }] {
            writeFile(path, original + garbage)
            #expect(Log.verify(path: dir.path).map(\.kind) == [.tornTail])
            let log = try Log.open(path: dir.path, configuration: .small())
            #expect(log.endPosition == LogPosition(15))
            try log.close()
            #expect(readFile(path) == original)
            #expect(Log.verify(path: dir.path).isEmpty)
        }
    }

    @Test("deleted, damaged or stale index files are rebuilt identically")
    func indexRebuild() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 400, keys: 13)
        log.sealPendingSegments()
        let expected = try log.records(from: LogPosition(0), limit: 1000)
        try log.close()
        let indexes = dir.files(withExtension: "idx")
        #expect(indexes.count >= 3)
        let originals = indexes.map(readFile)

        try FileManager.default.removeItem(atPath: indexes[0])          // deleted
        var damaged = originals[1]; damaged[damaged.count / 2] ^= 1        // damaged
        writeFile(indexes[1], damaged)
        writeFile(indexes[2], Array(originals[2].prefix(70)))              // cut short
        #expect(Set(Log.verify(path: dir.path).map(\.kind)) == [.missingIndex, .damagedIndex])

        log = try Log.open(path: dir.path, configuration: .small())
        #expect(try log.records(from: LogPosition(0), limit: 1000) == expected)
        for k in 0..<13 { #expect(try log.records(forKey: key("order-\(k)")) == expected.filter { $0.key.string == "order-\(k)" }) }
        try log.close()
        #expect(indexes.map(readFile) == originals)
        #expect(Log.verify(path: dir.path).isEmpty)
    }

    @Test("a flipped byte in a sealed segment is detected by reads and by verify, naming the file")
    func flippedByteInSealedSegment() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 300, keys: 5)
        log.sealPendingSegments()
        try log.close()
        let seg = dir.files(withExtension: "seg")[1]
        let original = readFile(seg)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let i = Int.random(in: 0..<original.count, using: &generator)
            var damaged = original
            damaged[i] ^= UInt8.random(in: 1...255, using: &generator)
            writeFile(seg, damaged)
            let problems = Log.verify(path: dir.path)
            #expect(problems.contains { $0.file == seg }, "flip at \(i): \(problems)")
            do {
                log = try Log.open(path: dir.path, configuration: .small())
                defer { try? log.close() }
                try log.scan(from: LogPosition(0)) { _ in true }
                Issue.record("flip at \(i) in \(seg) read without error")
            } catch let error as LogError {
                #expect(error.code == .corruption, "flip at \(i)")
                #expect(error.file == seg, "flip at \(i)")
            }
        }
        writeFile(seg, original)
    }

    @Test("leftover temporary files are removed and a .log beside its .seg is dropped")
    func leftoversFromInterruptedSeal() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 200)
        try log.rollActiveSegment()
        let rolled = dir.files(withExtension: "log").first!
        let rolledBytes = readFile(rolled)
        log.sealPendingSegments()
        let expected = try log.records(from: LogPosition(0), limit: 1000)
        try log.close()
        // The crash came after the .seg was in place but before the .log was removed.
        writeFile(rolled, rolledBytes)
        writeFile(dir.file("00000000000000000999.seg.tmp"), [1, 2, 3])
        log = try Log.open(path: dir.path, configuration: .small())
        #expect(try log.records(from: LogPosition(0), limit: 1000) == expected)
        try log.close()
        #expect(!FileManager.default.fileExists(atPath: rolled))
        #expect(!FileManager.default.fileExists(atPath: dir.file("00000000000000000999.seg.tmp")))
    }

    @Test("a rolled segment that was never sealed is recovered and sealed on open")
    func unsealedRolledSegment() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 300)
        // Sealing never ran (background sealing is off and nobody asked).
        let expected = try log.records(from: LogPosition(0), limit: 1000)
        try log.close()
        #expect(dir.files(withExtension: "log").count > 1)
        log = try Log.open(path: dir.path, configuration: .small())
        log.sealPendingSegments()
        #expect(dir.files(withExtension: "log").count == 1)
        #expect(try log.records(from: LogPosition(0), limit: 1000) == expected)
        try log.close()
    }

    @Test("whole batches found past the durable point are fsynced and recorded as durable at open")
    func unsyncedTailMadeDurableAtOpen() async throws {
        let dir = TemporaryDirectory()
        let path = try await makeLog(dir)
        let size = readFile(path).count
        let offsets = recordOffsets(path)
        setDurableBytes(path, offsets[6])  // as a crash before the last fsyncs leaves it
        let log = try Log.open(path: dir.path, configuration: .small())
        #expect(log.endPosition == LogPosition(15))
        #expect(readFile(path)[48..<64] == SegmentFile.encodeCommitSlot(durableBytes: UInt64(size))[0..<16])
        try log.close()
    }

    @Test("a length field damaged while the log is open is reported by reads, never followed")
    func lengthDamagedUnderAnOpenLog() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 10, batchSize: 10)
        let path = dir.files(withExtension: "log").last!
        let offsets = recordOffsets(path)
        let handle = FileHandle(forUpdatingAtPath: path)!
        try handle.seek(toOffset: UInt64(offsets[9] + 4))
        try handle.write(contentsOf: [0x00, 0x00, 0xF0, 0x00])  // ~15.7 MB: far past the file's end
        try handle.close()
        do {
            _ = try log.record(at: LogPosition(9))
            Issue.record("read a record with a damaged length")
        } catch let error as LogError {
            #expect(error.code == .corruption)
            #expect(error.file == path)
        }
        #expect(throws: LogError.self) { try log.scan(from: LogPosition(0)) { _ in true } }
        #expect(try log.record(at: LogPosition(8)).position == LogPosition(8))
        try log.close()
    }

    @Test("a sealed header with impossible counts and a valid checksum is corruption, not a crash")
    func hostileSealedHeader() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 300)
        log.sealPendingSegments()
        try log.close()
        let seg = dir.files(withExtension: "seg")[0]
        var bytes = readFile(seg)
        var header = try bytes.withUnsafeBytes { try SegmentFile.decodeSegHeader($0, path: seg) }
        header.recordCount = UInt64.max - 5
        bytes.replaceSubrange(0..<64, with: SegmentFile.encodeSegHeader(header))
        writeFile(seg, bytes)
        #expect(!Log.verify(path: dir.path).isEmpty)
        do {
            _ = try Log.open(path: dir.path, configuration: .small())
            Issue.record("opened a log with an impossible sealed header")
        } catch let error as LogError {
            #expect(error.code == .corruption)
        }
    }

    @Test("a missing segment in the middle is a gap error, not silent loss")
    func missingSegmentIsGap() async throws {
        let dir = TemporaryDirectory()
        let log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 400)
        log.sealPendingSegments()
        try log.close()
        let missing = dir.files(withExtension: "seg")[1]
        try FileManager.default.removeItem(atPath: missing)
        let gap = Log.verify(path: dir.path).first { $0.kind == .gap }
        #expect(gap?.file == missing, "verify names the missing file, not its neighbour")
        do {
            _ = try Log.open(path: dir.path, configuration: .small())
            Issue.record("opened a log with a hole")
        } catch let error as LogError {
            #expect(error.file == missing)
            #expect(error.message.contains("are missing"))
        }
        // A refused open changed nothing: the missing segment's index is still there.
        #expect(FileManager.default.fileExists(atPath: missing.replacingOccurrences(of: ".seg", with: ".idx")))
    }

    @Test("a deleted newest segment is refused, naming it: HEAD says the log went further")
    func deletedNewestSegment() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        try await appendSample(log, count: 400)
        log.sealPendingSegments()
        try log.close()
        let newest = dir.files(withExtension: "log").last!
        try FileManager.default.removeItem(atPath: newest)
        #expect(Log.verify(path: dir.path).contains { $0.kind == .missingSegment && $0.file == newest })
        do {
            _ = try Log.open(path: dir.path, configuration: .small())
            Issue.record("opened a log whose newest segment was deleted")
        } catch let error as LogError {
            #expect(error.code == .corruption)
            #expect(error.file == newest)
        }
        // Even the first and only segment: a directory with HEAD once had it.
        let single = TemporaryDirectory()
        log = try Log.open(path: single.path, configuration: .small())
        try await appendSample(log, count: 3)
        try log.close()
        try FileManager.default.removeItem(atPath: single.files(withExtension: "log")[0])
        #expect(throws: LogError.self) { try Log.open(path: single.path, configuration: .small()) }
    }

    @Test("a damaged, missing or lagging HEAD is reported by verify and written again at open")
    func headRewritten() async throws {
        let dir = TemporaryDirectory()
        var log = try Log.open(path: dir.path, configuration: .small())
        let written = try await appendSample(log, count: 400)
        log.sealPendingSegments()
        try log.close()
        let head = dir.file("HEAD")
        let good = try Data(contentsOf: URL(fileURLWithPath: head))
        // Damaged.
        var bad = good
        bad[9] ^= 0xFF
        try bad.write(to: URL(fileURLWithPath: head))
        #expect(Log.verify(path: dir.path).contains { $0.file == head && $0.kind == .badHeader })
        log = try Log.open(path: dir.path, configuration: .small())
        #expect(log.endPosition.rawValue == UInt64(written.count))
        try log.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: head)) == good)
        // Missing.
        try FileManager.default.removeItem(atPath: head)
        #expect(Log.verify(path: dir.path).contains { $0.kind == .missingHead })
        log = try Log.open(path: dir.path, configuration: .small())
        try log.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: head)) == good)
        #expect(Log.verify(path: dir.path).isEmpty)
        // Lagging (a crash between creating a segment and writing HEAD): not an error.
        try Data(HeadFile.encode(newestBase: 0)).write(to: URL(fileURLWithPath: head))
        log = try Log.open(path: dir.path, configuration: .small())
        #expect(log.endPosition.rawValue == UInt64(written.count))
        try log.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: head)) == good)
    }
}
