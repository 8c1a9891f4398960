/// libFuzzer's entry point: one input, as the text of an `orderlog import` file.
/// The checks are in JSONEventFuzzHarness.swift, shared with Tests/OrderModelTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    JSONEventFuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
