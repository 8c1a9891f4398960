import Foundation
import FuzzCorpusSupport
import Testing

/// The frame-decoder fuzz target's seeds (Fuzz/corpus) and saved findings (Fuzz/regressions),
/// replayed through its harness, so a change that brings a finding back fails `swift test`
/// without running the fuzzer. Seeds named `bad-*` are broken on purpose.
@Suite("Frame decoder fuzz corpus")
struct FrameDecoderFuzzCorpusTests {
    static let target = "frame-decoder"

    @Test("the seed corpus is there")
    func corpusPresent() {
        #expect(!FuzzCorpus.inputs(Self.target, "corpus").isEmpty)
    }

    @Test("every seed and regression input decodes to frames or an error, never a trap",
          arguments: FuzzCorpus.inputs(target, "corpus") + FuzzCorpus.inputs(target, "regressions"))
    func noTrap(path: String) throws {
        FrameDecoderFuzzHarness.run(try FuzzCorpus.bytes(path))
    }

    @Test("each valid seed is whole frames, nothing left over", arguments: FuzzCorpus.inputs(target, "corpus").filter { !FuzzCorpus.isBad($0) })
    func validSeedsDecode(path: String) throws {
        let outcome = FrameDecoderFuzzHarness.run(try FuzzCorpus.bytes(path))
        #expect(outcome.error == nil)
        #expect(!outcome.frames.isEmpty)
        #expect(outcome.buffered == 0)
    }
}

