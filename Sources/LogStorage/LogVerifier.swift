#if canImport(Glibc)
import Glibc
#endif

/// One problem `Log.verify` found.
public struct LogProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case badHeader = "bad_header"
        case damagedRecord = "damaged_record"
        case damagedBlock = "damaged_block"
        case tornTail = "torn_tail"
        case missingIndex = "missing_index"
        case damagedIndex = "damaged_index"
        case staleIndex = "stale_index"
        case gap
        case missingSegment = "missing_segment"
        case missingHead = "missing_head"
        case strayFile = "stray_file"
        case unreadable
    }

    public var file: String
    public var offset: UInt64?
    public var kind: Kind
    public var message: String

    public var description: String {
        "\(file)\(offset.map { " @\($0)" } ?? ""): \(kind.rawValue): \(message)"
    }
}

/// Checks every file of a log without changing anything (it does not take the lock, so it
/// can run beside a live writer; a tail still being written may then show as torn).
enum LogVerifier {
    private static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func verify(path: String) -> [LogProblem] {
        var problems: [LogProblem] = []
        let names: [String]
        do { names = try SystemFile.listDirectory(path) } catch {
            return [LogProblem(file: path, offset: nil, kind: .unreadable, message: "\(error)")]
        }
        var kinds: [UInt64: Set<SegmentFile.Kind>] = [:]
        for name in names {
            if let (base, kind) = SegmentFile.parse(name) { kinds[base, default: []].insert(kind) }
            // A directory is not the log's: the layers above keep their own files there
            // (the order store's checkpoints).
            else if name != "LOCK" && name != HeadFile.name && !isDirectory(path + "/" + name) { problems.append(LogProblem(file: path + "/" + name, offset: nil, kind: .strayFile, message: "not a log file; open removes *.tmp files and ignores others")) }
        }
        var expected: UInt64 = 0
        let bases = kinds.keys.sorted()
        // As open decides: the last segment, if it is unsealed, is the one whose tail may be torn.
        let lastBase = bases.last(where: { kinds[$0]!.contains(.log) || kinds[$0]!.contains(.seg) })
        let lastLog = lastBase.flatMap { kinds[$0]!.contains(.seg) ? nil : $0 }
        do {
            if let head = try HeadFile.read(directory: path) {
                if HeadFile.newestSegmentMissing(head: head, newestPresent: lastBase) {
                    problems.append(LogProblem(file: path + "/" + SegmentFile.name(base: head, .log), offset: nil, kind: .missingSegment,
                                               message: "HEAD names a segment starting at \(head); the newest present starts at \(lastBase.map(String.init) ?? "none"): its records are gone"))
                }
            } else if lastBase != nil {
                problems.append(LogProblem(file: path + "/" + HeadFile.name, offset: nil, kind: .missingHead,
                                           message: "HEAD is missing, so a deleted newest segment could not be told; open writes it again"))
            }
        } catch {
            problems.append(LogProblem(file: path + "/" + HeadFile.name, offset: error.offset, kind: .badHeader, message: "\(error.message); open writes it again"))
        }
        for base in bases {
            let present = kinds[base]!
            let end: UInt64?
            if present.contains(.seg) {
                end = verifySealed(directory: path, base: base, hasIndex: present.contains(.idx), problems: &problems)
            } else if present.contains(.log) {
                end = verifyLog(path: path + "/" + SegmentFile.name(base: base, .log), base: base, isLast: base == lastLog, problems: &problems)
            } else {
                problems.append(LogProblem(file: path + "/" + SegmentFile.name(base: base, .idx), offset: nil, kind: .strayFile, message: "index without its segment"))
                continue
            }
            if base != expected {
                problems.append(LogProblem(file: path + "/" + SegmentFile.name(base: expected, .seg), offset: nil, kind: .gap,
                                           message: "records \(expected)–\(base - 1) are missing: no segment starts at \(expected) (the next one, \(SegmentFile.name(base: base, present.contains(.seg) ? .seg : .log)), starts at \(base))"))
            }
            expected = end ?? base
        }
        return problems
    }

