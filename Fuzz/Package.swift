// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for the decoders that read bytes from outside: wire frames, JSON event
// lines, segment files, Kafka requests and record batches. In their own package, like Benchmarks/, so the main build never sees
// the fuzzer flags. Build and run one with tools/fuzz TARGET [SECONDS]; it passes
// `-sanitize=fuzzer,address` to every module, the OrderLog ones included (flags set here would
// reach only these targets' own files, and the fuzzer would be blind to the decoders).
//
// Each target's checks live in a harness file under Tests/ (linked in here), so `swift test`
// replays Fuzz/corpus and Fuzz/regressions through the same code (FuzzCorpusTests.swift).
let package = Package(
    name: "OrderLogFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: CI clones the repository into a folder whose name we don't control.
        .package(name: "OrderLog", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "frame-decoder",
            dependencies: [.product(name: "WireProtocol", package: "OrderLog")]
        ),
        .executableTarget(
            name: "json-event",
            dependencies: [.product(name: "OrderModel", package: "OrderLog")]
        ),
        .executableTarget(
            name: "kafka-request",
            dependencies: [.product(name: "KafkaProtocol", package: "OrderLog")]
        ),
        .executableTarget(
            name: "segment-reader",
            dependencies: [.product(name: "LogStorage", package: "OrderLog")]
        ),
    ]
)

for target in package.targets {
    // libFuzzer supplies main(); the entry point is LLVMFuzzerTestOneInput.
    target.swiftSettings = [.unsafeFlags(["-parse-as-library"])]
}
