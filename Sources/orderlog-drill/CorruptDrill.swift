import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import OrderWorkload
import WireProtocol

/// Damage copies of a real data directory — flipped bytes, truncation, zeroed ranges, deleted
/// files — and check that `orderlog verify` names each damage and that the server either
/// recovers as docs/FORMAT.md says or refuses to start, naming the file: never a crash, never
/// a wrong event served, never records dropped without a word.
struct CorruptDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corrupt",
        abstract: "Damage copies of a data directory at random; verify must name the damage, the server must recover or refuse.")

    @Option(help: "Damaged copies to try.") var trials = 200
    @Option(help: "Orders in the data directory that is damaged (4 MiB segments: several sealed segments and indexes).") var orders = 12000
    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?
    @Option(help: "Random seed (default: from the clock).") var seed: UInt64?
    @Flag(help: "Print a line per trial.") var verbose = false

    enum Damage: String, CaseIterable { case flip, truncate, zero, delete }

    /// Whether `inspect` finds the totals marks file made of whole marks.
    func marksReadWhole(orderlog: String, data: String) throws -> Bool {
        let inspected = try runProgram(orderlog, ["inspect", "--data", data, "--json"])
        return inspected.succeeded && inspected.output.contains("\"clean\":true")
    }

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let seed = self.seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SplitMix64(seed: seed)
        let work = try scratchDirectory("corrupt")
        let pristine = work + "/pristine"
        let port = drillPort()
        print("drill-corrupt: \(trials) trials on a directory of \(orders) orders, seed \(seed)")

        // A real directory: generated orders imported through a server with small segments.
        let generated = work + "/orders.jsonl"
        let gen = try runProgram(orderlog, ["generate", "--orders", String(orders), "--output", generated])
        guard gen.succeeded else { throw DrillFailure("generate failed: \(gen.summary)") }
        let builder = try ServerProcess.start(orderlog: orderlog, data: pristine, port: port, extra: ["--segment-mib", "4"], logDirectory: work)
        let imported = try runProgram(orderlog, ["import", generated, "--server", "127.0.0.1:\(port)"])
        guard imported.succeeded else { throw DrillFailure("import failed: \(imported.summary)") }
        builder.signal(SIGTERM)
        guard builder.waitForExit(), !builder.crashed() else { throw DrillFailure("the server did not stop cleanly") }
        // A checkpoint of every order's state (docs/FORMAT.md §13): damaged too.
        let checkpointed = try runProgram(orderlog, ["checkpoint", "--data", pristine])
        guard checkpointed.succeeded else { throw DrillFailure("checkpoint failed: \(checkpointed.summary)") }
        let clean = try runProgram(orderlog, ["verify", "--data", pristine])
        guard clean.succeeded else { throw DrillFailure("the undamaged directory does not verify: \(clean.summary)") }
        let reference = try await served(orderlog: orderlog, data: try copy(pristine, to: work + "/reference"), port: port, logs: work).events
        let referenceAnswers = try answers(orderlog: orderlog, data: work + "/reference")
        let files = try FileManager.default.contentsOfDirectory(atPath: pristine).filter { $0 != "LOCK" && $0 != "checkpoints" }.sorted()
            + (try FileManager.default.contentsOfDirectory(atPath: pristine + "/checkpoints")).map { "checkpoints/" + $0 }
        print("directory: \(files.count) files (\(files.filter { $0.hasSuffix(".seg") }.count) sealed segments), \(reference.count) events")

        var failures: [String] = []
        var tally: [String: Int] = [:]
        for trial in 1...trials {
            let dir = try copy(pristine, to: work + "/trial")
            let file = files[Int(rng.next() % UInt64(files.count))]
            let path = dir + "/" + file
            let damage = Damage.allCases[Int(rng.next() % 4)]
            guard let what = try apply(damage, to: path, rng: &rng) else { continue }
            let label = "trial \(trial): \(what) in \(file)"

            // verify must say what and where. (A checkpoint deleted is no damage: the state is
            // rebuilt from the log.)
            let isCheckpoint = file.hasPrefix("checkpoints/")
            let verify = try runProgram(orderlog, ["verify", "--data", dir, "--json"])
            let problems = parseProblems(verify.output)
            if verify.crashed { failures.append("\(label): verify crashed (\(verify.summary))") }
            else if isCheckpoint && damage == .delete { if verify.status != 0 { failures.append("\(label): verify reports a deleted checkpoint: \(verify.summary)") } }
            // The totals marks are a sequence of whole marks: cut at a mark's end, the file is
            // one of fewer marks, which is no damage (FORMAT.md §14) — inspect says whether the
            // file still reads to its end.
            else if verify.status == 0, try !(file.hasSuffix("totals.marks") && damage == .truncate && marksReadWhole(orderlog: orderlog, data: dir)) {
                failures.append("\(label): verify found nothing")
            }
            else if !problems.contains(where: { $0.file.hasSuffix(file) || $0.message.contains(file) || (damage == .delete && $0.kind == "gap") }) {
                failures.append("\(label): verify did not name \(file): \(problems.map(\.text).joined(separator: "; "))")
            } else if damage != .delete, file.hasSuffix(".seg") || file.hasSuffix(".log"),
                      !problems.contains(where: { $0.file.hasSuffix(file) && $0.offset != nil }) {
                failures.append("\(label): verify named \(file) without an offset: \(problems.map(\.text).joined(separator: "; "))")
            }
            let kinds = Set(problems.map(\.kind)).sorted().joined(separator: ",")

            // The server: recover as FORMAT.md says, or refuse to start naming the file.
            var outcome: String
            do {
                let result = try await served(orderlog: orderlog, data: dir, port: port, logs: work)
                let events = result.events
                var wrong = 0
                for (i, e) in events.enumerated() where i >= reference.count || e != reference[i] { wrong += 1 }
                if wrong > 0 { failures.append("\(label): the server served \(wrong) event(s) that differ from what was stored") }
                if events.count < reference.count {
                    // Records lost to the damage: allowed only at the damaged place and on,
                    // and only if the server said so.
                    if !result.log.contains(file) && !result.log.contains(String(file.prefix(20))) {
                        failures.append("\(label): the server dropped \(reference.count - events.count) events without naming \(file): \(result.log.suffix(300))")
                    }
                    outcome = result.log.contains("read error") ? "served \(events.count) events, then refused the damaged part with an error"
                        : "recovered, \(reference.count - events.count) events dropped and reported"
                } else {
                    outcome = "recovered, all \(events.count) events"
                }
                if result.crashed { failures.append("\(label): the server crashed or did not stop on SIGTERM") }
                // A damaged checkpoint is passed over (or only its damaged entries): the store
                // must answer as the undamaged one does.
                if isCheckpoint, try answers(orderlog: orderlog, data: dir) != referenceAnswers {
                    failures.append("\(label): with the damaged checkpoint the store's totals or lists differ from the undamaged store's")
                }
                if result.log.contains("stopped answering") { failures.append("\(label): \(result.log.prefix(300))") }
            } catch let refusal as Refusal {
                if refusal.crashed { failures.append("\(label): the server crashed at start: \(refusal.message)") }
                else if !refusal.message.contains(file) && !refusal.message.contains(String(file.prefix(20))) {
                    failures.append("\(label): the server refused to start without naming \(file): \(refusal.message)")
                }
                outcome = "refused to start"
            }
            tally["\(damage.rawValue) .\(file.split(separator: ".").last ?? "") → \(outcome.hasPrefix("refused") ? "refused to start" : outcome.hasPrefix("served") ? "read error naming the damage" : outcome.contains("dropped") ? "recovered with loss reported" : "recovered whole")", default: 0] += 1
            if verbose { print("\(label): verify [\(kinds)]; server \(outcome)") }
            try? FileManager.default.removeItem(atPath: dir)
            if failures.count > 20 { break }
        }
        print("outcomes:")
        for (k, n) in tally.sorted(by: { $0.key < $1.key }) { print("  \(k): \(n)") }
        for f in failures.prefix(20) { print("  " + f) }
        print("drill-corrupt: \(failures.isEmpty ? "PASS" : "FAIL") — \(trials) trials, \(failures.count) failures (seed \(seed))")
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: work) } else {
            print("work directory kept: \(work)")
            throw ExitCode(1)
        }
    }

    /// What a store answers beyond its events: the totals and every status list.
    func answers(orderlog: String, data: String) throws -> [String] {
        var out = [try runProgram(orderlog, ["totals", "--data", data, "--json"]).output]
        for status in OrderSnapshot.Status.allCases {
            out.append(try runProgram(orderlog, ["orders", "--data", data, "--status", status.rawValue, "--limit", "1000000", "--json"]).output)
        }
        return out
    }

    struct Problem {
        var file: String, offset: Int?, kind: String, message: String
        var text: String { "\(file)\(offset.map { " @\($0)" } ?? ""): \(kind): \(message)" }
    }

    func parseProblems(_ json: String) -> [Problem] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let list = object["problems"] as? [[String: Any]] else { return [] }
        return list.map { p in
            Problem(file: p["file"] as? String ?? "", offset: p["offset"] as? Int, kind: p["kind"] as? String ?? "", message: p["message"] as? String ?? "")
        }
    }

    /// Damages `path`; returns what was done, or nil if it would change nothing.
    func apply(_ damage: Damage, to path: String, rng: inout SplitMix64) throws -> String? {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard !bytes.isEmpty || damage == .delete else { return nil }
        switch damage {
        case .flip:
            let at = Int(rng.next() % UInt64(bytes.count))
            let mask = UInt8(truncatingIfNeeded: rng.next() % 255 + 1)
            bytes[at] ^= mask
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return "byte \(at) xor 0x\(String(mask, radix: 16))"
        case .truncate:
            let to = Int(rng.next() % UInt64(bytes.count))
            try Data(bytes[0..<to]).write(to: URL(fileURLWithPath: path))
            return "truncated from \(bytes.count) to \(to) bytes"
        case .zero:
            let at = Int(rng.next() % UInt64(bytes.count))
            let count = min(bytes.count - at, Int(rng.next() % 4096) + 1)
            guard bytes[at..<(at + count)].contains(where: { $0 != 0 }) else { return nil }
            for i in at..<(at + count) { bytes[i] = 0 }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return "\(count) bytes zeroed at \(at)"
        case .delete:
            try FileManager.default.removeItem(atPath: path)
            return "deleted"
        }
    }

    struct Refusal: Error { var message: String; var crashed: Bool }

    /// Starts a server on `data`, reads every event, stops it.
    func served(orderlog: String, data: String, port: Int, logs: String) async throws -> (events: [StoredEvent], log: String, crashed: Bool) {
        let server: ServerProcess
        do {
            server = try ServerProcess.start(orderlog: orderlog, data: data, port: port, logDirectory: logs)
        } catch let failure as DrillFailure {
            throw Refusal(message: failure.description, crashed: failure.description.contains("(signal"))
        }
        var events: [StoredEvent] = []
        var readError = ""
        do {
            let client = try await OrderLogClient.connect(port: port, clientName: "drill-corrupt")
            do {
                events = try await client.storedEvents()
            } catch {
                // Damage found while reading: the server must say so (and keep serving).
                readError = "read error: \(error)\n"
                _ = try await client.ping()
            }
            await client.close()
        } catch {
            readError += "the server stopped answering: \(error)\n"
        }
        server.signal(SIGTERM)
        let stopped = server.waitForExit()
        return (events, readError + server.errors + server.output, !stopped || server.crashed() || server.process.terminationStatus != 0)
    }

    func copy(_ source: String, to target: String) throws -> String {
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: source, toPath: target)
        try? FileManager.default.removeItem(atPath: target + "/LOCK")
        return target
    }
}
