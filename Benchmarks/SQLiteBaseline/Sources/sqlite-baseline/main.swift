import CSQLite
import Foundation

// The SQLite yardstick of docs/BENCHMARKS.md (issue 11): what a shop would get by putting the
// same order events in SQLite, measured on the same file in the same run as OrderLog.
//
//   sqlite-baseline FILE [--db PATH] [--batch 1000] [--samples 10000]
//
// 1. load: every JSONL line into `events(pos INTEGER PRIMARY KEY, order_id, seq, type, ts, data)`
//    with an index on (order_id, seq), WAL, synchronous=FULL (each committed batch is durable, as
//    OrderLog's fsync `always`), batches of 1,000 in one transaction each. `seq` is the order's
//    event count so far; `data` is the whole line as text. Only the top-level `order_id`, `type`
//    and `ts` strings are picked out of each line (a byte scan, not a JSON parse: the yardstick
//    does not pay for validation OrderLog does).
// 2. history: the full history of `--samples` orders chosen at random, one query each
//    (`WHERE order_id = ? ORDER BY seq`), with p50/p99 latency.
// 3. replay: every row in position order (`ORDER BY pos`), reading pos, order_id, seq and the
//    JSON text's length (it parses nothing: a lower bound for any replay of the data).
//
// Prints one line per phase: `sqlite load: N events in S s (R events/s)`, and so on.

struct Failure: Error, CustomStringConvertible { var description: String }

func check(_ code: Int32, _ db: OpaquePointer?, _ what: String) throws {
    guard code == SQLITE_OK || code == SQLITE_DONE || code == SQLITE_ROW else {
        throw Failure(description: "\(what): \(String(cString: sqlite3_errmsg(db)))")
    }
}

/// The string value of top-level key `key` in a JSON line: the bytes between the quotes after
/// `"key":`. The generated lines never escape these values.
func field(_ line: ArraySlice<UInt8>, _ key: [UInt8]) -> ArraySlice<UInt8>? {
    var i = line.startIndex
    let end = line.endIndex
    while i + key.count + 3 < end {
        if line[i] == 0x22, line[(i + 1)..<(i + 1 + key.count)].elementsEqual(key), line[i + 1 + key.count] == 0x22, line[i + 2 + key.count] == 0x3A {
            var j = i + 3 + key.count
            while j < end && line[j] == 0x20 { j += 1 }
            guard j < end, line[j] == 0x22 else { return nil }
            let start = j + 1
            var k = start
            while k < end && line[k] != 0x22 { k += 1 }
            return line[start..<k]
        }
        i += 1
    }
    return nil
}

var arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String, _ fallback: String) -> String {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return fallback }
    let value = arguments[i + 1]
    arguments.removeSubrange(i...(i + 1))
    return value
}
let dbPath = option("--db", NSTemporaryDirectory() + "sqlite-baseline-\(getpid()).db")
let batch = Int(option("--batch", "1000")) ?? 1000
let samples = Int(option("--samples", "10000")) ?? 10_000
guard let file = arguments.first else {
    FileHandle.standardError.write(Data("usage: sqlite-baseline FILE [--db PATH] [--batch 1000] [--samples 10000]\n".utf8))
    exit(2)
}
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dbPath + suffix) }
defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: dbPath + suffix) } }

let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

