/// `HEAD`: the base position of the newest segment the log has created.
///
/// Segment files say where they start, and a gap between two of them shows, but nothing in
/// the segments shows that the newest one has been deleted: the log would just look shorter.
/// `HEAD` is rewritten (atomically, by rename) each time a segment is created, after the
/// segment itself is durable; open refuses a directory whose newest segment starts before
/// the base HEAD names. A HEAD that lags behind (a crash between the two steps) is only
/// rewritten. docs/FORMAT.md, "HEAD".
enum HeadFile {
    static let name = "HEAD"
    static let magic: [UInt8] = Array("OLHEAD01".utf8)
    static let bytes = 20

    static func encode(newestBase: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: bytes)
        w.raw(magic)
        w.u64(newestBase)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// The base HEAD names; nil when there is no HEAD (a log written before HEAD existed, or
    /// a new directory).
    static func read(directory: String) throws(LogError) -> UInt64? {
        let path = directory + "/" + name
        guard SystemFile.exists(path) else { return nil }
        let file = try SystemFile(path: path, mode: .readOnly)
        let size = try file.size
        guard size == UInt64(bytes) else {
            throw LogError(.corruption, "HEAD is \(size) bytes; it must be \(bytes)", file: path, offset: 0)
        }
        let b = try file.read(count: bytes, at: 0)
        guard Array(b[0..<8]) == magic else { throw LogError(.corruption, "HEAD has a wrong magic number", file: path, offset: 0) }
        let (stored, base, computed) = b.withUnsafeBytes { raw in
            (raw.u32(16), raw.u64(8), CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<16])))
        }
        guard stored == computed else { throw LogError(.corruption, "HEAD fails its checksum", file: path, offset: 16) }
        return base
    }

    /// True when HEAD names a segment newer than the newest present (or any segment while
    /// none is present): that segment, and every record in it, was deleted.
    static func newestSegmentMissing(head: UInt64, newestPresent: UInt64?) -> Bool {
        guard let newestPresent else { return true }
        return head > newestPresent
    }

    /// Replaces HEAD: a temporary file, fsynced, renamed into place, the directory fsynced.
    static func write(directory: String, newestBase: UInt64) throws(LogError) {
        let path = directory + "/" + name, tmp = path + ".tmp"
        try SystemFile.remove(tmp)
        let file = try SystemFile(path: tmp, mode: .createExclusive)
        try file.write(encode(newestBase: newestBase), at: 0)
        try file.syncData()
        try SystemFile.rename(tmp, to: path)
        try SystemFile.syncDirectory(directory)
    }
}
