// swift-tools-version: 6.1
import PackageDescription

// The yardstick for OrderLog's order layer (issue 11): the same JSONL file loaded into SQLite
// (WAL, synchronous=FULL, batches of 1,000, JSON text + an (order_id, seq) index), full-history
// reads of sampled orders, and a full replay in position order. Its own package, with no
// dependency but the system's libsqlite3 (Debian: libsqlite3-dev; tools/setup installs it), so it
// builds in seconds. Run: swift run -c release --package-path Benchmarks/SQLiteBaseline sqlite-baseline FILE
let package = Package(
    name: "SQLiteBaseline",
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .executableTarget(name: "sqlite-baseline", dependencies: ["CSQLite"]),
    ]
)
