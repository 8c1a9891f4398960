import Foundation

#if canImport(Glibc)
import Glibc
#endif

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
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Reads through the mapping from here on are random (the order table's lookups): no
    /// readahead. (Entries are read with `pread`: see `Reader.snapshot`.)
    func adviseRandom() {
        guard !closed, let base else { return }
        _ = madvise(base, bytes.count, MADV_RANDOM)
    }

    /// Gives back the pages read so far (they are the file's: read again when next needed),
    /// so what a restore or an index read touched does not stay in the process's memory.
    func dropResidentPages() {
        guard !closed, let base else { return }
        _ = madvise(base, bytes.count, MADV_DONTNEED)
    }

    private var closed = false
    func close() {
        guard !closed else { return }
        closed = true
        if let base { munmap(base, bytes.count) }
    }

    deinit { close() }
}
