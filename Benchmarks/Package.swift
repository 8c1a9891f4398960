// swift-tools-version: 6.1
import PackageDescription

// The benchmarks live in their own package so the main build never pulls the harness.
// Run from this folder: swift package benchmark
let package = Package(
    name: "OrderLogBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: CI clones the repository into a folder whose name we don't control.
        .package(name: "OrderLog", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "LogStorageBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LogStorage", package: "OrderLog"),
                .product(name: "LogWorkload", package: "OrderLog"),
            ],
            path: "Benchmarks/LogStorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
