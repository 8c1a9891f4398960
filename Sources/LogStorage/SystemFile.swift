#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thin, typed owner of one file descriptor: the one place that makes the file system
/// calls the log needs (pread, pwrite, fsync, ftruncate, flock, mmap), retrying on EINTR and
/// turning failures into `LogError`s that name the file. Closes on deinit.
final class SystemFile: @unchecked Sendable {
    // @unchecked: the descriptor is immutable after init; every call on it is a thread-safe
    // system call at an explicit offset.
    let fd: Int32
    let path: String

    enum Mode { case readOnly, readWrite, createExclusive, createOrOpen }

    init(path: String, mode: Mode) throws(LogError) {
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY
        case .readWrite: flags = O_RDWR
        case .createExclusive: flags = O_RDWR | O_CREAT | O_EXCL
        case .createOrOpen: flags = O_RDWR | O_CREAT
        }
        let fd = SystemFile.retrying { open(path, flags | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw SystemFile.error("open", path: path) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    var size: UInt64 {
        get throws(LogError) {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw SystemFile.error("fstat", path: path) }
            return UInt64(st.st_size)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(LogError) {
        var done = 0
        while done < bytes.count {
            let n = SystemFile.retrying {
                pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            guard n > 0 else { throw SystemFile.error("pwrite", path: path, offset: offset + UInt64(done)) }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws(LogError) {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(LogError) in try write(buffer, at: offset) } }
        try result.get()
    }

    /// Reads exactly `count` bytes, or fewer only at end of file.
    func read(count: Int, at offset: UInt64) throws(LogError) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = result.withUnsafeMutableBytes { buffer in
                SystemFile.retrying { pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            }
            if n == 0 { break }
            guard n > 0 else { throw SystemFile.error("pread", path: path, offset: offset + UInt64(done)) }
            done += n
        }
        if done < count { result.removeLast(count - done) }
        return result
    }

    /// Data and the metadata needed to read it back (size), not timestamps.
    func syncData() throws(LogError) {
        guard SystemFile.retrying({ fdatasync(fd) }) == 0 else { throw SystemFile.error("fdatasync", path: path) }
    }

    func sync() throws(LogError) {
        guard SystemFile.retrying({ fsync(fd) }) == 0 else { throw SystemFile.error("fsync", path: path) }
    }

    func truncate(to length: UInt64) throws(LogError) {
        guard SystemFile.retrying({ ftruncate(fd, off_t(length)) }) == 0 else {
            throw SystemFile.error("ftruncate", path: path, offset: length)
        }
    }

    /// An exclusive advisory lock, without waiting. False when another open file holds it.
    func tryLockExclusive() throws(LogError) -> Bool {
        if SystemFile.retrying({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw SystemFile.error("flock", path: path)
    }

    func unlock() {
        _ = SystemFile.retrying { flock(fd, LOCK_UN) }
    }

    // MARK: - Whole-file and directory helpers

    /// Makes a rename or unlink in `directory` durable.
    static func syncDirectory(_ directory: String) throws(LogError) {
        let file = try SystemFile(path: directory, mode: .readOnly)
        try file.sync()
    }

    static func rename(_ from: String, to: String) throws(LogError) {
        guard Glibc.rename(from, to) == 0 else { throw error("rename to \(to)", path: from) }
    }

    static func remove(_ path: String) throws(LogError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw error("unlink", path: path) }
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func makeDirectory(_ path: String) throws(LogError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw error("mkdir", path: path) }
    }

    static func listDirectory(_ path: String) throws(LogError) -> [String] {
        guard let dir = opendir(path) else { throw error("opendir", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func retrying<T: BinaryInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result < 0 && errno == EINTR { continue }
            return result
        }
    }

    static func error(_ call: String, path: String, offset: UInt64? = nil) -> LogError {
        let code = errno
        let kind: LogError.Code = (code == ENOSPC || code == EDQUOT) ? .diskFull : .io
        return LogError(kind, "\(call) failed: \(String(cString: strerror(code))) (errno \(code))", file: path, offset: offset)
    }
}
