import ArgumentParser
import LogStorage
import OrderModel
import OrderStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every segment and index of a log, and every checkpoint file, without changing them; exit 1 if anything is wrong.")

    @Option(help: "Data directory.")
    var data: String

    @Flag(help: "Print JSON: {\"problems\": [{file, offset, kind, message}]}.")
    var json = false

    func run() throws {
        // The log's files, then the checkpoints' (their fit to the log is checked at open).
        let problems = Log.verify(path: data).map { ($0.file, $0.offset, $0.kind.rawValue, $0.message) }
            + OrderStore.verifyCheckpoints(path: data).map { ($0.file, Optional<UInt64>.none, "checkpoint_" + $0.kind.rawValue, $0.message) }
        if json {
            print("{\"problems\":[" + problems.map { p in
                "{\"file\":\(JSONWriter.quoted(p.0)),\"offset\":\(p.1.map(String.init) ?? "null"),\"kind\":\(JSONWriter.quoted(p.2)),\"message\":\(JSONWriter.quoted(p.3))}"
            }.joined(separator: ",") + "]}")
        } else {
            for p in problems { print("\(p.0)\(p.1.map { " @\($0)" } ?? ""): \(p.2): \(p.3)") }
            print(problems.isEmpty ? "ok: no problems in \(data)" : "\(problems.count) problem(s) in \(data)")
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}
