import Foundation
import NIOConcurrencyHelpers

/// Consumer groups' committed offsets, durable (docs/KAFKA.md §5): `kafka/offsets.json` in the
/// store's directory — `{"group": {"topic": {"partition": {"offset": N, "metadata": "…"}}}}` —
/// rewritten whole on each commit under a temporary name, fsynced, renamed, its directory
/// fsynced: a crash leaves the old file or the new one. A commit is answered once its file is
/// on disk. A file that does not read is reported at start and set aside (`offsets.json.bad`),
/// never trusted half-read: the groups then start from what their consumers' `auto.offset.reset`
/// says.
final class KafkaOffsets: Sendable {
    struct Committed: Sendable, Equatable {
        var offset: Int64
        var metadata: String?
    }

    let path: String
    /// group → topic → partition → committed.
    private let state: NIOLockedValueBox<[String: [String: [Int32: Committed]]]>
    /// Why the file at start was not used, if it was not.
    let problem: String?
    static let groupsMax = 10_000

    init(directory: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/offsets.json"
        var loaded: [String: [String: [Int32: Committed]]] = [:]
        var problem: String?
        if let data = FileManager.default.contents(atPath: path) {
            if let parsed = Self.decode(data) { loaded = parsed } else {
                problem = "\(path) does not read as committed offsets; set aside as \(path).bad"
                _ = rename(path, path + ".bad")
            }
        }
        self.problem = problem
        state = NIOLockedValueBox(loaded)
    }

    static func decode(_ data: Data) -> [String: [String: [Int32: Committed]]]? {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        var out: [String: [String: [Int32: Committed]]] = [:]
        for (group, topics) in root {
            guard let topics = topics as? [String: Any] else { return nil }
            for (topic, partitions) in topics {
                guard let partitions = partitions as? [String: Any] else { return nil }
                for (p, value) in partitions {
                    guard let index = Int32(p), let v = value as? [String: Any], let offset = (v["offset"] as? NSNumber)?.int64Value else { return nil }
                    out[group, default: [:]][topic, default: [:]][index] = Committed(offset: offset, metadata: v["metadata"] as? String)
                }
            }
        }
        return out
    }

    func committed(group: String) -> [String: [Int32: Committed]] { state.withLockedValue { $0[group] ?? [:] } }

    /// Records the commits and writes the file; throws when it cannot be written (the commit
    /// is then answered with an error and the old offsets stand).
    func commit(group: String, _ offsets: [(topic: String, partition: Int32, committed: Committed)]) throws {
        try state.withLockedValue { all in
            var next = all
            guard next[group] != nil || next.count < Self.groupsMax else { throw CocoaError(.fileWriteOutOfSpace) }
            for o in offsets { next[group, default: [:]][o.topic, default: [:]][o.partition] = o.committed }
            try write(next)
            all = next
        }
    }

    private func write(_ all: [String: [String: [Int32: Committed]]]) throws {
        var root: [String: Any] = [:]
        for (group, topics) in all {
            var t: [String: Any] = [:]
            for (topic, partitions) in topics {
                var ps: [String: Any] = [:]
                for (p, c) in partitions { ps[String(p)] = ["offset": c.offset, "metadata": c.metadata ?? ""] as [String: Any] }
                t[topic] = ps
            }
            root[group] = t
        }
        try DurableFile.replace(path, with: try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys]))
    }
}
