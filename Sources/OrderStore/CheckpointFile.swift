import CCRC32C
import Foundation
import LogStorage
import OrderModel

#if canImport(Glibc)
import Glibc
#endif

/// A checkpoint: every order's state as of a log position, in one file (docs/FORMAT.md §13).
/// Open loads the newest valid one and replays only the log after it; nothing in one is
/// trusted before its checksums, its layout and its fingerprints of the log all agree.
///
/// This type is the file format alone — names, bytes, checks; `OrderStore+Checkpoint.swift`
/// decides when to write one and what goes in.
enum CheckpointFile {
    /// The checkpoints' directory inside the store's: the log ignores it.
    static let directoryName = "checkpoints"
    static let magic = Array("ORDCKPT1".utf8)
    static let endMagic = Array("ORDCKEND".utf8)
    static let formatVersion: UInt32 = 1
    static let headerBytes = 64
    static let trailerBytes = 24
    /// An entry's order id: 1…64 bytes (a log key).
    static let idBytesMax = 64

    /// The header's facts.
    struct Header: Equatable, Sendable {
        /// The checkpoint holds the state after records `0 ..< position`.
        var position: UInt64
        var orders: UInt64
        /// The stored CRC32C of record 0 and of record `position − 1`: which log, and how far.
        var firstChecksum: UInt32
        var lastChecksum: UInt32
        /// When it was written, µs since the Unix epoch.
        var writtenAt: Int64
    }

    typealias Problem = CheckpointProblem