    /// Returns the segment's end position, or nil if it could not be read at all.
    private static func verifySealed(directory: String, base: UInt64, hasIndex: Bool, problems: inout [LogProblem]) -> UInt64? {
        let segPath = directory + "/" + SegmentFile.name(base: base, .seg)
        let idxPath = directory + "/" + SegmentFile.name(base: base, .idx)
        do {
            let file = try SystemFile(path: segPath, mode: .readOnly)
            let size = try file.size
            guard size >= UInt64(SegmentFile.headerBytes) else {
                problems.append(LogProblem(file: segPath, offset: 0, kind: .badHeader, message: "file of \(size) bytes is shorter than its header"))
                return nil
            }
            let map = try MappedRegion(file: file, length: Int(size))
            let header: SegmentFile.SegHeader
            do { header = try SegmentFile.decodeSegHeader(map.bytes(at: 0, count: SegmentFile.headerBytes), path: segPath) } catch {
                problems.append(LogProblem(file: segPath, offset: error.offset, kind: .badHeader, message: error.message))
                return nil
            }
            let rebuilt: SegmentIndex
            do { rebuilt = try SegmentSealer.rebuildIndex(segPath: segPath, header: header, map: map) } catch {
                // rebuildIndex names record-level damage "record N in block: …".
                let kind: LogProblem.Kind = error.message.hasPrefix("record ") ? .damagedRecord : .damagedBlock
                problems.append(LogProblem(file: segPath, offset: error.offset, kind: kind, message: error.message))
                return header.base + header.recordCount
            }
            guard hasIndex else {
                problems.append(LogProblem(file: idxPath, offset: nil, kind: .missingIndex, message: "index is missing; open rebuilds it"))
                return header.base + header.recordCount
            }
            let idxFile = try SystemFile(path: idxPath, mode: .readOnly)
            let idxBytes = try idxFile.read(count: Int(try idxFile.size), at: 0)
            do throws(LogError) {
                let stored = try idxBytes.withUnsafeBytes { b in Result { () throws(LogError) in try SegmentIndex.decode(b, path: idxPath) } }.get()
                if stored.encode() != rebuilt.encode() {
                    problems.append(LogProblem(file: idxPath, offset: nil, kind: .staleIndex, message: "index does not match its segment; open rebuilds it"))
                }
            } catch {
                problems.append(LogProblem(file: idxPath, offset: error.offset, kind: .damagedIndex, message: "\(error.message); open rebuilds it"))
            }
            return header.base + header.recordCount
        } catch {
            problems.append(LogProblem(file: segPath, offset: nil, kind: .unreadable, message: "\(error)"))
            return nil
        }
    }

    private static func verifyLog(path: String, base: UInt64, isLast: Bool, problems: inout [LogProblem]) -> UInt64? {
        do {
            let file = try SystemFile(path: path, mode: .readOnly)
            let size = Int(try file.size)
            guard size >= SegmentFile.headerBytes else {
                problems.append(LogProblem(file: path, offset: 0, kind: .badHeader, message: "file of \(size) bytes is shorter than its header"))
                return nil
            }
            let map = try MappedRegion(file: file, length: size)
            let data = map.bytes(at: 0, count: size)
            let header: SegmentFile.LogHeader
            do { header = try SegmentFile.decodeLogHeader(data, path: path) } catch {
                problems.append(LogProblem(file: path, offset: error.offset, kind: .badHeader, message: error.message))
                return nil
            }
            // The number reported is the commit slot's own (what open names); the comparisons
            // below only need to know it lies past the end.
            let durableField = header.durableBytes ?? UInt64(SegmentFile.headerBytes)
            let durable = Int(min(durableField, UInt64(size) + 1))
            if durable > size {
                problems.append(LogProblem(file: path, offset: UInt64(size), kind: .damagedRecord, message: "file is \(size) bytes but \(durableField) were recorded as durable: its end was cut off; open refuses"))
            }
            var offset = SegmentFile.headerBytes, position = base, lastBatchEnd = offset, batchEndPosition = base
            while offset < size {
                switch RecordLayout.validate(data, at: offset, expectedPosition: position) {
                case .failure(let problem):
                    let tail = isLast && offset >= durable
                    problems.append(LogProblem(
                        file: path, offset: UInt64(offset), kind: tail ? .tornTail : .damagedRecord,
                        message: tail ? "\(problem.message); open truncates the tail to offset \(lastBatchEnd)"
                                      : "\(problem.message) (before the durable point \(durable) or in a rolled segment; open refuses)"))
                    return batchEndPosition
                case .success(let length):
                    offset += length
                    position += 1
                    if RecordView(bytes: UnsafeRawBufferPointer(rebasing: data[(offset - length)..<offset])).isBatchEnd {
                        lastBatchEnd = offset
                        batchEndPosition = position
                    }
                }
            }
            if lastBatchEnd < size {
                if isLast && lastBatchEnd >= durable {
                    problems.append(LogProblem(file: path, offset: UInt64(lastBatchEnd), kind: .tornTail, message: "incomplete batch at the end; open truncates it"))
                } else {
                    problems.append(LogProblem(file: path, offset: UInt64(lastBatchEnd), kind: .damagedRecord, message: "segment ends inside a batch before its durable point or in a rolled segment; open refuses"))
                }
            }
            return batchEndPosition
        } catch {
            problems.append(LogProblem(file: path, offset: nil, kind: .unreadable, message: "\(error)"))
            return nil
        }
    }
}

extension Log {
    /// Checks every segment and index in `path` and lists each problem (file, offset, kind).
    /// Changes nothing. An empty list means the log is sound.
    public static func verify(path: String) -> [LogProblem] {
        LogVerifier.verify(path: path)
    }
}
