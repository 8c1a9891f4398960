import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import OrderWorkload
import Synchronization
import WireProtocol

/// Kill the server with SIGKILL while producers append and a subscriber follows; after each
/// restart, everything acknowledged must be there exactly once and in order, nothing else
/// may be half there, the audit must be clean, and the subscriber must have missed nothing.
struct CrashDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash",
        abstract: "SIGKILL the server at random moments under load; check every acknowledged event after each restart.")

    @Option(help: "Rounds: start, load, kill, check.") var rounds = 200
    @Option(help: "Producer connections.") var producers = 3
    @Option(help: "Longest load before the kill, in ms (the kill comes at a random moment up to it).") var maxLoadMs = 1500
    @Option(help: "Run `orderlog audit` and `verify` every N rounds (and after the last).") var auditEvery = 10
    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?
    @Option(help: "Data directory (default: a new one under /tmp, removed after a pass).") var data: String?
    @Option(help: "Random seed (default: from the clock); printed so a failure can be replayed.") var seed: UInt64?
    @Option(help: "The server writes a checkpoint after this many new events (its --checkpoint-events; 0: none). Small, so kills land while one is written; each offline check then also compares a restart from the checkpoints with one from the log alone.") var checkpointEvents = 0
    @Flag(help: "Print a line per round.") var verbose = false

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let dir = try data ?? scratchDirectory("crash")
        let logs = try scratchDirectory("crash-logs")
        let seed = self.seed ?? UInt64(Date().timeIntervalSince1970 * 1000)
        var rng = SplitMix64(seed: seed)
        let port = drillPort()
        print("drill-crash: \(rounds) rounds, \(producers) producers, kill within \(maxLoadMs) ms, data \(dir), seed \(seed)")

        let seen = SeenEvents()
        let follower = Task {
            do {
                for try await e in OrderLogClient.resumingSubscription(port: port, from: 0, retryDelay: .milliseconds(50), attempts: 1_000_000) {
                    seen.append(e)
                }
            } catch { seen.fail("\(error)") }
        }
        defer { follower.cancel() }

        var failures: [String] = []
        var acknowledged = 0, checked = 0, killedMidBatch = 0, idleRounds = 0
        var roundStart: UInt64 = 0
        // With checkpoints, each write pauses twice (100 ms) so kills land in the middle of one.
        let serveArguments = ["--checkpoint-events", String(checkpointEvents)] + (checkpointEvents > 0 ? ["--checkpoint-write-pause-ms", "100"] : [])
        var tornCheckpoints = 0
        var server = try ServerProcess.start(orderlog: orderlog, data: dir, port: port, extra: serveArguments, logDirectory: logs)
        for round in 1...rounds {
            // Load, then a kill at a random moment.
            let stop = StopFlag()
            let killAfter = Int(rng.next() % UInt64(max(1, maxLoadMs))) + 20
            let ledgers = try await withThrowingTaskGroup(of: ProducerLedger.self) { group in
                for p in 0..<producers {
                    group.addTask { await produce(producer: p, round: round, port: port, stop: stop) }
                }
                try await Task.sleep(for: .milliseconds(killAfter))
                server.signal(SIGKILL)
                stop.raise()
                var all: [ProducerLedger] = []
                for try await l in group { all.append(l) }
                return all
            }
            _ = server.waitForExit()
            // A checkpoint the kill cut short leaves its temporary file (the next open removes it).
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
            if names.contains(where: { $0.hasSuffix(".ckpt.tmp") }) { tornCheckpoints += 1 }
            let roundAcks = ledgers.reduce(0) { $0 + $1.acknowledgedEvents }
            acknowledged += roundAcks
            if roundAcks == 0 { idleRounds += 1 }
            killedMidBatch += ledgers.reduce(0) { $0 + $1.unanswered }

            // Offline checks: recovery (the audit opens the log), every rule, every checksum.
            if round % auditEvery == 0 || round == rounds {
                let audit = try runProgram(orderlog, ["audit", "--data", dir, "--json"])
                if !audit.succeeded { failures.append("round \(round): audit failed: \(audit.summary)") }
                let verify = try runProgram(orderlog, ["verify", "--data", dir])
                if !verify.succeeded { failures.append("round \(round): verify after recovery failed: \(verify.summary)") }
                if checkpointEvents > 0 { failures += try compareWithoutCheckpoints(orderlog: orderlog, data: dir, round: round) }
            }

            server = try ServerProcess.start(orderlog: orderlog, data: dir, port: port, extra: serveArguments, logDirectory: logs)
            do {
                let stored = try await readLog(port: port, from: roundStart)
                checked += stored.count
                let problems = check(round: round, stored: stored, from: roundStart, ledgers: ledgers)
                failures += problems
                let end = roundStart + UInt64(stored.count)
                // The subscriber resumes on its own; it must reach the end with nothing missing.
                let deadline = Date().addingTimeInterval(30)
                while seen.count < end && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
                failures += seen.check(against: stored, from: roundStart, round: round)
                roundStart = end
                if verbose || !problems.isEmpty {
                    print("round \(round): killed after \(killAfter) ms, \(roundAcks) events acknowledged, \(stored.count) stored, log end \(end)\(problems.isEmpty ? "" : ", \(problems.count) problem(s)")")
                }
            } catch {
                failures.append("round \(round): reading back after the restart failed: \(error)")
            }
            if failures.count > 20 { break }
        }
        server.signal(SIGTERM)
        if !server.waitForExit() || server.crashed() || server.process.terminationStatus != 0 {
            failures.append("the server did not stop cleanly on SIGTERM (\(server.exitDescription))")
        }
        // A drill whose producers never got an acknowledgement checked nothing.
        if idleRounds > rounds / 4 { failures.append("\(idleRounds) of \(rounds) rounds acknowledged no event: the load did not reach the server") }
        let verdict = failures.isEmpty ? "PASS" : "FAIL"
        for f in failures.prefix(20) { print("  " + f) }
        let checkpointNote = checkpointEvents > 0 ? ", \(tornCheckpoints) kills during a checkpoint write" : ""
        print("drill-crash: \(verdict) — \(rounds) rounds, \(acknowledged) events acknowledged, \(checked) events checked, \(killedMidBatch) batches unanswered at a kill, \(seen.count) delivered to the subscriber\(checkpointNote), \(failures.count) failures (seed \(seed))")
        if failures.isEmpty {
            if data == nil { try? FileManager.default.removeItem(atPath: dir) }
            try? FileManager.default.removeItem(atPath: logs)
        } else {
            print("data kept in \(dir), server logs in \(logs)")
            throw ExitCode(1)
        }
    }

    /// What the store answers when opened from its checkpoints (and the log after them) must
    /// be what it answers opened from the log alone: the totals, every status list, the audit's
    /// counts (the audit itself compares every order's state with the checkpoint's).
    func compareWithoutCheckpoints(orderlog: String, data: String, round: Int) throws -> [String] {
        let copy = data + "-nockpt"
        try? FileManager.default.removeItem(atPath: copy)
        try FileManager.default.copyItem(atPath: data, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try? FileManager.default.removeItem(atPath: copy + "/checkpoints")
        func answers(_ dir: String) throws -> [String] {
            var out = [try runProgram(orderlog, ["totals", "--data", dir, "--json"]).output]
            for status in OrderSnapshot.Status.allCases {
                out.append(try runProgram(orderlog, ["orders", "--data", dir, "--status", status.rawValue, "--limit", "1000000"]).output)
            }
            return out
        }
        let with = try answers(data), without = try answers(copy)
        return zip(with, without).enumerated().compactMap { k, pair in
            pair.0 == pair.1 ? nil : "round \(round): opened from its checkpoint the store answers otherwise than from its log (answer \(k): \(pair.0.prefix(120)) vs \(pair.1.prefix(120)))"
        }
    }

    func check(round: Int, stored: [StoredEvent], from: UInt64, ledgers: [ProducerLedger]) -> [String] {
        var problems: [String] = []
        var byEventID: [String: StoredEvent] = [:]
        for (i, e) in stored.enumerated() {
            if e.position != from + UInt64(i) { problems.append("round \(round): position \(e.position) where \(from + UInt64(i)) was expected") }
            guard let id = e.event.eventID else { problems.append("round \(round): event at \(e.position) has no event_id"); continue }
            if byEventID.updateValue(e, forKey: id) != nil { problems.append("round \(round): event \(id) stored twice") }
        }
        var known = Set<String>()
        for ledger in ledgers {
            var lastPosition: UInt64?
            for batch in ledger.batches {
                known.formUnion(batch.eventIDs)
                let present = batch.eventIDs.filter { byEventID[$0] != nil }.count
                if let positions = batch.positions {
                    // Acknowledged: every event where the server said, in the order acknowledged.
                    for (id, p) in zip(batch.eventIDs, positions) {
                        guard let e = byEventID[id] else { problems.append("round \(round): acknowledged event \(id) (position \(p)) is missing"); continue }
                        if e.position != p { problems.append("round \(round): acknowledged event \(id) is at \(e.position), acknowledged at \(p)") }
                        if e.event.orderID.value != batch.orderID { problems.append("round \(round): event \(id) belongs to \(e.event.orderID), sent for \(batch.orderID)") }
                    }
                    if let first = positions.first, let last = lastPosition, first <= last {
                        problems.append("round \(round): producer \(ledger.producer) batch \(batch.orderID) acknowledged at \(first), before the previous one (\(last))")
                    }
                    lastPosition = positions.last ?? lastPosition
                } else if present != 0 && present != batch.eventIDs.count {
                    problems.append("round \(round): unacknowledged batch \(batch.orderID) is half there: \(present) of \(batch.eventIDs.count) events")
                }
            }
        }
        for id in byEventID.keys where !known.contains(id) { problems.append("round \(round): event \(id) was never sent") }
        return problems
    }
}

