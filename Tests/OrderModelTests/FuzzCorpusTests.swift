import Foundation
import OrderModel
import FuzzCorpusSupport
import Testing

/// The json-event fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness, so a change that brings a finding back fails `swift test`
/// without running the fuzzer. Seeds named `bad-*` are broken on purpose; `binary-*` seeds
/// are events in the stored binary form; `body-*` seeds are HTTP request bodies (an event or
/// an array of them, lines and all).
@Suite("JSON event fuzz corpus")
struct JSONEventFuzzCorpusTests {
    static let target = "json-event"

    @Test("the seed corpus is there")
    func corpusPresent() {
        #expect(!FuzzCorpus.inputs(Self.target, "corpus").isEmpty)
    }

    @Test("every seed and regression input decodes to events or errors, never a trap",
          arguments: FuzzCorpus.inputs(target, "corpus") + FuzzCorpus.inputs(target, "regressions"))
    func noTrap(path: String) throws {
        JSONEventFuzzHarness.run(try FuzzCorpus.bytes(path))
    }

    @Test("each line of a valid JSON seed decodes", arguments: FuzzCorpus.inputs(target, "corpus").filter { !FuzzCorpus.isBad($0) && !isBinarySeed($0) && !isBodySeed($0) })
    func validLinesDecode(path: String) throws {
        let bytes = try FuzzCorpus.bytes(path)
        let lines = bytes.split(separator: 0x0A).filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }
        #expect(!lines.isEmpty)
        #expect(JSONEventFuzzHarness.run(bytes) == lines.count)
    }

    @Test("each body seed reads as the events of an HTTP body", arguments: FuzzCorpus.inputs(target, "corpus").filter(isBodySeed))
    func bodySeedsDecode(path: String) throws {
        #expect(try !OrderEvent.decodeJSONRecords(body: FuzzCorpus.bytes(path)).isEmpty)
    }

    @Test("each binary seed decodes as an event of some type", arguments: FuzzCorpus.inputs(target, "corpus").filter(isBinarySeed))
    func binarySeedsDecode(path: String) throws {
        let bytes = try FuzzCorpus.bytes(path)
        let types = bytes.withUnsafeBytes { buffer in
            EventType.allCases.filter { (try? OrderEvent.decodeBinary(orderID: JSONEventFuzzHarness.orderID, type: $0, buffer)) != nil }
        }
        #expect(!types.isEmpty)
    }
}


func isBinarySeed(_ path: String) -> Bool {
    URL(fileURLWithPath: path).lastPathComponent.hasPrefix("binary-")
}

func isBodySeed(_ path: String) -> Bool {
    URL(fileURLWithPath: path).lastPathComponent.hasPrefix("body-")
}
