import Foundation
import Logging

/// Opening a log directory: lock it, load sealed segments through their indexes, recover the
/// unsealed tail, rebuild what is missing. The rules are docs/FORMAT.md's "Recovery".
enum LogRecovery {
    static func open(path: String, configuration: LogConfiguration, logger: Logger) throws -> Log {
        try configuration.validate()
        try SystemFile.makeDirectory(path)
        let lockFile = try acquireLock(directory: path)

        let names = try SystemFile.listDirectory(path)
        for name in names where name.hasSuffix(".tmp") {
            // Left by a crash mid-write; its final name was never made, so it holds nothing.
            logger.info("removing unfinished file", metadata: ["file": "\(name)"])
            try SystemFile.remove(path + "/" + name)
        }
        var kinds: [UInt64: Set<SegmentFile.Kind>] = [:]
        for name in names {
            if let (base, kind) = SegmentFile.parse(name) { kinds[base, default: []].insert(kind) }
        }

        var keys = KeyDirectory()
        var list = SegmentList()
        var expectedBase: UInt64 = 0
        var lastRecordedAt = Int64.min
        var unsealed: [ActiveSegment] = []
        let capacity = max(configuration.segmentBytesMax, SegmentFile.headerBytes + configuration.batchBytesMax)
        let lastBase = kinds.filter { $0.value.contains(.seg) || $0.value.contains(.log) }.keys.max()
        // HEAD names the newest segment ever created: a newest segment older than that was
        // deleted, and the records in it would silently vanish. Refuse.
        var head: UInt64?
        do { head = try HeadFile.read(directory: path) } catch {
            logger.warning("HEAD is damaged; it is written again from the segments present", metadata: ["error": "\(error)"])
        }
        if let head, HeadFile.newestSegmentMissing(head: head, newestPresent: lastBase) {
            throw LogError(.corruption, "the newest segment is missing: HEAD names the segment starting at position \(head), "
                + (lastBase.map { "but the newest present starts at \($0)" } ?? "but there is none"),
                file: path + "/" + SegmentFile.name(base: head, .log))
        }
        var strayIndexes: [UInt64] = []

        for base in kinds.keys.sorted() {
            var present = kinds[base]!
            let segPath = path + "/" + SegmentFile.name(base: base, .seg)
            if present.contains(.seg) && present.contains(.log) {
                // A crash came after the seal and before the .log was removed. The .log stays
                // the authority until the .seg is proven whole, block by block.
                if sealedSegmentIsWhole(segPath) {
                    logger.info("removing segment already sealed", metadata: ["base": "\(base)"])
                    try SystemFile.remove(path + "/" + SegmentFile.name(base: base, .log))
                    present.remove(.log)
                } else {
                    logger.warning("discarding a damaged seal; its .log is kept", metadata: ["base": "\(base)"])
                    try SystemFile.remove(segPath)
                    try SystemFile.remove(path + "/" + SegmentFile.name(base: base, .idx))
                    present.remove(.seg)
                }
                try SystemFile.syncDirectory(path)
            }
            if present.contains(.seg) {
                let (sealed, keyTable) = try openSealed(directory: path, base: base, logger: logger)
                guard sealed.base == expectedBase else { throw missingRecords(directory: path, from: expectedBase, next: sealed.path, nextBase: sealed.base) }
                for (hash, packed) in keyTable { keys.update(hash, KeyDirectory.Entry(packed: packed)) }
                expectedBase = sealed.endPosition
                lastRecordedAt = max(lastRecordedAt, try lastRecordedAtOf(sealed))
                list.segments.append(.sealed(sealed))
            } else if present.contains(.log) {
                let segment = try recoverLog(
                    directory: path, base: base, expectedBase: expectedBase, isLast: base == lastBase,
                    capacity: capacity, keys: &keys, logger: logger)
                expectedBase = segment.endPosition
                if segment.count > 0 { lastRecordedAt = max(lastRecordedAt, segment.lastRecordedAt) }
                list.segments.append(.active(segment))
                unsealed.append(segment)
            } else if present.contains(.idx) {
                strayIndexes.append(base)
            }
        }
        // Only now that the directory is known to be whole: a refused open changes nothing.
        for base in strayIndexes {
            logger.warning("removing index without its segment", metadata: ["base": "\(base)"])
            try SystemFile.remove(path + "/" + SegmentFile.name(base: base, .idx))
        }

        let active: ActiveSegment
        if let last = unsealed.last, last.base == lastBase {
            active = last
            unsealed.removeLast()
        } else {
            active = try ActiveSegment.create(
                directory: path, base: expectedBase, capacityBytes: capacity,
                now: Int64(Date().timeIntervalSince1970 * 1_000_000))
            list.segments.append(.active(active))
        }

        if head != active.base {
            // As at a roll: a HEAD that lags is safe, so a full disk must not stop the open.
            do { try HeadFile.write(directory: path, newestBase: active.base) } catch {
                logger.warning("could not write HEAD", metadata: ["error": "\(error)"])
            }
        }

        let log = Log(
            path: path, configuration: configuration, logger: logger, lockFile: lockFile, active: active,
            segments: list, keys: keys, endPosition: expectedBase, lastRecordedAt: lastRecordedAt)
        // Segments rolled before the crash but not yet sealed.
        for segment in unsealed where segment.count > 0 { log.enqueueForSealing(segment) }
        return log
    }