/// One producer's round: batches sent, and where the server said each was stored.
struct ProducerLedger: Sendable {
    struct Batch: Sendable {
        var orderID: String
        var eventIDs: [String]
        var positions: [UInt64]?
    }
    var producer: Int
    var batches: [Batch] = []
    var unanswered = 0

    var acknowledgedEvents: Int { batches.reduce(0) { $0 + ($1.positions?.count ?? 0) } }
}

/// Appends batches (a new order: placed, then notes) with up to 4 in flight until told to
/// stop or the connection fails; records what was acknowledged.
func produce(producer p: Int, round: Int, port: Int, stop: StopFlag) async -> ProducerLedger {
    var ledger = ProducerLedger(producer: p)
    guard let client = try? await OrderLogClient.connect(port: port, clientName: "drill-producer-\(p)") else { return ledger }
    var inflight: [(ticket: OrderLogClient.AppendTicket, index: Int)] = []
    var n = 0
    var failed = false
    func settle(_ item: (ticket: OrderLogClient.AppendTicket, index: Int)) async {
        do {
            let results = try await client.result(of: item.ticket)
            ledger.batches[item.index].positions = results.map {
                switch $0 {
                case .stored(let position, _): position
                case .duplicate(let position): position
                }
            }
        } catch {
            ledger.unanswered += 1
            failed = true
        }
    }
    while !stop.isRaised && !failed {
        let orderID = "R\(round)-P\(p)-\(n)"
        let events = drillOrder(orderID, customer: "C\(p)", sku: "SKU-\(n % 7)", priceMinor: 1000,
                                notes: (0..<Int.random(in: 0...8)).map { "note \($0)" })
        ledger.batches.append(.init(orderID: orderID, eventIDs: events.map { $0.eventID! }))
        n += 1
        do {
            inflight.append((try await client.send(events), ledger.batches.count - 1))
        } catch {
            failed = true
            break
        }
        if inflight.count >= 4 { await settle(inflight.removeFirst()) }
        // About 2,000 events a second a producer: enough to be mid-write at the kill, small
        // enough that restarts (which replay the log) stay quick over hundreds of rounds.
        try? await Task.sleep(for: .milliseconds(2))
    }
    for item in inflight { await settle(item) }
    await client.close()
    return ledger
}

