import Foundation

/// One directory per process, emptied before each input: under $TMPDIR (tools/fuzz points it
/// at /dev/shm, so the log's fsyncs cost nothing).
let directory = FileManager.default.temporaryDirectory.path + "/orderlog-fuzz-segment-reader-\(ProcessInfo.processInfo.processIdentifier)"

/// libFuzzer's entry point: one input, as the files of a log directory.
/// The checks are in SegmentReaderFuzzHarness.swift, shared with Tests/LogStorageTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    SegmentReaderFuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)), directory: directory)
    return 0
}
