import Foundation

/// The seed corpora and kept crash inputs of Fuzz/, for the test suites that replay them.
public enum FuzzCorpus {
    /// The files in Fuzz/<kind>/<target>/ (kind: corpus or regressions), hidden ones skipped.
    public static func inputs(_ target: String, _ kind: String) -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("Fuzz/\(kind)/\(target)").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory + "/" + $0 }
    }

    public static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Seeds named `bad-*` are meant to be refused.
    public static func isBad(_ path: String) -> Bool {
        URL(fileURLWithPath: path).lastPathComponent.hasPrefix("bad-")
    }
}