/// What the drill's subscriber has received, in order.
final class SeenEvents: Sendable {
    private struct State {
        var events: [(position: UInt64, eventID: String?)] = []
        var failure: String?
        var checkedUpTo = 0
    }
    private let state = Mutex(State())

    func append(_ e: StoredEvent) { state.withLock { $0.events.append((e.position, e.event.eventID)) } }
    func fail(_ message: String) { state.withLock { $0.failure = message } }
    var count: UInt64 { UInt64(state.withLock { $0.events.count }) }

    /// The subscriber saw exactly `stored` (positions `from`…) after what it saw before.
    func check(against stored: [StoredEvent], from: UInt64, round: Int) -> [String] {
        state.withLock { s in
            var problems: [String] = []
            if let f = s.failure { problems.append("round \(round): the subscriber failed: \(f)") }
            for (i, e) in s.events.enumerated().dropFirst(s.checkedUpTo) where e.position != UInt64(i) {
                problems.append("round \(round): the subscriber's event \(i) is at position \(e.position) (gap or duplicate)")
                break
            }
            let got = s.events.count - Int(from)
            if got != stored.count { problems.append("round \(round): the subscriber has \(got) of the round's \(stored.count) events") }
            for (k, e) in stored.enumerated() where Int(from) + k < s.events.count {
                if s.events[Int(from) + k].eventID != e.event.eventID {
                    problems.append("round \(round): the subscriber's event at \(e.position) is \(s.events[Int(from) + k].eventID ?? "-"), the log has \(e.event.eventID ?? "-")")
                    break
                }
            }
            s.checkedUpTo = s.events.count
            return problems
        }
    }
}

/// Raised once, read from other tasks.
final class StopFlag: Sendable {
    private let value = Atomic(false)
    func raise() { value.store(true, ordering: .releasing) }
    var isRaised: Bool { value.load(ordering: .acquiring) }
}
