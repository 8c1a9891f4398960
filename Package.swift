// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "OrderLog",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LogStorage", targets: ["LogStorage"]),
        .library(name: "LogWorkload", targets: ["LogWorkload"]),
        .library(name: "OrderModel", targets: ["OrderModel"]),
        .library(name: "OrderStore", targets: ["OrderStore"]),
        .library(name: "OrderWorkload", targets: ["OrderWorkload"]),
        .library(name: "WireProtocol", targets: ["WireProtocol"]),
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        .library(name: "OrderLogServer", targets: ["OrderLogServer"]),
        .library(name: "OrderLogClient", targets: ["OrderLogClient"]),
        .library(name: "OrderLogHTTP", targets: ["OrderLogHTTP"]),
        .executable(name: "orderlog", targets: ["orderlog"]),
        .executable(name: "orderlog-drill", targets: ["orderlog-drill"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.0"),
    ],
    targets: [
        // liblz4 from the system (Debian: liblz4-dev), found through pkg-config.
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]
        ),
        // CRC32C (Castagnoli) with the SSE4.2 / ARMv8 CRC instructions and a portable fallback.
        // Swift cannot reach those instructions directly; this is the one piece of C we keep.
        .target(name: "CCRC32C"),
        .target(
            name: "LogStorage",
            dependencies: [
                "CLZ4",
                "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The order event catalog, codecs, lifecycle rules and snapshots. Pure: no I/O.
        .target(name: "OrderModel"),
        // The query layer: validated appends, snapshots, as-of queries, lists, audits.
        .target(
            name: "OrderStore",
            dependencies: ["LogStorage", "OrderModel", "CCRC32C", .product(name: "Logging", package: "swift-log")]
        ),
        // The wire protocol's frames and messages (docs/PROTOCOL.md): a pure codec over bytes.
        .target(name: "WireProtocol"),
        // Kafka's wire protocol as far as OrderLog speaks it (docs/KAFKA.md): a pure codec of
        // requests, responses and record batches.
        .target(name: "KafkaProtocol", dependencies: ["CCRC32C", "CKafkaCompression"]),
        // Kafka's record batch codecs from Debian: zlib1g-dev, libsnappy-dev, liblz4-dev, libzstd-dev.
        .systemLibrary(name: "CKafkaCompression", providers: [.apt(["zlib1g-dev", "libsnappy-dev", "liblz4-dev", "libzstd-dev"])]),
        // The TCP server: a thin shell of connections over OrderStore and WireProtocol.
        .target(
            name: "OrderLogServer",
            dependencies: [
                "OrderStore", "OrderModel", "WireProtocol", "KafkaProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The HTTP API (docs/openapi.yaml) over Hummingbird: a thin shell of routes over
        // OrderStore, with the native server's tokens and roles. Only `orderlog` links it.
        .target(
            name: "OrderLogHTTP",
            dependencies: [
                "OrderStore", "OrderModel", "OrderLogServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Swift client: async/await over one pipelined connection.
        .target(
            name: "OrderLogClient",
            dependencies: [
                "OrderModel", "WireProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A realistic, seeded order workload (orderlog generate, benchmarks, tests).
        .target(name: "OrderWorkload", dependencies: ["OrderModel"]),
        // Order-shaped sample records for benchmarks and demos of the storage engine.
        .target(name: "LogWorkload", dependencies: ["LogStorage"]),
        .executableTarget(
            name: "orderlog",
            dependencies: [
                "LogStorage",
                "LogWorkload",
                "OrderModel",
                "OrderStore",
                "OrderWorkload",
                "OrderLogServer",
                "OrderLogHTTP",
                "OrderLogClient",
                "WireProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The reliability drills (docs/RELIABILITY.md): they run `orderlog` as child processes
        // and load it through the client library.
        .executableTarget(
            name: "orderlog-drill",
            dependencies: [
                "OrderModel",
                "OrderWorkload",
                "OrderLogClient",
                "WireProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A child process for the crash tests: appends with policy `always` and reports each
        // durable batch on stdout until the test kills it with SIGKILL.
        .executableTarget(
            name: "logstorage-crash-child",
            dependencies: ["LogStorage"],
            path: "Tests/CrashChild"
        ),
        .testTarget(name: "OrderModelTests", dependencies: ["FuzzCorpusSupport", "OrderModel"]),
        .testTarget(name: "WireProtocolTests", dependencies: ["FuzzCorpusSupport", "WireProtocol"]),
        .testTarget(name: "KafkaProtocolTests", dependencies: ["FuzzCorpusSupport", "KafkaProtocol"]),
        // The Fuzz/ corpora, read by the suites that replay them.
        .target(name: "FuzzCorpusSupport", path: "Tests/FuzzCorpusSupport"),
        .testTarget(name: "ServerTests", dependencies: ["OrderLogServer", "OrderLogClient", "OrderStore", "OrderModel", "OrderWorkload", "WireProtocol", "KafkaProtocol", "LogStorage", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "HTTPTests", dependencies: ["OrderLogHTTP", "OrderLogServer", "OrderStore", "OrderModel", "LogStorage",
                                                    .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                                    .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "OrderStoreTests", dependencies: ["OrderStore", "OrderModel", "OrderWorkload", "LogStorage", "CCRC32C"]),
        .testTarget(
            name: "LogStorageTests",
            dependencies: ["FuzzCorpusSupport", "LogStorage", "logstorage-crash-child"]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