    static func name(position: UInt64) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".ckpt"
    }

    /// The position a checkpoint file's name gives, or nil for another name.
    static func position(ofName name: String) -> UInt64? {
        guard name.count == 25, name.hasSuffix(".ckpt") else { return nil }
        let digits = name.prefix(20)
        guard digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(digits)
    }

    /// The checkpoint files in `directory`, newest (largest position) first.
    static func list(_ directory: String) -> [(position: UInt64, path: String)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.compactMap { n in position(ofName: n).map { ($0, directory + "/" + n) } }.sorted { $0.position > $1.position }
    }

    static func crc(_ bytes: UnsafeRawBufferPointer, _ seed: UInt32 = 0) -> UInt32 {
        orderlog_crc32c_extend(seed, bytes.baseAddress, bytes.count)
    }

    static func encodeHeader(_ h: Header) -> [UInt8] {
        var out = magic
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        u32(formatVersion); u32(OrderSnapshot.storedStateLayout)
        u64(h.position); u64(h.orders)
        u32(h.firstChecksum); u32(h.lastChecksum)
        u64(UInt64(bitPattern: h.writtenAt))
        out.append(contentsOf: repeatElement(0, count: 60 - out.count))
        u32(out.withUnsafeBytes { crc($0) })
        return out
    }

    static func decodeHeader(_ b: UnsafeRawBufferPointer) -> Header? {
        guard b.count >= headerBytes, Array(b[0..<8]) == magic else { return nil }
        guard b.loadUnaligned(fromByteOffset: 60, as: UInt32.self).littleEndian == crc(UnsafeRawBufferPointer(rebasing: b[0..<60])) else { return nil }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard u32(8) == formatVersion, u32(12) == OrderSnapshot.storedStateLayout else { return nil }
        return (Header(position: u64(16), orders: u64(24), firstChecksum: u32(32), lastChecksum: u32(36), writtenAt: Int64(bitPattern: u64(40))))
    }

    /// Appends one entry — the order id and its stored state, framed and checksummed.
    static func appendEntry(_ snapshot: OrderSnapshot, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: [0, 0, 0, 0])  // length, set below
        let id = snapshot.orderID.value.utf8
        out.append(UInt8(id.count))
        out.append(contentsOf: id)
        snapshot.appendStoredState(to: &out)
        let length = UInt32(out.count - start - 4)
        withUnsafeBytes(of: length.littleEndian) { l in for k in 0..<4 { out[start + k] = l[k] } }
        let sum = out.withUnsafeBytes { crc(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
    }

    static func encodeTrailer(orders: UInt64) -> [UInt8] {
        var out = endMagic
        withUnsafeBytes(of: orders.littleEndian) { out.append(contentsOf: $0) }
        let sum = out.withUnsafeBytes { crc($0) }
        withUnsafeBytes(of: sum.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: [0, 0, 0, 0])
        return out
    }

    /// One entry read in place: its bytes (length field to checksum, for copying verbatim),
    /// the id's bytes and the stored state's.
    struct EntryView {
        var whole: UnsafeRawBufferPointer
        var id: UnsafeRawBufferPointer
        var state: UnsafeRawBufferPointer
    }

    struct EntryProblem: Error { var message: String }

    /// Reads the entry at `offset` of `b` (the whole file); checks its frame and checksum.
    static func entry(in b: UnsafeRawBufferPointer, at offset: Int) -> Result<EntryView, EntryProblem> {
        guard offset + 4 <= b.count else { return .failure(EntryProblem(message: "entry at \(offset) past the end")) }
        let length = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        guard length >= 1 + 1 + OrderSnapshot.storedStateHeaderBytes + 4, offset + 4 + length + 4 <= b.count - trailerBytes else {
            return .failure(EntryProblem(message: "entry at \(offset) of \(length) bytes does not fit"))
        }
        let framed = UnsafeRawBufferPointer(rebasing: b[offset..<(offset + 4 + length)])
        let stored = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: offset + 4 + length, as: UInt32.self))
        guard stored == crc(framed) else { return .failure(EntryProblem(message: "entry at \(offset): checksum mismatch")) }
        let idCount = Int(b[offset + 4])
        guard idCount >= 1, idCount <= idBytesMax, 1 + idCount + OrderSnapshot.storedStateHeaderBytes + 4 <= length else {
            return .failure(EntryProblem(message: "entry at \(offset): id of \(idCount) bytes"))
        }
        let id = UnsafeRawBufferPointer(rebasing: b[(offset + 5)..<(offset + 5 + idCount)])
        let state = UnsafeRawBufferPointer(rebasing: b[(offset + 5 + idCount)..<(offset + 4 + length)])
        return .success(EntryView(whole: UnsafeRawBufferPointer(rebasing: b[offset..<(offset + 8 + length)]), id: id, state: state))
    }

    /// The fingerprints of `log` a checkpoint at `position` must carry: nil when the log does
    /// not reach `position` (or `position` is 0).
    static func fingerprints(of log: Log, at position: UInt64) -> (first: UInt32, last: UInt32)? {
        guard position > 0, log.endPosition.rawValue >= position,
              let first = try? log.withRecord(at: LogPosition(0), { $0.checksum }),
              let last = try? log.withRecord(at: LogPosition(position - 1), { $0.checksum }) else { return nil }
        return (first, last)
    }

    /// Reads and checks the whole checkpoint at `path` against `log`, calling `body` with each
    /// entry (in file order). Every check runs before an entry is handed out, except the
    /// trailer's count, checked after the last: a caller keeps what it was given only if this
    /// returns without throwing.
    static func read(path: String, log: Log?, _ body: (EntryView) throws(Problem) -> Void) throws(Problem) -> Header {
        func problem(_ kind: Problem.Kind, _ message: String) -> Problem { Problem(file: path, kind: kind, message: message) }
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw problem(.unreadable, "\(error)") }
        defer { file.close() }
        let b = file.bytes
        guard let header = decodeHeader(b) else { throw problem(.damaged, "header fails its magic, version or checksum") }
        // Without the log (verify beside a running server): the file's own checks only.
        if let log {
            guard header.position <= log.endPosition.rawValue else {
                throw problem(.stale, "covers \(header.position) records; the log holds \(log.endPosition.rawValue)")
            }
            guard let prints = fingerprints(of: log, at: header.position), prints.first == header.firstChecksum, prints.last == header.lastChecksum else {
                throw problem(.foreign, "its fingerprints of records 0 and \(header.position - 1) are not the log's")
            }
        }
        guard b.count >= headerBytes + trailerBytes else { throw problem(.damaged, "\(b.count) bytes: no trailer") }
        let t = UnsafeRawBufferPointer(rebasing: b[(b.count - trailerBytes)...])
        guard Array(t[0..<8]) == endMagic, t.loadUnaligned(fromByteOffset: 16, as: UInt32.self).littleEndian == crc(UnsafeRawBufferPointer(rebasing: t[0..<16])),
              UInt64(littleEndian: t.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == header.orders else {
            throw problem(.damaged, "trailer missing or not matching the header (a torn write?)")
        }
        var offset = headerBytes, count: UInt64 = 0
        while offset < b.count - trailerBytes {
            switch entry(in: b, at: offset) {
            case .failure(let p): throw problem(.damaged, p.message)
            case .success(let e):
                try body(e)
                offset += e.whole.count
                count += 1
            }
        }
        guard count == header.orders else { throw problem(.damaged, "\(count) entries; the header says \(header.orders)") }
        return header
    }

    /// A file written under a temporary name, fsynced, renamed into place and its directory
    /// fsynced: a crash at any point leaves either no file of that name or the whole file.
    final class Writer {
        let directory: String
        let finalName: String
        let temporaryPath: String
        private var fd: Int32
        private var buffer: [UInt8] = []
        private(set) var bytesWritten = 0

        init(directory: String, position: UInt64) throws {
            self.directory = directory
            finalName = CheckpointFile.name(position: position)
            temporaryPath = directory + "/" + finalName + ".tmp"
            fd = Glibc.open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw StoreError(.storage, "cannot create \(temporaryPath): \(String(cString: strerror(errno)))") }
            buffer.reserveCapacity(1 << 20)
        }

        func append(_ bytes: [UInt8]) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        func append(_ bytes: UnsafeRawBufferPointer) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        /// The buffer to append an entry to directly (then `didAppend`).
        func withBuffer(_ body: (inout [UInt8]) -> Void) throws {
            body(&buffer)
            if buffer.count >= 1 << 20 { try flush() }
        }

        private func flush() throws {
            var done = 0
            while done < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StoreError(.storage, "writing \(temporaryPath): \(String(cString: strerror(errno)))")
                }
                done += n
            }
            bytesWritten += buffer.count
            buffer.removeAll(keepingCapacity: true)
        }

        /// Writes the header at the start (its counts are known last), fsyncs, renames, and
        /// fsyncs the directory. Returns the final path.
        func commit(header: [UInt8]) throws -> String {
            try flush()
            let n = header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            guard n == header.count else { throw StoreError(.storage, "writing \(temporaryPath)'s header: \(String(cString: strerror(errno)))") }
            guard fsync(fd) == 0 else { throw StoreError(.storage, "fsync \(temporaryPath): \(String(cString: strerror(errno)))") }
            Glibc.close(fd)
            fd = -1
            let final = directory + "/" + finalName
            guard rename(temporaryPath, final) == 0 else { throw StoreError(.storage, "rename \(temporaryPath): \(String(cString: strerror(errno)))") }
            let dfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 { _ = fsync(dfd); Glibc.close(dfd) }
            return final
        }

        /// Gives up: the temporary file is removed.
        func abandon() {
            if fd >= 0 { Glibc.close(fd); fd = -1 }
            unlink(temporaryPath)
        }

        deinit { if fd >= 0 { Glibc.close(fd) } }
    }
}

/// What is wrong with a checkpoint file (it is then not used).
public struct CheckpointProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The file's own bytes fail a check: header, an entry, the trailer, a state.
        case damaged
        /// It covers records the log does not have (the log ends before its position).
        case stale
        /// Its fingerprints do not match the log's records: it belongs to another log, or
        /// the log's records were replaced.
        case foreign
        case unreadable
    }
    public var file: String
    public var kind: Kind
    public var message: String
    public var description: String { "\(kind.rawValue): \(file): \(message)" }
}


/// A whole file mapped read-only (an empty file maps as no bytes).
final class MappedFile {
    let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError(.storage, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError(.storage, "cannot stat \(path): \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        guard size > 0 else { base = nil; bytes = UnsafeRawBufferPointer(start: nil, count: 0); return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw StoreError(.storage, "cannot map \(path): \(String(cString: strerror(errno)))") }
        _ = madvise(p, size, MADV_SEQUENTIAL)
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    private var closed = false
    func close() {
        guard !closed else { return }
        closed = true
        if let base { munmap(base, bytes.count) }
    }

    deinit { close() }
}
