import Foundation
@testable import LogStorage

/// A fresh directory under the system temp folder, removed when the test's scope ends.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ name: String = "log") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/orderlog-test-\(name)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func files(withExtension ext: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix("." + ext) }.sorted().map(file)
    }
}

extension LogConfiguration {
    /// Small segments and blocks, so a few hundred records span many of each; sealing on the
    /// calling thread so tests decide when it happens.
    static func small(durability: DurabilityPolicy = .always) -> LogConfiguration {
        var c = LogConfiguration()
        c.segmentBytesMax = 16 << 10
        c.blockBytesTarget = 2 << 10
        c.batchBytesMax = 8 << 10
        c.payloadBytesMax = 1 << 10
        c.durability = durability
        c.sealsInBackground = false
        c.blockCacheBytesMax = 64 << 10
        return c
    }
}

/// The payload the tests write for a record, derived from what identifies it, so a reader can
/// check every byte it gets back.
func testPayload(key: String, n: Int) -> [UInt8] {
    let text = "{\"order\":\"\(key)\",\"n\":\(n),\"sku\":\"SKU-\(n % 13)\",\"amount_minor\":\(1000 + n * 7)}"
    return Array(text.utf8) + [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: n % 50)
}

func key(_ s: String) -> LogKey { try! LogKey(s) }

/// Appends `count` records spread over `keys` keys in batches of `batchSize`; returns what was
/// appended, in position order, as (key, payload).
@discardableResult
func appendSample(_ log: Log, count: Int, keys: Int = 10, batchSize: Int = 7, prefix: String = "order") async throws -> [(String, [UInt8])] {
    var written: [(String, [UInt8])] = []
    var batch: [AppendRequest] = []
    let start = Int(log.endPosition.rawValue)
    for i in 0..<count {
        let k = "\(prefix)-\(i % keys)"
        let payload = testPayload(key: k, n: start + i)
        batch.append(AppendRequest(key: key(k), type: RecordType(UInt16(i % 16)), payload: payload))
        written.append((k, payload))
        if batch.count == batchSize || i == count - 1 {
            _ = try await log.append(batch)
            batch.removeAll()
        }
    }
    return written
}

func readFile(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path)!) }
func writeFile(_ path: String, _ bytes: [UInt8]) { FileManager.default.createFile(atPath: path, contents: Data(bytes)) }

/// Rewrites the commit slot of an active segment (as a crash before the last fsync leaves it).
func setDurableBytes(_ path: String, _ durable: Int) {
    var bytes = readFile(path)
    bytes.replaceSubrange(48..<64, with: SegmentFile.encodeCommitSlot(durableBytes: UInt64(durable)))
    writeFile(path, bytes)
}

/// Byte offsets of each record in an active segment file.
func recordOffsets(_ path: String) -> [Int] {
    let bytes = readFile(path)
    var offsets: [Int] = []
    var o = SegmentFile.headerBytes
    while o + 8 <= bytes.count {
        let length = bytes[(o + 4)..<(o + 8)].enumerated().reduce(0) { $0 | Int($1.element) << ($1.offset * 8) }
        guard length > 0, o + length <= bytes.count else { break }
        offsets.append(o)
        o += length
    }
    return offsets
}

import Synchronization

/// A flag one task raises and others watch.
final class Flag: Sendable {
    private let value = Atomic(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}
