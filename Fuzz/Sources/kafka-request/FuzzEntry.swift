/// libFuzzer's entry point: one input, as a Kafka request frame's payload (and as record
/// batches and compressed payloads). The checks are in KafkaRequestFuzzHarness.swift, shared
/// with Tests/KafkaProtocolTests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    KafkaRequestFuzzHarness.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
