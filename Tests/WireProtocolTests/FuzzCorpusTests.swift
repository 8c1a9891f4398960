import Foundation
import Testing

/// The frame-decoder fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness, so a change that brings a finding back fails `swift test`
/// without running the fuzzer. Seeds named `bad-*` are broken on purpose.
@Suite("Frame decoder fuzz corpus")
struct FrameDecoderFuzzCorpusTests {
    static let target = "frame-decoder"

    @Test("the seed corpus is there")
    func corpusPresent() {
        #expect(!fuzzInputs(Self.target, "corpus").isEmpty)
    }

    @Test("every seed and regression input decodes to frames or an error, never a trap",
          arguments: fuzzInputs(target, "corpus") + fuzzInputs(target, "regressions"))
    func noTrap(path: String) throws {
        FrameDecoderFuzzHarness.run(try fuzzInput(path))
    }

    @Test("each valid seed is whole frames, nothing left over", arguments: fuzzInputs(target, "corpus").filter { !isBadSeed($0) })
    func validSeedsDecode(path: String) throws {
        let outcome = FrameDecoderFuzzHarness.run(try fuzzInput(path))
        #expect(outcome.error == nil)
        #expect(!outcome.frames.isEmpty)
        #expect(outcome.buffered == 0)
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
