import Foundation
import Testing
@testable import LogStorage

/// Kills a child process that appends with policy `always` at a random moment, then checks
/// the log against what the child was told was durable.
@Suite("Crash recovery with SIGKILL", .serialized)
struct CrashTests {
    static var childPath: String {
        // The test bundle and the helper executable are built into the same folder.
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("logstorage-crash-child").path
    }

    struct Ack: Hashable { var run: Int; var task: Int; var batch: Int; var first: UInt64; var count: Int }

    /// Runs the child on `directory` for `milliseconds`, kills it, returns its acknowledgements.
    func runAndKill(directory: String, run: Int, milliseconds: Int) throws -> [Ack] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.childPath)
        process.arguments = [directory, "4", String(run)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        usleep(useconds_t(milliseconds * 1000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the child died on its own: status \(process.terminationStatus)")
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            // A line cut by the kill is no acknowledgement.
            guard f.count == 5, f[0] == "ACK", let t = Int(f[1]), let b = Int(f[2]), let p = UInt64(f[3]), let c = Int(f[4]) else { return nil }
            return Ack(run: run, task: t, batch: b, first: p, count: c)
        }
    }

    @Test("after SIGKILL every acknowledged batch is present exactly once and no batch is partial")
    func killedAppenderLosesNothingAcknowledged() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.childPath), "missing \(Self.childPath)")
        let dir = TemporaryDirectory("crash")
        var acknowledged: [Ack] = []
        var generator = SystemRandomNumberGenerator()
        let rounds = 6
        for run in 0..<rounds {
            acknowledged += try runAndKill(directory: dir.path, run: run, milliseconds: Int.random(in: 80...400, using: &generator))

            // Reopen (recovering the torn tail), then check every record.
            var configuration = LogConfiguration()
            configuration.sealsInBackground = false
            let log = try Log.open(path: dir.path, configuration: configuration)
            var batches: [String: (first: UInt64, indexes: [Int], size: Int)] = [:]
            try log.scan(from: LogPosition(0)) { view in
                let text = String(decoding: view.payload.prefix(48), as: UTF8.self).split(separator: " ")
                // "r<run> t<task> b<batch> i<index> n<size>"
                let id = text[0...2].joined(separator: " ")
                let index = Int(text[3].dropFirst())!, size = Int(text[4].dropFirst())!
                var entry = batches[id] ?? (view.position.rawValue, [], size)
                #expect(view.position.rawValue == entry.first + UInt64(entry.indexes.count), "batch \(id) is contiguous")
                entry.indexes.append(index)
                batches[id] = entry
                return true
            }
            for (id, batch) in batches {
                #expect(batch.indexes == Array(0..<batch.size), "batch \(id) is whole")
            }
            for ack in acknowledged {
                let found = batches["r\(ack.run) t\(ack.task) b\(ack.batch)"]
                #expect(found?.first == ack.first && found?.size == ack.count, "acknowledged batch \(ack) is present")
            }
            for task in 0..<4 {
                for k in 0..<17 {
                    let records = try log.records(forKey: key("order-\(task)-\(k)"))
                    #expect(records.map(\.sequence.rawValue) == Array(0..<UInt32(records.count)).map { $0 + 1 })
                }
            }
            try log.close()
            #expect(Log.verify(path: dir.path).isEmpty)
        }
        #expect(acknowledged.count > rounds, "the child acknowledged batches before it was killed")
    }
}
