@preconcurrency import Glibc
import Foundation
import OrderLogClient
import OrderModel
import Synchronization
import WireProtocol

/// An `orderlog` child process: a server the drill starts, kills and restarts, or a one-shot
/// command (verify, audit, export) whose exit status and output it checks.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: used from the drill's one task at a time.
    let process: Process
    let port: Int
    let data: String
    let outputPath: String
    let errorPath: String

    private init(process: Process, port: Int, data: String, outputPath: String, errorPath: String) {
        self.process = process
        self.port = port
        self.data = data
        self.outputPath = outputPath
        self.errorPath = errorPath
    }

    /// Starts `orderlog serve` and waits until it says it is serving (or has exited).
    static func start(orderlog: String, data: String, port: Int, extra: [String] = [], logDirectory: String) throws -> ServerProcess {
        let stamp = UUID().uuidString.prefix(8)
        let out = logDirectory + "/serve-\(stamp).out", err = logDirectory + "/serve-\(stamp).err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: orderlog)
        process.arguments = ["serve", "--data", data, "--port", String(port)] + extra
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        ChildProcesses.add(process.processIdentifier)
        let server = ServerProcess(process: process, port: port, data: data, outputPath: out, errorPath: err)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if server.output.contains(" serving ") { return server }
            if !process.isRunning { throw DrillFailure("the server exited (\(server.exitDescription)) before serving: \(server.errors.suffix(600))") }
            usleep(20_000)
        }
        process.terminate()
        throw DrillFailure("the server did not say it was serving within 60 s")
    }

    /// A server the drill lost track of (a failure thrown past it) must not outlive it.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        ChildProcesses.remove(process.processIdentifier)
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end; false if it did not within `timeout`.
    @discardableResult
    func waitForExit(timeout: TimeInterval = 30) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return false }
        process.waitUntilExit()
        return true
    }

    /// True when the process ended by a signal the drill did not send (a crash).
    func crashed(sent: Int32? = nil) -> Bool {
        guard !process.isRunning, process.terminationReason == .uncaughtSignal else { return false }
        return process.terminationStatus != sent
    }

    var exitDescription: String {
        guard !process.isRunning else { return "running" }
        return process.terminationReason == .uncaughtSignal ? "signal \(process.terminationStatus)" : "exit \(process.terminationStatus)"
    }

    /// The resident memory of the process, in KiB (Linux /proc): all of it, and the part
    /// that is anonymous (heap, stacks) rather than mapped files (segments read through mmap,
    /// which the kernel can drop at any time).
    var resident: (total: Int, anonymous: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
            }
            return nil
        }
        guard let total = field("VmRSS"), let anonymous = field("RssAnon") else { return nil }
        return (total, anonymous)
    }
}

/// Every event the server at `port` has stored from `from` on, over a connection of its own.
func readLog(port: Int, from: UInt64 = 0, token: String = "") async throws -> [StoredEvent] {
    let client = try await OrderLogClient.connect(port: port, clientName: "drill-check", token: token)
    let events = try await client.storedEvents(from: from)
    await client.close()
    return events
}

extension OrderLogClient {
    /// Every event stored from `from` on (a subscription that ends once caught up).
    func storedEvents(from: UInt64 = 0) async throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        for try await e in try await subscribe(from: .position(from), follow: false) { events.append(e) }
        return events
    }
}

/// The end of most drills: the server stops cleanly on SIGTERM, and `verify` and `audit` of
/// its directory are clean. Returns what was not.
func stopAndCheck(_ server: ServerProcess, orderlog: String, data: String) throws -> [String] {
    var failures: [String] = []
    server.signal(SIGTERM)
    if !server.waitForExit() || server.process.terminationStatus != 0 { failures.append("the server did not stop cleanly (\(server.exitDescription))") }
    let verify = try runProgram(orderlog, ["verify", "--data", data])
    if !verify.succeeded { failures.append("verify: \(verify.summary)") }
    let audit = try runProgram(orderlog, ["audit", "--data", data])
    if !audit.succeeded { failures.append("audit: \(audit.summary)") }
    return failures
}

