#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A read-only shared mapping of a file. Readers of the active segment map it at its full
/// capacity once, so appends never remap; they only read below the published length, which
/// is always inside the file, so no access ever faults past end of file.
final class MappedRegion: @unchecked Sendable {
    // @unchecked: the mapping is immutable (PROT_READ) and lives until deinit.
    let base: UnsafeRawPointer
    let length: Int

    init(file: SystemFile, length: Int) throws(LogError) {
        precondition(length > 0)
        let pointer = mmap(nil, length, PROT_READ, MAP_SHARED, file.fd, 0)
        guard let pointer, pointer != MAP_FAILED else { throw SystemFile.error("mmap", path: file.path) }
        self.base = UnsafeRawPointer(pointer)
        self.length = length
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    func bytes(at offset: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(offset >= 0 && count >= 0 && offset + count <= length)
        return UnsafeRawBufferPointer(start: base + offset, count: count)
    }

    /// Starts reading the whole file into the page cache (before a sequential scan).
    func adviseWillNeed() {
        madvise(UnsafeMutableRawPointer(mutating: base), length, MADV_WILLNEED)
    }

    /// Tells the kernel it may drop these pages from this process's resident set (they stay
    /// in the page cache). Used after one-pass reads such as loading an index at open.
    func dropResidentPages() {
        madvise(UnsafeMutableRawPointer(mutating: base), length, MADV_DONTNEED)
    }
}
