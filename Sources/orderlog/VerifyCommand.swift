import ArgumentParser
import LogStorage

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every segment and index of a log without changing it; exit 1 if anything is wrong.")

    @Option(name: .long, help: "Data directory.")
    var data: String

    func run() throws {
        let problems = Log.verify(path: data)
        for problem in problems { print(problem) }
        if problems.isEmpty {
            print("ok: no problems in \(data)")
        } else {
            print("\(problems.count) problem(s) in \(data)")
            throw ExitCode(1)
        }
    }
}
