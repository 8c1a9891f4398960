import Foundation
import LogStorage

/// What the `segment-reader` fuzz target (Fuzz/, tools/fuzz) does with one input: write it
/// into an empty directory as segment files, then verify, open and read that log through the
/// public `Log` API. It lives here, and Fuzz/ links it in, so `swift test` replays every
/// corpus and regression file through exactly the code the fuzzer ran.
///
/// The input is one option byte, then the file:
///
///     0x01  the file is a sealed segment (.seg); else an unsealed one (.log)
///     0x02  fix every checksum the harness can find before writing it (headers, commit slot,
///           .log records, .seg dictionary and blocks, .idx header and body), so mutations
///           get past the checksums to the checks behind them
///     0x04  (.seg) blocks are given decompressed: each a 32-byte block header and then its
///           raw length of record bytes, stored as one LZ4 literal run (with 0x02, the records'
///           checksums fixed too)
///     0x08  (.seg) an index follows: a u32 (LE) length of the .seg, the .seg, then the .idx
///     0x10  (.seg) a .log holding only a header sits beside the .seg, as a crash between
///           sealing and removing the .log leaves it
///     0x20  a valid HEAD names the segment's base, as the log writes it (without one, the
///           directory looks like a log from before HEAD existed)
///
/// Files are named after the base position in their header, so the name-against-header checks
/// are reached too. Errors and listed problems are the reader's answer to bad bytes and are
/// fine. A trap is a finding: the reader's own (overflow, out-of-bounds, precondition) or one
/// of the preconditions below, which state what must hold whatever the bytes.
enum SegmentReaderFuzzHarness {
    struct Outcome {
        var problems: [LogProblem]
        /// The records the first open found, or nil if it refused the directory.
        var records: UInt64?
    }

    static var configuration: LogConfiguration {
        var c = LogConfiguration()
        c.segmentBytesMax = 64 << 10
        c.batchBytesMax = 16 << 10
        c.payloadBytesMax = 4 << 10
        c.blockBytesTarget = 512
        c.dictionaryBytesTarget = 1 << 10
        c.durability = .none  // no flusher thread; nothing here needs the fsyncs
        c.sealsInBackground = false
        c.blockCacheBytesMax = 256 << 10
        return c
    }

    /// Runs every check on `input` in `directory` (created if missing, emptied first).
    @discardableResult
    static func run(_ input: [UInt8], directory: String) -> Outcome {
        let files = FileManager.default
        try? files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in (try? files.contentsOfDirectory(atPath: directory)) ?? [] {
            try? files.removeItem(atPath: directory + "/" + name)
        }
        write(input, to: directory)

        let problems = Log.verify(path: directory)
        var records: UInt64?
        if let log = try? Log.open(path: directory, configuration: configuration) {
            records = log.endPosition.rawValue
            read(log)
            try? log.close()
            // Recovery left the directory consistent: it opens again, with the same records.
            do {
                let again = try Log.open(path: directory, configuration: configuration)
                precondition(again.endPosition.rawValue == records, "reopened with \(again.endPosition) records, not \(records!)")
                try? again.close()
            } catch {
                preconditionFailure("a log that opened once does not open again: \(error)")
            }
        }
        return Outcome(problems: problems, records: records)
    }

    /// Every read the API offers: a full scan, each record by position, each key's chain,
    /// time lookups.
    static func read(_ log: Log) {
        let end = log.endPosition
        var keys: [LogKey] = []
        var times: [RecordTimestamp] = [RecordTimestamp(rawValue: .min), RecordTimestamp(rawValue: .max)]
        var visited: UInt64 = 0
        let scanned = try? log.scan(from: LogPosition(0)) { view in
            visited += 1
            if keys.count < 16, let key = try? LogKey(bytes: Array(view.keyBytes)), !keys.contains(key) { keys.append(key) }
            if times.count < 8 { times.append(view.recordedAt) }
            return true
        }
        if let scanned {
            precondition(scanned == end && visited == end.rawValue, "a scan that did not fail visited \(visited) of \(end) records")
        }
        for p in 0..<end.rawValue { _ = try? log.record(at: LogPosition(p)) }
        for key in keys {
            _ = log.head(forKey: key)
            _ = try? log.records(forKey: key)
        }
        for t in times { _ = try? log.firstPosition(recordedAtOrAfter: t) }
        _ = try? log.records(from: LogPosition(end.rawValue / 2), limit: 3)
    }

    // MARK: - Input to files

    static func write(_ input: [UInt8], to directory: String) {
        let options = input.first ?? 0
        let rest = Array(input.dropFirst())
        let fix = options & 0x02 != 0
        guard options & 0x01 != 0 else {
            var log = rest
            if fix { fixLog(&log) }
            save(log, directory, base(log), "log")
            if options & 0x20 != 0 { saveHead(directory, base(log)) }
            return
        }
        var seg = rest, idx: [UInt8]?
        if options & 0x08 != 0 {
            let length = rest.count >= 4 ? Int(u32(rest, 0)) : 0
            let segEnd = min(rest.count, 4 + length)
            seg = Array(rest[min(4, rest.count)..<segEnd])
            idx = Array(rest[segEnd...])
        }
        if options & 0x04 != 0 { seg = literalBlocks(seg, fixRecords: fix) }
        if fix {
            fixSeg(&seg)
            if idx != nil { fixIndex(&idx!) }
        }
        let b = base(seg)
        save(seg, directory, b, "seg")
        if let idx { save(idx, directory, b, "idx") }
        if options & 0x10 != 0 { save(emptyLog(base: b), directory, b, "log") }
        if options & 0x20 != 0 { saveHead(directory, b) }
    }

