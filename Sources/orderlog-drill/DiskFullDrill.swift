import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import WireProtocol

/// Run the server on a small filesystem and fill it: producers must get a clear error, nothing
/// acknowledged may be lost, reads must go on, and appends must succeed again once space is
/// freed. Needs root (it mounts a tmpfs).
struct DiskFullDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diskfull",
        abstract: "Fill a small tmpfs under a running server; check errors, reads, no loss, and recovery once space is freed.")

    @Option(help: "Size of the tmpfs, MiB.") var sizeMib = 24
    @Option(help: "A file this large (MiB) is deleted to free space after the disk has filled.") var fillerMib = 8
    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?
    @Flag(help: "Fail (instead of reporting SKIPPED) when no tmpfs can be mounted.") var requireMount = false

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let mountPoint = try scratchDirectory("diskfull")
        let mount = (try? runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=\(sizeMib)m", "tmpfs", mountPoint]))
            ?? CommandResult(status: 127, signaled: false, output: "", errors: "/bin/mount could not be run")
        guard mount.status == 0 else {
            try? FileManager.default.removeItem(atPath: mountPoint)
            let why = mount.errors.trimmingCharacters(in: .whitespacesAndNewlines)
            print("drill-diskfull: SKIPPED — cannot mount a \(sizeMib) MiB tmpfs here (needs root with CAP_SYS_ADMIN): \(why)")
            if requireMount { throw ExitCode(1) }
            return
        }
        defer {
            _ = try? runProgram("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        print("drill-diskfull: a \(sizeMib) MiB tmpfs at \(mountPoint), \(fillerMib) MiB of it held by a file freed later")
        let filler = mountPoint + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: Data(count: fillerMib << 20))
        let data = mountPoint + "/data"
        let logs = try scratchDirectory("diskfull-logs")
        let port = drillPort()
        var failures: [String] = []
        var server = try ServerProcess.start(orderlog: orderlog, data: data, port: port, extra: ["--segment-mib", "4"], logDirectory: logs)
        let client = try await OrderLogClient.connect(port: port, clientName: "drill-diskfull")

        // Fill it.
        var acked: [String: [UInt64]] = [:]  // order id → positions
        var sent: [String: Int] = [:]  // order id → events in its batch
        var n = 0
        /// Appends the next order; records where it was stored, or throws what the server said.
        func appendNext() async throws {
            let (id, events) = batch(n)
            n += 1
            sent[id] = events.count
            let results = try await client.append(events)
            acked[id] = results.map { if case .stored(let p, _) = $0 { p } else { UInt64.max } }
        }
        var fullErrors: [String] = []
        let started = Date()
        while fullErrors.count < 20 && Date().timeIntervalSince(started) < 120 {
            do { try await appendNext() } catch let error as ClientError { fullErrors.append(error.description) }
        }
        let ackedEvents = acked.values.reduce(0) { $0 + $1.count }
        guard let firstError = fullErrors.first else {
            throw DrillFailure("the disk never filled (\(ackedEvents) events acknowledged in 120 s)")
        }
        print("full after \(ackedEvents) acknowledged events; the producer was told: \(firstError)")
        if !fullErrors.allSatisfy({ $0.hasPrefix("storage:") && ($0.contains("space") || $0.contains("disk")) }) {
            failures.append("an append on a full disk was not answered with a clear storage error: \(fullErrors.first { !$0.contains("space") } ?? "")")
        }

        // Still up, still serving reads, nothing acknowledged lost.
        do {
            _ = try await client.ping()
            let stored = try await client.storedEvents()
            failures += check(stored, acked: acked, sent: sent, when: "while the disk is full")
            let someOrder = acked.keys.sorted().first!
            if try await client.history(someOrder).count != acked[someOrder]!.count { failures.append("history of \(someOrder) is wrong while the disk is full") }
            if try await client.snapshotJSON(someOrder) == nil { failures.append("no snapshot of \(someOrder) while the disk is full") }
        } catch {
            failures.append("reads failed while the disk was full: \(error)")
        }

        // Free space: appends succeed again.
        try FileManager.default.removeItem(atPath: filler)
        var recovered = false
        let freed = Date()
        var afterFree = 0
        while Date().timeIntervalSince(freed) < 15 && afterFree < 200 {
            do {
                try await appendNext()
                recovered = true
                afterFree += 1
            } catch {
                if recovered { failures.append("an append failed after appends had resumed: \(error)"); break }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        if !recovered { failures.append("appends did not succeed again within 15 s of freeing \(fillerMib) MiB") }
        else { print("appends resumed \(String(format: "%.2f", Date().timeIntervalSince(freed))) s after the space was freed; \(afterFree) more batches acknowledged") }
        await client.close()
        // Sealing resumes once there is space: every rolled segment gets sealed, leaving only
        // the active .log (the sealer retries at most 10 s apart).
        var unsealed = 0
        let sealDeadline = Date().addingTimeInterval(20)
        repeat {
            unsealed = ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? []).filter { $0.hasSuffix(".log") }.count
            if unsealed <= 1 { break }
            try await Task.sleep(for: .milliseconds(250))
        } while Date() < sealDeadline
        if unsealed > 1 { failures.append("\(unsealed - 1) rolled segment(s) still unsealed 20 s after space was freed") }

        // A clean stop, a restart, and everything acknowledged still there.
        server.signal(SIGTERM)
        if !server.waitForExit() || server.process.terminationStatus != 0 { failures.append("the server did not stop cleanly (\(server.exitDescription)): \(server.errors.suffix(300))") }
        server = try ServerProcess.start(orderlog: orderlog, data: data, port: port, logDirectory: logs)
        let reader = try await OrderLogClient.connect(port: port, clientName: "drill-diskfull-check")
        let stored = try await reader.storedEvents()
        failures += check(stored, acked: acked, sent: sent, when: "after the restart")
        await reader.close()
        failures += try stopAndCheck(server, orderlog: orderlog, data: data)

        for f in failures { print("  " + f) }
        let total = acked.values.reduce(0) { $0 + $1.count }
        let serverLog = (try? FileManager.default.contentsOfDirectory(atPath: logs))?.filter { $0.hasSuffix(".err") }
            .compactMap { try? String(contentsOfFile: logs + "/" + $0, encoding: .utf8) }.joined() ?? ""
        let sealPauses = serverLog.components(separatedBy: "sealing paused").count - 1
        if serverLog.contains("sealing failed") { failures.append("the sealer gave up instead of waiting for space") }
        print("the sealer paused \(sealPauses) time(s) on the full disk; \(unsealed <= 1 ? "every rolled segment was sealed once space was freed" : "sealing did not resume")")
        print("drill-diskfull: \(failures.isEmpty ? "PASS" : "FAIL") — \(total) events acknowledged, \(stored.count) stored after the restart, \(fullErrors.count) appends refused while full, \(failures.count) failures")
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: logs) } else {
            print("server logs in \(logs)")
            throw ExitCode(1)
        }
    }

    /// A new order of 20 events with 200-byte notes (about 5 KB), of random letters so that
    /// sealed segments take real space and the sealer meets the full disk too.
    func batch(_ n: Int) -> (String, [OrderEvent]) {
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789 ")
        let id = "FULL-\(n)"
        return (id, drillOrder(id, customer: "C\(n % 50)", sku: "SKU-1", priceMinor: 500,
                               notes: (1..<20).map { _ in String((0..<200).map { _ in letters.randomElement()! }) }))
    }

    /// Every acknowledged event where it was acknowledged; no batch half there.
    func check(_ stored: [StoredEvent], acked: [String: [UInt64]], sent: [String: Int], when: String) -> [String] {
        var problems: [String] = []
        var byOrder: [String: [UInt64]] = [:]
        for (i, e) in stored.enumerated() {
            if e.position != UInt64(i) { problems.append("\(when): position \(e.position) at index \(i)"); break }
            byOrder[e.event.orderID.value, default: []].append(e.position)
        }
        for (id, positions) in acked where byOrder[id] != positions {
            problems.append("\(when): acknowledged order \(id) has \(byOrder[id]?.count ?? 0) of its \(positions.count) events where acknowledged")
        }
        for (id, positions) in byOrder where acked[id] == nil && positions.count != sent[id] {
            problems.append("\(when): unacknowledged order \(id) is half there (\(positions.count) of \(sent[id] ?? 0))")
        }
        return problems
    }
}