/// A new order for a drill: `OrderPlaced`, then a `NoteAdded` for each of `notes`, every event
/// with an `event_id` (`ID-0`, `ID-1`, …) so the drill can find each one in the log.
func drillOrder(_ id: String, customer: String, sku: String, priceMinor: Int64, notes: [String]) -> [OrderEvent] {
    let orderID = try! OrderID(id)
    var events = [OrderEvent(orderID: orderID, eventID: id + "-0", data: .orderPlaced(
        customerID: customer, channel: "drill", currency: "EUR", lines: [PlacedLine(sku: sku, qty: 1, unitPriceMinor: priceMinor)],
        shippingMinor: nil, taxMinor: nil, discountMinor: nil))]
    for (k, text) in notes.enumerated() { events.append(OrderEvent(orderID: orderID, eventID: id + "-\(k + 1)", data: .noteAdded(text: text))) }
    return events
}

/// The result of running `orderlog` once.
struct CommandResult {
    var status: Int32
    var signaled: Bool
    var output: String
    var errors: String

    var crashed: Bool { signaled }
    var succeeded: Bool { !signaled && status == 0 }
    var summary: String { (signaled ? "signal \(status)" : "exit \(status)") + ": " + (errors.isEmpty ? output : errors).trimmingCharacters(in: .whitespacesAndNewlines).prefix(300) }
}

/// Runs `program ARGUMENTS` (`orderlog`, or a system tool), with `input` (a file) on stdin if
/// given, and waits for it.
func runProgram(_ program: String, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 600) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let tmp = FileManager.default.temporaryDirectory.path + "/orderlog-drill-\(UUID().uuidString.prefix(8))"
    _ = FileManager.default.createFile(atPath: tmp + ".out", contents: nil)
    _ = FileManager.default.createFile(atPath: tmp + ".err", contents: nil)
    defer {
        try? FileManager.default.removeItem(atPath: tmp + ".out")
        try? FileManager.default.removeItem(atPath: tmp + ".err")
    }
    process.standardOutput = FileHandle(forWritingAtPath: tmp + ".out")
    process.standardError = FileHandle(forWritingAtPath: tmp + ".err")
    if let input { process.standardInput = FileHandle(forReadingAtPath: input) }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(5_000) }
    if process.isRunning {
        process.terminate()
        throw DrillFailure("\(program) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
        output: (try? String(contentsOfFile: tmp + ".out", encoding: .utf8)) ?? "",
        errors: (try? String(contentsOfFile: tmp + ".err", encoding: .utf8)) ?? "")
}

/// What a drill found wrong; the drill reports it and exits non-zero.
struct DrillFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port for the drill's server, kept across its restarts (the listening socket is bound
/// with SO_REUSEADDR, so a restarted server can take it again at once).
func drillPort() -> Int { 20_000 + Int.random(in: 0..<30_000) }

/// A fresh scratch directory.
func scratchDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.path + "/orderlog-drill-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The `orderlog` binary beside this one, unless told otherwise.
func defaultOrderlog() -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("orderlog").path
}

/// Drills print progress as they go, also into a pipe or a CI log; and kill their servers
/// if they are interrupted.
func lineBufferedOutput() {
    setvbuf(stdout, nil, _IOLBF, 0)
    ChildProcesses.killOnInterrupt()
}

/// The servers a drill has running, killed if the drill itself is interrupted (SIGINT,
/// SIGTERM — a CI timeout, say), so none is left behind serving a scratch directory.
enum ChildProcesses {
    /// Pids, 0 for a free slot: plain memory the signal handler can read (aligned 32-bit
    /// stores are atomic here; a slot read mid-update only misses a kill), written under a lock.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<Int32> = {
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: 64)
        p.initialize(repeating: 0, count: 64)
        return p
    }()
    private static let lock = Mutex(())

    static func add(_ pid: Int32) {
        lock.withLock { _ in
            for i in 0..<64 where slots[i] == 0 { slots[i] = pid; return }
        }
    }

    static func remove(_ pid: Int32) {
        lock.withLock { _ in
            for i in 0..<64 where slots[i] == pid { slots[i] = 0; return }
        }
    }

    /// Kills every registered child, then ends the drill, on SIGINT and SIGTERM. Only
    /// async-signal-safe calls (kill, _exit) run in the handler.
    static func killOnInterrupt() {
        _ = slots
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                for i in 0..<64 where ChildProcesses.slots[i] > 0 { kill(ChildProcesses.slots[i], SIGKILL) }
                _exit(128 + number)
            }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }
}
