import Foundation
import LogStorage
import OrderModel

/// The running totals as they stood at log positions along the way (`checkpoints/totals.marks`,
/// docs/FORMAT.md §14): what "totals as of a time" starts from, so that query replays only
/// the events between the nearest mark at or before the time and the time — not the log from
/// its start.
///
/// A mark is derived data, like a checkpoint: appended without an fsync, checksummed, carrying
/// the fingerprints of records 0 and P−1 of the log it counted, and used only once both hold.
/// A file that does not read to its end (a torn append) is cut at its last whole mark; a mark
/// beyond the log's end or of other records (the log's tail was lost and written again) is
/// passed over. Losing marks costs a longer replay, never a wrong answer.
enum TotalsMarks {
    static let fileName = "totals.marks"
    /// "OLTM", little-endian.
    static let magic: UInt32 = 0x4D54_4C4F
    /// Limits on what is read back (a mark counts a few dozen rows).
    static let markBytesMax = 16 << 20
    static let rowsMax = 4096
    static let textBytesMax = EventLimits.stringBytesMax
    /// The file is read whole at open; beyond this it is not read (and a new one is started).
    static let fileBytesMax = 256 << 20

    /// The totals of every event before `position`.
    struct Mark: Sendable, Equatable {
        var position: UInt64
        /// Checksums of records 0 and `position − 1` (see `CheckpointFile.fingerprints`).
        var firstChecksum: UInt32
        var lastChecksum: UInt32
        /// Rows with at least one order, as `RunningTotals.current` gives them.
        var rows: [TotalsRow]
    }

    /// One mark's bytes: magic, body length, body (position, fingerprints, rows), CRC32C of
    /// all before it.
    static func encode(_ m: Mark) -> [UInt8] {
        var out = ByteWriter()
        out.u32(magic); out.u32(0)
        out.u64(m.position); out.u32(m.firstChecksum); out.u32(m.lastChecksum); out.u32(UInt32(m.rows.count))
        for r in m.rows {
            out.text32(r.currency); out.text32(r.channel)
            out.u64(UInt64(bitPattern: Int64(r.orders))); out.u64(UInt64(bitPattern: r.total))
            out.u64(UInt64(bitPattern: r.captured)); out.u64(UInt64(bitPattern: r.refunded))
        }
        let length = UInt32(out.bytes.count - 8)
        withUnsafeBytes(of: length.littleEndian) { for k in 0..<4 { out.bytes[4 + k] = $0[k] } }
        out.u32(out.bytes.withUnsafeBytes { CheckpointFile.crc($0) })
        return out.bytes
    }

    /// The marks `b` holds, in file order, up to the first that does not read; and the
    /// length of that whole-marks prefix.
    static func decode(_ b: UnsafeRawBufferPointer) -> (marks: [Mark], validBytes: Int) {
        var marks: [Mark] = []
        var at = 0
        while at + 12 <= b.count {
            guard b.u32(at) == magic else { break }
            let length = Int(b.u32(at + 4))
            guard length >= 20, length <= markBytesMax, at + 8 + length + 4 <= b.count else { break }
            let framed = UnsafeRawBufferPointer(rebasing: b[at..<(at + 8 + length)])
            guard b.u32(at + 8 + length) == CheckpointFile.crc(framed) else { break }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: framed[8...]))
            let position = r.u64(), first = r.u32(), last = r.u32(), count = Int(r.u32())
            guard position > 0, count <= rowsMax else { break }
            var rows: [TotalsRow] = []
            for _ in 0..<count {
                guard let currency = r.text32(), let channel = r.text32(), currency.utf8.count <= textBytesMax, channel.utf8.count <= textBytesMax,
                      let orders = r.u64Checked(), let total = r.u64Checked(), let captured = r.u64Checked(), let refunded = r.u64Checked(),
                      orders <= position else { break }
                rows.append(TotalsRow(currency: currency, channel: channel, orders: Int(orders), total: Int64(bitPattern: total),
                                      captured: Int64(bitPattern: captured), refunded: Int64(bitPattern: refunded)))
            }
            guard rows.count == count, !r.failed, r.atEnd else { break }
            // Sorted by (currency, channel), each once: what a mark is written as.
            guard zip(rows, rows.dropFirst()).allSatisfy({ ($0.currency, $0.channel) < ($1.currency, $1.channel) }) else { break }
            marks.append(Mark(position: position, firstChecksum: first, lastChecksum: last, rows: rows))
            at += 8 + length + 4
        }
        return (marks, at)
    }

    /// The marks of the file at `path` (none if it is missing or too large), and whether the
    /// file holds anything else (a torn or damaged tail).
    static func read(path: String) -> (marks: [Mark], clean: Bool) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], true) }
        guard data.count <= fileBytesMax else { return ([], false) }
        let (marks, valid) = data.withUnsafeBytes { decode($0) }
        return (marks, valid == data.count)
    }

    /// What is wrong with the file at `path`, if anything: bytes after its last whole mark
    /// (a torn append, or damage), or a size past what is read. A missing file, or one of
    /// whole marks, has nothing wrong (marks are derived: fewer only cost a longer replay).
    static func problem(path: String) -> CheckpointProblem? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count <= fileBytesMax else {
            return CheckpointProblem(file: path, kind: .damaged, message: "\(data.count) bytes: more than the \(fileBytesMax) read")
        }
        let (marks, valid) = data.withUnsafeBytes { decode($0) }
        guard valid < data.count else { return nil }
        return CheckpointProblem(file: path, kind: .damaged, message: "\(marks.count) whole mark(s), then \(data.count - valid) bytes at offset \(valid) that do not read as one (a torn append, or damage)")
    }

    /// The marks of `read` that fit `log`: within its end, with its fingerprints; sorted by
    /// position, one a position.
    static func fitting(_ marks: [Mark], log: Log) -> [Mark] {
        var out: [Mark] = []
        for m in marks.sorted(by: { $0.position < $1.position }) where out.last?.position != m.position {
            guard let prints = CheckpointFile.fingerprints(of: log, at: m.position), prints == (m.firstChecksum, m.lastChecksum) else { continue }
            out.append(m)
        }
        return out
    }

    /// Replaces the file with `marks` (temporary name, rename): how open drops marks that do
    /// not fit before appending new ones.
    static func rewrite(_ marks: [Mark], path: String) throws {
        let temporary = path + ".tmp"
        let bytes = marks.flatMap(encode)
        guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
            throw StoreError(.storage, "could not write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StoreError(.storage, "could not rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    /// Appends `marks` to the file (created if missing). No fsync: a mark is derived and
    /// checked against the log before use.
    static func append(_ marks: [Mark], path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError(.storage, "could not open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = marks.flatMap(encode)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw StoreError(.storage, "could not append to \(path): \(String(cString: strerror(errno)))") }
    }
}
