import Foundation
import OrderModel
import Testing

/// The json-event fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness, so a change that brings a finding back fails `swift test`
/// without running the fuzzer. Seeds named `bad-*` are broken on purpose; `binary-*` seeds
/// are events in the stored binary form.
@Suite("JSON event fuzz corpus")
struct JSONEventFuzzCorpusTests {
    static let target = "json-event"

    @Test("the seed corpus is there")
    func corpusPresent() {
        #expect(!fuzzInputs(Self.target, "corpus").isEmpty)
    }

    @Test("every seed and regression input decodes to events or errors, never a trap",
          arguments: fuzzInputs(target, "corpus") + fuzzInputs(target, "regressions"))
    func noTrap(path: String) throws {
        JSONEventFuzzHarness.run(try fuzzInput(path))
    }

    @Test("each line of a valid JSON seed decodes", arguments: fuzzInputs(target, "corpus").filter { !isBadSeed($0) && !isBinarySeed($0) })
    func validLinesDecode(path: String) throws {
        let bytes = try fuzzInput(path)
        let lines = bytes.split(separator: 0x0A).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
        #expect(!lines.isEmpty)
        #expect(JSONEventFuzzHarness.run(bytes) == lines.count)
    }

    @Test("each binary seed decodes as an event of some type", arguments: fuzzInputs(target, "corpus").filter(isBinarySeed))
    func binarySeedsDecode(path: String) throws {
        let bytes = try fuzzInput(path)
        let types = bytes.withUnsafeBytes { buffer in
            EventType.allCases.filter { (try? OrderEvent.decodeBinary(orderID: JSONEventFuzzHarness.orderID, type: $0, buffer)) != nil }
        }
        #expect(!types.isEmpty)
    }
}

/// The files in Fuzz/<kind>/<target>/ (kind: corpus or regressions), hidden ones skipped.
func fuzzInputs(_ target: String, _ kind: String) -> [String] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let directory = root.appendingPathComponent("Fuzz/\(kind)/\(target)").path
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.filter { !$0.hasPrefix(".") }.sorted().map { directory + "/" + $0 }
}

func fuzzInput(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func isBadSeed(_ path: String) -> Bool {
    URL(fileURLWithPath: path).lastPathComponent.hasPrefix("bad-")
}

func isBinarySeed(_ path: String) -> Bool {
    URL(fileURLWithPath: path).lastPathComponent.hasPrefix("binary-")
}
