/// libFuzzer's entry point: one input, as bytes arriving on a connection.
/// The checks are in FrameDecoderFuzzHarness.swift, shared with Tests/WireProtocolTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FrameDecoderFuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