do {
    guard let contents = FileManager.default.contents(atPath: file) else { throw Failure(description: "cannot read \(file)") }
    let bytes = [UInt8](contents)

    var db: OpaquePointer?
    try check(sqlite3_open(dbPath, &db), db, "open")
    for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"] {
        try check(sqlite3_exec(db, pragma, nil, nil, nil), db, pragma)
    }
    try check(sqlite3_exec(db, "CREATE TABLE events(pos INTEGER PRIMARY KEY, order_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, ts TEXT, data TEXT NOT NULL)", nil, nil, nil), db, "create")
    try check(sqlite3_exec(db, "CREATE INDEX events_order ON events(order_id, seq)", nil, nil, nil), db, "index")
    var insert: OpaquePointer?
    try check(sqlite3_prepare_v2(db, "INSERT INTO events(pos, order_id, seq, type, ts, data) VALUES (?, ?, ?, ?, ?, ?)", -1, &insert, nil), db, "prepare")

    // 1. Load.
    let orderKey = Array("order_id".utf8), typeKey = Array("type".utf8), tsKey = Array("ts".utf8)
    var seqs: [String: Int64] = [:]
    var orderIDs: [String] = []
    var pos: Int64 = 0
    var inBatch = 0
    let started = Date()
    try check(sqlite3_exec(db, "BEGIN", nil, nil, nil), db, "begin")
    var lineStart = 0
    while lineStart < bytes.count {
        let lineEnd = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
        let line = bytes[lineStart..<lineEnd]
        lineStart = lineEnd + 1
        guard !line.isEmpty, let orderBytes = field(line, orderKey), let typeBytes = field(line, typeKey) else { continue }
        let orderID = String(decoding: orderBytes, as: UTF8.self)
        let seq = (seqs[orderID] ?? 0) + 1
        if seq == 1 { orderIDs.append(orderID) }
        seqs[orderID] = seq
        sqlite3_bind_int64(insert, 1, pos)
        sqlite3_bind_text(insert, 2, orderID, -1, SQLITE_TRANSIENT)
        sqlite3_bind_int64(insert, 3, seq)
        typeBytes.withUnsafeBufferPointer { p in _ = sqlite3_bind_text(insert, 4, UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(p.count), SQLITE_TRANSIENT) }
        if let ts = field(line, tsKey) {
            ts.withUnsafeBufferPointer { p in _ = sqlite3_bind_text(insert, 5, UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(p.count), SQLITE_TRANSIENT) }
        } else {
            sqlite3_bind_null(insert, 5)
        }
        line.withUnsafeBufferPointer { p in _ = sqlite3_bind_text(insert, 6, UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(p.count), SQLITE_TRANSIENT) }
        try check(sqlite3_step(insert), db, "insert at line \(pos + 1)")
        sqlite3_reset(insert)
        pos += 1
        inBatch += 1
        if inBatch == batch {
            try check(sqlite3_exec(db, "COMMIT", nil, nil, nil), db, "commit")
            try check(sqlite3_exec(db, "BEGIN", nil, nil, nil), db, "begin")
            inBatch = 0
        }
    }
    try check(sqlite3_exec(db, "COMMIT", nil, nil, nil), db, "commit")
    let loadSeconds = Date().timeIntervalSince(started)
    print(String(format: "sqlite load: %d events of %d orders in %.2f s (%.0f events/s), WAL, synchronous=FULL, batches of %d", pos, orderIDs.count, loadSeconds, Double(pos) / loadSeconds, batch))
    sqlite3_finalize(insert)

    // 2. Full histories of sampled orders.
    var select: OpaquePointer?
    try check(sqlite3_prepare_v2(db, "SELECT pos, seq, type, ts, data FROM events WHERE order_id = ? ORDER BY seq", -1, &select, nil), db, "prepare")
    var rng = SystemRandomNumberGenerator()
    var latencies: [Double] = []
    var rows = 0
    latencies.reserveCapacity(samples)
    for _ in 0..<samples where !orderIDs.isEmpty {
        let id = orderIDs[Int.random(in: 0..<orderIDs.count, using: &rng)]
        let t0 = DispatchTime.now().uptimeNanoseconds
        sqlite3_bind_text(select, 1, id, -1, SQLITE_TRANSIENT)
        while sqlite3_step(select) == SQLITE_ROW {
            _ = sqlite3_column_int64(select, 0)
            _ = sqlite3_column_text(select, 4)
            rows += 1
        }
        sqlite3_reset(select)
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
    }
    sqlite3_finalize(select)
    latencies.sort()
    if !latencies.isEmpty {
        print(String(format: "sqlite history: %d orders, %d events, p50 %.1f µs, p99 %.1f µs", latencies.count, rows, latencies[latencies.count / 2], latencies[latencies.count * 99 / 100]))
    }

    // 3. Replay in position order.
    var scan: OpaquePointer?
    try check(sqlite3_prepare_v2(db, "SELECT pos, order_id, seq, type, ts, data FROM events ORDER BY pos", -1, &scan, nil), db, "prepare")
    let replayStarted = Date()
    var replayed = 0
    var bytesRead = 0
    while sqlite3_step(scan) == SQLITE_ROW {
        _ = sqlite3_column_int64(scan, 0)
        _ = sqlite3_column_text(scan, 1)
        _ = sqlite3_column_int64(scan, 2)
        bytesRead += Int(sqlite3_column_bytes(scan, 5))
        replayed += 1
    }
    sqlite3_finalize(scan)
    let replaySeconds = Date().timeIntervalSince(replayStarted)
    print(String(format: "sqlite replay: %d events in %.2f s (%.0f events/s, %.0f MB of JSON)", replayed, replaySeconds, Double(replayed) / replaySeconds, Double(bytesRead) / 1e6))
    sqlite3_close(db)
} catch {
    FileHandle.standardError.write(Data("sqlite-baseline: \(error)\n".utf8))
    exit(1)
}
