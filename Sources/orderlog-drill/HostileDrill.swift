import ArgumentParser
import Dispatch
import Foundation
import OrderLogClient
import OrderModel
import Synchronization
import WireProtocol

/// Well-formed frames with hostile values against a running server (docs/RELIABILITY.md,
/// "Hostile values"): raw connections send every request and event type with extreme
/// integers, strings past every limit, invalid UTF-8 and odd attributes; a client presses on a
/// long order (as-of snapshots, history, rejected batches); a canary client appends to its own
/// order and reads it back, timing each round trip. Nothing may crash, no canary round trip
/// may exceed the bound, the canary's data must be exact, and everything stored must export
/// and import back byte for byte.
struct HostileDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hostile",
        abstract: "Send well-formed frames with hostile values while a canary client works; check nothing crashes, starves or breaks the export.")

    @Option(help: "How long, in seconds.") var seconds = 600
    @Option(help: "Connections sending hostile frames (each on a thread of its own).") var workers = 2
    @Option(help: "Events of the long order the drill builds first.") var longOrder = 200_000
    @Option(help: "No canary round trip (a durable append, or a snapshot read) may take longer, in ms.") var canaryBoundMs = 1000
    @Option(help: "Seed of the hostile frames.") var seed: UInt64 = 1
    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?

    final class Stats: Sendable {
        struct Counts {
            var frames = 0, connections = 0, closedByServer = 0
            var answers: [String: Int] = [:]
            var canary: [Double] = []  // ms
            var canaryErrors: [String] = []
            var pressure = 0, pressureErrors: [String] = []
        }
        let counts = Mutex(Counts())
    }

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let dir = try scratchDirectory("hostile")
        let port = drillPort()
        let data = dir + "/data"
        let server = try ServerProcess.start(orderlog: orderlog, data: data, port: port, extra: ["--segment-mib", "16"], logDirectory: dir)

        // The long order, and a few ordinary ones for requests to find.
        let setup = try await OrderLogClient.connect(port: port, clientName: "hostile-setup")
        let long = try OrderID("LONG-0")
        let started = ContinuousClock.now
        _ = try await setup.append(drillOrder("LONG-0", customer: "CUS-LONG", sku: "A", priceMinor: 1000, notes: []))
        var built = 1
        while built < longOrder {
            let n = min(10_000, longOrder - built)
            _ = try await setup.appendSplitting((0..<n).map { _ in OrderEvent(orderID: long, data: .noteAdded(text: "long order note")) })
            built += n
        }
        var known = ["LONG-0"]
        for k in 0..<20 {
            _ = try await setup.append(drillOrder("ORD-\(k)", customer: "CUS-\(k % 3)", sku: "A", priceMinor: 500, notes: ["n"]))
            known.append("ORD-\(k)")
        }
        await setup.close()
        print("drill-hostile: long order of \(built) events built in \(String(format: "%.1f", (ContinuousClock.now - started).milliseconds / 1000)) s; \(workers) hostile connections for \(seconds) s; canary bound \(canaryBoundMs) ms")

        let stats = Stats()
        let stop = StopFlag()
        let frameMax = 4 << 20

        // Hostile connections: blocking sockets, on threads of their own.
        let group = DispatchGroup()
        for w in 0..<workers {
            let knownOrders = known
            DispatchQueue.global().async(group: group) {
                var frames = HostileFrames(seed: seed &* 1000 &+ UInt64(w), knownOrders: knownOrders)
                while !stop.isRaised {
                    guard let c = try? RawConnection(port: port) else { continue }
                    _ = c.hello(token: "")
                    let n = 1 + frames.below(12)
                    var bytes: [UInt8] = []
                    for _ in 0..<n { bytes += frames.frame(frameMax: frameMax) }
                    bytes += Frame(requestID: 99, message: .close(reason: "done")).encoded()
                    c.send(bytes)
                    let (answers, closed) = c.receive(timeout: 5)
                    stats.counts.withLock { s in
                        s.frames += n
                        s.connections += 1
                        if closed && !answers.contains(where: { $0.message.type == .close }) { s.closedByServer += 1 }
                        for a in answers {
                            let key: String = switch a.message {
                            case .error(let code, _): "ERROR " + code
                            case .appendRejected(_, let code, _): "APPEND_REJECTED " + code
                            default: "\(a.message.type)"
                            }
                            s.answers[key, default: 0] += 1
                        }
                    }
                }
            }
        }

        // Pressure on the long order: as-of snapshots, its history, rejected batches.
        let pressure = Task {
            guard let client = try? await OrderLogClient.connect(port: port, clientName: "hostile-long") else { return }
            var k: UInt64 = 0
            while !stop.isRaised {
                k += 1
                do {
                    switch k % 4 {
                    case 0: _ = try await client.history("LONG-0")
                    case 1:
                        // Over-captures: rejected, after the long order was checked.
                        _ = try? await client.append([OrderEvent(orderID: long, data: .noteAdded(text: "x")), OrderEvent(orderID: long, data: .paymentCaptured(paymentID: "P", amountMinor: 5))])
                    default: _ = try await client.snapshotJSON("LONG-0", asOf: .position(k &* 7919 % UInt64(longOrder)))
                    }
                    stats.counts.withLock { $0.pressure += 1 }
                } catch {
                    stats.counts.withLock { $0.pressureErrors.append("\(error)") }
                }
            }
            await client.close()
        }

        // The canary: its own order, every round trip timed, every answer checked.
        let canary = Task {
            guard let client = try? await OrderLogClient.connect(port: port, clientName: "hostile-canary") else {
                stats.counts.withLock { $0.canaryErrors.append("could not connect") }
                return
            }
            let id = try! OrderID("CANARY-1")
            var version = 0
            do {
                _ = try await client.append(drillOrder("CANARY-1", customer: "CUS-CANARY", sku: "A", priceMinor: 100, notes: []))
                version = 1
                while !stop.isRaised {
                    let t0 = ContinuousClock.now
                    let results = try await client.append([OrderEvent(orderID: id, eventID: "c-\(version)", data: .noteAdded(text: "canary \(version)"))])
                    let t1 = ContinuousClock.now
                    version += 1
                    guard case .stored(_, let seq) = results.first, Int(seq) == version else {
                        stats.counts.withLock { $0.canaryErrors.append("append answered \(results), expected seq \(version)") }
                        break
                    }
                    let json = try await client.snapshotJSON("CANARY-1") ?? ""
                    let t2 = ContinuousClock.now
                    if !json.contains("\"version\":\(version),") {
                        stats.counts.withLock { $0.canaryErrors.append("snapshot after seq \(version) reads \(json.prefix(120))") }
                    }
                    stats.counts.withLock { $0.canary += [(t1 - t0).milliseconds, (t2 - t1).milliseconds] }
                    try await Task.sleep(for: .milliseconds(10))
                }
            } catch {
                stats.counts.withLock { $0.canaryErrors.append("\(error)") }
            }
            await client.close()
        }

        var peakKiB = 0
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline && server.isRunning {
            try await Task.sleep(for: .seconds(1))
            peakKiB = max(peakKiB, server.resident?.total ?? 0)
        }
        stop.raise()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in group.notify(queue: .global()) { c.resume() } }
        _ = await pressure.value
        _ = await canary.value

        var failures: [String] = []
        if !server.isRunning { failures.append("the server died (\(server.exitDescription)): \(server.errors.suffix(600))") }
        let counts = stats.counts.withLock { $0 }
        failures += counts.canaryErrors.map { "canary: " + $0 }
        failures += counts.pressureErrors.prefix(5).map { "long-order client: " + $0 }
        let sorted = counts.canary.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        let worst = sorted.last ?? 0
        if sorted.isEmpty { failures.append("the canary made no round trip") }
        if worst > Double(canaryBoundMs) { failures.append("a canary round trip took \(String(format: "%.1f", worst)) ms, over the bound of \(canaryBoundMs) ms") }
        if counts.frames == 0 { failures.append("no hostile frame was sent") }
        if server.isRunning { failures += try stopAndCheck(server, orderlog: orderlog, data: data) }

        // Everything stored exports, imports back and exports again byte for byte.
        let roundTrip = try runProgram("/bin/sh", ["-c", """
            set -e
            '\(orderlog)' export --data '\(data)' > '\(dir)/e1.jsonl'
            '\(orderlog)' import '\(dir)/e1.jsonl' --data '\(dir)/again' --fsync none > /dev/null
            '\(orderlog)' export --data '\(dir)/again' > '\(dir)/e2.jsonl'
            cmp '\(dir)/e1.jsonl' '\(dir)/e2.jsonl'
            wc -l < '\(dir)/e1.jsonl'
            """])
        if !roundTrip.succeeded { failures.append("export → import → export: \(roundTrip.summary)") }

        print("frames sent: \(counts.frames) on \(counts.connections) connections (\(counts.closedByServer) closed by the server after an error)")
        for (answer, n) in counts.answers.sorted(by: { $0.value > $1.value }) { print("  \(n)\t\(answer)") }
        print("long-order requests: \(counts.pressure); server peak RSS \(peakKiB / 1024) MiB")
        print(String(format: "canary: %d round trips, p50 %.2f ms, p99 %.2f ms, max %.2f ms (bound %d ms)", sorted.count, percentile(0.5), percentile(0.99), worst, canaryBoundMs))
        if roundTrip.succeeded { print("export → import → export identical: \(roundTrip.output.trimmingCharacters(in: .whitespacesAndNewlines)) events") }
        if failures.isEmpty {
            print("drill-hostile: PASS")
            try? FileManager.default.removeItem(atPath: dir)
        } else {
            for f in failures { print("FAIL: \(f)") }
            print("drill-hostile: FAIL (\(failures.count) problems; files in \(dir))")
            throw ExitCode(1)
        }
    }
}

extension Duration {
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