    /// The base position in a segment header (both kinds keep it at offset 16), or 0 when it
    /// holds none the log could have.
    static func base(_ file: [UInt8]) -> UInt64 {
        guard file.count >= 24 else { return 0 }
        let b = u64(file, 16)
        return b < LogPosition.limit.rawValue ? b : 0
    }

    static func save(_ bytes: [UInt8], _ directory: String, _ base: UInt64, _ ext: String) {
        let digits = String(base)
        let name = String(repeating: "0", count: 20 - digits.count) + digits + "." + ext
        let path = directory + "/" + name
        // A harness that cannot write would test nothing, silently.
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
    }

    /// HEAD naming `base` (docs/FORMAT.md §2).
    static func saveHead(_ directory: String, _ base: UInt64) {
        var head = Array("OLHEAD01".utf8) + (0..<8).map { UInt8(truncatingIfNeeded: base >> (8 * UInt64($0))) }
        let crc = crc32c(head[0..<16])
        head += (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * UInt32($0))) }
        let path = directory + "/HEAD"
        precondition(FileManager.default.createFile(atPath: path, contents: Data(head)), "cannot write \(path)")
    }

    /// A `.log` header with no records (docs/FORMAT.md §4).
    static func emptyLog(base: UInt64) -> [UInt8] {
        var f = Array("ORDLOG-A".utf8) + [UInt8](repeating: 0, count: 56)
        put32(&f, 8, 1)
        for k in 0..<8 { f[16 + k] = UInt8(truncatingIfNeeded: base >> (8 * UInt64(k))) }
        f[48] = 64
        fixLog(&f)
        return f
    }

    // MARK: - Checksums (docs/FORMAT.md §1, §3–§6)

    static func fixLog(_ f: inout [UInt8]) {
        guard f.count >= 64 else { return }
        put32(&f, 32, crc32c(f[0..<32]))
        put32(&f, 56, crc32c(f[48..<56]))
        fixRecords(&f, from: 64)
    }

    /// Fixes the checksum of each record from `offset` while their lengths chain inside `f`.
    static func fixRecords(_ f: inout [UInt8], from offset: Int) {
        var offset = offset
        while f.count - offset >= 40 {
            let length = Int(u32(f, offset + 4))
            guard length >= 41, length <= f.count - offset else { return }
            put32(&f, offset, crc32c(f[(offset + 4)..<(offset + length)]))
            offset += length
        }
    }

    static func fixSeg(_ f: inout [UInt8]) {
        guard f.count >= 64 else { return }
        let blocks = 64 + Int(u32(f, 48))
        if blocks <= f.count { put32(&f, 52, crc32c(f[64..<blocks])) }
        put32(&f, 60, crc32c(f[0..<60]))
        var offset = blocks
        while f.count - offset >= 32 {
            let compressed = Int(u32(f, offset + 4))
            guard compressed > 0, compressed <= f.count - offset - 32 else { return }
            put32(&f, offset, crc32c(f[(offset + 4)..<(offset + 32 + compressed)]))
            offset += 32 + compressed
        }
    }

    static func fixIndex(_ f: inout [UInt8]) {
        guard f.count >= 68 else { return }
        put32(&f, 60, crc32c(f[0..<60]))
        put32(&f, f.count - 4, crc32c(f[64..<(f.count - 4)]))
    }

    /// Blocks given as header and raw records, turned into header and LZ4 block; the rest of
    /// the file (header, dictionary, a tail shorter than a block header) is kept as it is.
    static func literalBlocks(_ f: [UInt8], fixRecords fix: Bool) -> [UInt8] {
        guard f.count >= 64 else { return f }
        var offset = min(f.count, 64 + Int(u32(f, 48)))
        var out = Array(f[0..<offset])
        while f.count - offset >= 32 {
            var header = Array(f[offset..<(offset + 32)])
            let rawLength = min(Int(u32(header, 8)), f.count - offset - 32)
            var raw = Array(f[(offset + 32)..<(offset + 32 + rawLength)])
            if fix { fixRecords(&raw, from: 0) }
            let compressed = lz4Literals(raw)
            put32(&header, 4, UInt32(compressed.count))
            put32(&header, 8, UInt32(raw.count))
            out += header + compressed
            offset += 32 + rawLength
        }
        return out + f[offset...]
    }

    /// `raw` as an LZ4 block of one sequence holding only literals (docs/FORMAT.md §5).
    static func lz4Literals(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(min(raw.count, 15)) << 4]
        if raw.count >= 15 {
            var rest = raw.count - 15
            while rest >= 255 { out.append(255); rest -= 255 }
            out.append(UInt8(rest))
        }
        return out + raw
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func crc32c(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func u32(_ f: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(f[at + $1]) << (8 * UInt32($1)) }
    }

    static func u64(_ f: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(f[at + $1]) << (8 * UInt64($1)) }
    }

    static func put32(_ f: inout [UInt8], _ at: Int, _ v: UInt32) {
        for k in 0..<4 { f[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }
}
