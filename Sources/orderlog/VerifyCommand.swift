import ArgumentParser
import LogStorage
import OrderModel

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every segment and index of a log without changing it; exit 1 if anything is wrong.")

    @Option(help: "Data directory.")
    var data: String

    @Flag(help: "Print JSON: {\"problems\": [{file, offset, kind, message}]}.")
    var json = false

    func run() throws {
        let problems = Log.verify(path: data)
        if json {
            print("{\"problems\":[" + problems.map { p in
                "{\"file\":\(JSONWriter.quoted(p.file)),\"offset\":\(p.offset.map(String.init) ?? "null"),\"kind\":\(JSONWriter.quoted(p.kind.rawValue)),\"message\":\(JSONWriter.quoted(p.message))}"
            }.joined(separator: ",") + "]}")
        } else {
            for problem in problems { print(problem) }
            print(problems.isEmpty ? "ok: no problems in \(data)" : "\(problems.count) problem(s) in \(data)")
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }
}