    /// The error for a hole in the log: the segment that should start at `from` is gone.
    static func missingRecords(directory: String, from: UInt64, next: String, nextBase: UInt64) -> LogError {
        let missing = SegmentFile.name(base: from, .seg)
        return LogError(.corruption, "records \(from)–\(nextBase - 1) are missing: there is no segment \(missing) (or its .log); the next one, \(next.split(separator: "/").last ?? ""), starts at \(nextBase)",
                        file: directory + "/" + missing)
    }

    // MARK: - Lock

    static func acquireLock(directory: String) throws(LogError) -> SystemFile {
        let lockPath = directory + "/LOCK"
        let file = try SystemFile(path: lockPath, mode: .createOrOpen)
        guard try file.tryLockExclusive() else {
            let holder = String(decoding: (try? file.read(count: 32, at: 0)) ?? [], as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw LogError(.locked, "the log at \(directory) is already open for writing by process \(holder.isEmpty ? "(unknown pid)" : holder)", file: lockPath)
        }
        try file.truncate(to: 0)
        try file.write(Array("\(getpid())\n".utf8), at: 0)
        return file
    }

    // MARK: - Sealed segments

    /// True when every block and record of the `.seg` at `path` checks out.
    static func sealedSegmentIsWhole(_ path: String) -> Bool {
        do {
            let file = try SystemFile(path: path, mode: .readOnly)
            let size = try file.size
            guard size >= UInt64(SegmentFile.headerBytes) else { return false }
            let map = try MappedRegion(file: file, length: Int(size))
            let header = try SegmentFile.decodeSegHeader(map.bytes(at: 0, count: SegmentFile.headerBytes), path: path)
            let name = String(path.split(separator: "/").last ?? "")
            guard SegmentFile.parse(name)?.base == header.base else { return false }
            _ = try SegmentSealer.rebuildIndex(segPath: path, header: header, map: map)
            return true
        } catch {
            return false
        }
    }

    /// Opens a sealed segment through its index, rebuilding the index when it is missing,
    /// damaged or stale. Returns it with its key table, for the caller to merge.
    static func openSealed(directory: String, base: UInt64, logger: Logger) throws -> (SealedSegment, [(KeyHash, UInt64)]) {
        let segPath = directory + "/" + SegmentFile.name(base: base, .seg)
        let idxPath = directory + "/" + SegmentFile.name(base: base, .idx)
        let file = try SystemFile(path: segPath, mode: .readOnly)
        let size = try file.size
        guard size >= UInt64(SegmentFile.headerBytes) else {
            throw LogError(.corruption, "sealed segment of \(size) bytes is shorter than its header", file: segPath, offset: 0)
        }
        let map = try MappedRegion(file: file, length: Int(size))
        let header = try SegmentFile.decodeSegHeader(map.bytes(at: 0, count: SegmentFile.headerBytes), path: segPath)
        guard header.base == base else {
            throw LogError(.corruption, "sealed segment header says base \(header.base), its name says \(base)", file: segPath, offset: 16)
        }

        var index: SegmentIndex?
        if SystemFile.exists(idxPath) {
            do throws(LogError) {
                let idxFile = try SystemFile(path: idxPath, mode: .readOnly)
                let idxSize = try idxFile.size
                if idxSize > 0 {
                    let idxMap = try MappedRegion(file: idxFile, length: Int(idxSize))
                    let loaded = try SegmentIndex.decode(idxMap.bytes(at: 0, count: Int(idxSize)), path: idxPath)
                    idxMap.dropResidentPages()
                    if loaded.base == base, loaded.recordCount == header.recordCount, loaded.segFileBytes == size,
                       loaded.segHeaderChecksum == header.checksum, loaded.describesBlocks(of: header, fileBytes: size) {
                        index = loaded
                    } else {
                        logger.warning("index is stale; rebuilding", metadata: ["file": "\(idxPath)"])
                    }
                }
            } catch {
                guard error.code == .corruption || error.code == .unsupportedVersion else { throw error }
                logger.warning("index is damaged; rebuilding", metadata: ["file": "\(idxPath)", "error": "\(error)"])
            }
        } else {
            logger.warning("index is missing; rebuilding", metadata: ["file": "\(idxPath)"])
        }
        if index == nil {
            let rebuilt = try SegmentSealer.rebuildIndex(segPath: segPath, header: header, map: map)
            try SegmentSealer.writeIndex(rebuilt, directory: directory)
            try SystemFile.syncDirectory(directory)
            index = rebuilt
        }
        map.dropResidentPages()
        return (try SealedSegment(file: file, header: header, blocks: index!.blocks), index!.keys.map { ($0.hash, $0.packed) })
    }

    static func lastRecordedAtOf(_ segment: SealedSegment) throws -> Int64 {
        guard let last = segment.blocks.indices.last else { return .min }
        let block = try segment.readBlock(last)
        return RecordView(bytes: block.recordBytes(at: segment.endPosition - 1)).recordedAt.rawValue
    }

    // MARK: - Unsealed segments

    /// Recovers one `.log` file. Every `.log` but the last was fsynced whole before the next
    /// was created, so any damage in it is corruption. In the last, damage at or after its
    /// durable point is a torn tail: the file is cut back to the end of the last complete
    /// batch. Damage before the durable point is corruption: the open fails, naming the file
    /// and offset, and nothing is cut.
    static func recoverLog(
        directory: String, base: UInt64, expectedBase: UInt64, isLast: Bool, capacity: Int,
        keys: inout KeyDirectory, logger: Logger
    ) throws -> ActiveSegment {
        let path = directory + "/" + SegmentFile.name(base: base, .log)
        let file = try SystemFile(path: path, mode: .readWrite)
        let size = Int(try file.size)
        guard size >= SegmentFile.headerBytes else {
            throw LogError(.corruption, "segment of \(size) bytes is shorter than its header", file: path, offset: 0)
        }
        let segment = try ActiveSegment(base: base, file: file, capacityBytes: max(capacity, size), writtenBytes: SegmentFile.headerBytes)
        let data = segment.map.bytes(at: 0, count: size)
        let header = try SegmentFile.decodeLogHeader(data, path: path)
        guard header.base == base else {
            throw LogError(.corruption, "segment header says base \(header.base), its name says \(base)", file: path, offset: 16)
        }
        guard base == expectedBase else { throw missingRecords(directory: directory, from: expectedBase, next: path, nextBase: base) }
        let durableField = header.durableBytes ?? UInt64(SegmentFile.headerBytes)
        guard durableField <= UInt64(size) else {
            throw LogError(.corruption, "segment is \(size) bytes but \(durableField) were recorded as durable: its end was cut off", file: path, offset: UInt64(size))
        }
        let durable = Int(durableField)

        var found: [(offset: Int, length: Int, recordedAt: Int64, hash: KeyHash, entry: KeyDirectory.Entry, batchEnd: Bool)] = []
        var offset = SegmentFile.headerBytes
        var position = base
        var lastBatchEnd = offset
        var lastBatchEndCount = 0
        var damage: (offset: Int, problem: RecordLayout.Problem)?
        while offset < size {
            switch RecordLayout.validate(data, at: offset, expectedPosition: position) {
            case .failure(let problem):
                damage = (offset, problem)
            case .success where position >= LogPosition.limit.rawValue:
                // The log refuses appends once full, so such a record was never written by it
                // (a crafted or damaged directory); refused like a .seg past the limit, before
                // the key directory, which packs positions in 40 bits, traps on it.
                throw LogError(.corruption, "record at position \(position) is past the log's limit of \(LogPosition.limit.rawValue) records", file: path, offset: UInt64(offset))
            case .success(let length):
                let view = RecordView(bytes: UnsafeRawBufferPointer(rebasing: data[offset..<(offset + length)]))
                found.append((offset, length, view.recordedAt.rawValue, KeyHash(bytes: view.keyBytes),
                              KeyDirectory.Entry(position: position, sequence: view.sequence.rawValue), view.isBatchEnd))
                offset += length
                position += 1
                if view.isBatchEnd { lastBatchEnd = offset; lastBatchEndCount = found.count }
            }
            if damage != nil { break }
        }

        if let damage {
            if !isLast {
                throw LogError(.corruption, "damaged record in a rolled segment (\(damage.problem.kind)): \(damage.problem.message)", file: path, offset: UInt64(damage.offset))
            }
            if damage.offset < durable {
                throw LogError(.corruption, "damaged record before the durable point \(durable) (\(damage.problem.kind)): \(damage.problem.message)", file: path, offset: UInt64(damage.offset))
            }
        }
        if lastBatchEnd < durable {
            throw LogError(.corruption, "the last complete batch ends at \(lastBatchEnd), before the durable point \(durable)", file: path, offset: UInt64(lastBatchEnd))
        }
        if !isLast && lastBatchEnd != size {
            throw LogError(.corruption, "a rolled segment ends inside a batch", file: path, offset: UInt64(lastBatchEnd))
        }
        if lastBatchEnd < size {
            let reason = damage.map { "\($0.problem.kind) at offset \($0.offset)" } ?? "incomplete batch"
            logger.warning("truncating torn tail", metadata: [
                "file": "\(path)", "from": "\(lastBatchEnd)", "bytes": "\(size - lastBatchEnd)",
                "records": "\(found.count - lastBatchEndCount)", "reason": "\(reason)",
            ])
            try file.truncate(to: UInt64(lastBatchEnd))
            try file.syncData()
        }
        if lastBatchEnd > durable {
            // Whole batches past the durable point survived a process crash in the page cache
            // but may never have reached the disk. Readers are about to see them as durable:
            // make them so first.
            try file.syncData()
            try file.write(SegmentFile.encodeCommitSlot(durableBytes: UInt64(lastBatchEnd)), at: 48)
            try file.syncData()
        }
        for record in found.prefix(lastBatchEndCount) {
            segment.adoptRecovered(offset: record.offset, length: record.length, recordedAt: record.recordedAt)
            keys.update(record.hash, record.entry)
        }
        return segment
    }
}
