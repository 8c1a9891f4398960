import Foundation
import LogStorage
import FuzzCorpusSupport
import Testing

/// The segment-reader fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness, so a change that brings a finding back fails `swift test`
/// without running the fuzzer. Seeds named `bad-*` are damaged on purpose.
@Suite("Segment reader fuzz corpus")
struct SegmentReaderFuzzCorpusTests {
    static let target = "segment-reader"

    @Test("the seed corpus is there")
    func corpusPresent() {
        #expect(!FuzzCorpus.inputs(Self.target, "corpus").isEmpty)
    }

    @Test("every seed and regression input verifies, opens and reads or fails with an error, never a trap",
          arguments: FuzzCorpus.inputs(target, "corpus") + FuzzCorpus.inputs(target, "regressions"))
    func noTrap(path: String) throws {
        let directory = TemporaryDirectory("fuzz")
        SegmentReaderFuzzHarness.run(try FuzzCorpus.bytes(path), directory: directory.path)
    }

    @Test("each valid seed verifies without damage and opens with its records",
          arguments: FuzzCorpus.inputs(target, "corpus").filter { !FuzzCorpus.isBad($0) })
    func validSeedsOpen(path: String) throws {
        let directory = TemporaryDirectory("fuzz")
        let outcome = SegmentReaderFuzzHarness.run(try FuzzCorpus.bytes(path), directory: directory.path)
        // A .seg seed without its .idx, or a seed without HEAD, is sound: open writes them.
        #expect(outcome.problems.allSatisfy { $0.kind == .missingIndex || $0.kind == .missingHead }, "\(outcome.problems)")
        #expect((outcome.records ?? 0) > 0)
    }

    /// Found while reviewing the reader for this target, not by the fuzzer: it takes three
    /// files, which one harness input cannot describe. A .seg and .idx claiming 2^40 - 1
    /// records (256 blocks of 2^32 - 1 that open never decompresses, then a real one), and a
    /// .log at base 2^40 - 1 holding two records: the second is at position 2^40.
    @Test("a .log whose records run past position 2^40 - 1 is refused at open, not trapped on")
    func logPastPositionLimit() throws {
        typealias H = SegmentReaderFuzzHarness
        let directory = TemporaryDirectory("fuzz")
        let total = LogPosition.limit.rawValue - 1
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        func record(_ position: UInt64, sequence: UInt32, batchEnd: Bool) -> [UInt8] {
            var r = le(0, 4) + le(42, 4) + le(position, 8) + le(.max, 8) + le(1000, 8) + le(UInt64(sequence), 4) + le(1, 2)
            r += [2, batchEnd ? 1 : 0] + Array("k1".utf8)
            H.put32(&r, 0, H.crc32c(r[4...]))
            return r
        }
        // Blocks: (first position, record count, raw records or nil for a stand-in).
        var blocks: [(UInt64, UInt64, [UInt8]?)] = (0..<256).map { (UInt64($0) * 0xFFFF_FFFF, 0xFFFF_FFFF, nil) }
        let lastFirst = 256 * UInt64(0xFFFF_FFFF)
        blocks.append((lastFirst, total - lastFirst, (lastFirst..<total).flatMap { record($0, sequence: 1, batchEnd: true) }))
        var body: [UInt8] = [], table: [UInt8] = []
        for (first, count, raw) in blocks {
            let compressed = raw.map(H.lz4Literals) ?? [0]
            var block = le(0, 4) + le(UInt64(compressed.count), 4) + le(UInt64(raw?.count ?? 41), 4) + le(count, 4) + le(first, 8) + le(1000, 8) + compressed
            H.put32(&block, 0, H.crc32c(block[4...]))
            table += le(UInt64(64 + body.count), 8) + le(first, 8) + le(1000, 8) + block[4..<16] + le(0, 4)
            body += block
        }
        var seg = Array("ORDLOG-Z".utf8) + le(1, 4) + le(1, 4) + le(0, 8) + le(total, 8) + le(0, 8) + le(UInt64(blocks.count), 4) + le(512, 4) + le(0, 16)
        H.put32(&seg, 60, H.crc32c(seg[0..<60]))
        let segChecksum = seg[60..<64]
        seg += body
        var idx = Array("ORDLOG-I".utf8) + le(1, 4) + le(0, 4) + le(0, 8) + le(total, 8) + le(UInt64(seg.count), 8) + segChecksum + le(UInt64(blocks.count), 4) + le(0, 16)
        H.put32(&idx, 60, H.crc32c(idx[0..<60]))
        idx += table + le(UInt64(H.crc32c(table[...])), 4)
        var log = H.emptyLog(base: total) + record(total, sequence: 2, batchEnd: false) + record(total + 1, sequence: 3, batchEnd: true)
        H.fixLog(&log)
        H.save(seg, directory.path, 0, "seg")
        H.save(idx, directory.path, 0, "idx")
        H.save(log, directory.path, total, "log")

        let error = #expect(throws: LogError.self) { try Log.open(path: directory.path, configuration: H.configuration) }
        #expect(error?.code == .corruption && error?.message.contains("past the log's limit") == true, "\(String(describing: error))")
    }
}

