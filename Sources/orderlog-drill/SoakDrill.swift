import ArgumentParser
import Foundation
import OrderLogClient
import OrderModel
import Synchronization
import WireProtocol

/// A mixed load for a set time — producers, subscribers that come and go, snapshot readers,
/// and a subscriber that never reads — with the server's resident memory sampled throughout.
/// Memory must level off, and the slow subscriber must not hold the others back.
struct SoakDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run a mixed load for a while; sample the server's memory; check it levels off and a stalled subscriber hurts no one.")

    @Option(help: "How long, in seconds.") var seconds = 600
    @Option(help: "Target events/s over all producers.") var rate = 3000
    @Option(help: "Producer connections.") var producers = 2
    @Option(help: "Subscribers that follow live, each reconnecting every 10–30 s.") var subscribers = 2
    @Option(help: "Sample every N seconds.") var sampleSeconds = 5
    @Option(help: "The server's snapshot cache (orders kept in memory).") var snapshotCache = 20_000
    @Option(help: "Memory the server may keep per order (its lists and key directory entry), bytes: growth over the second half beyond this for each order created counts as not levelling off.") var bytesPerOrder = 512
    @Option(help: "Write a plot of memory and throughput over time here (SVG).") var plot: String?
    @Option(help: "The orderlog binary (default: beside this one).") var orderlog: String?

    func run() async throws {
        lineBufferedOutput()
        let orderlog = self.orderlog ?? defaultOrderlog()
        let dir = try scratchDirectory("soak")
        let port = drillPort()
        let server = try ServerProcess.start(orderlog: orderlog, data: dir + "/data", port: port,
                                             extra: ["--snapshot-cache", String(snapshotCache)], logDirectory: dir)
        print("drill-soak: \(seconds) s, \(rate) events/s from \(producers) producers, \(subscribers) live subscribers, 1 stalled subscriber, 1 snapshot reader; server cache \(snapshotCache) orders")
        let stats = SoakStats()
        let stop = StopFlag()

        // The stalled subscriber: subscribes from the start of the log and never reads.
        let stalledClient = try await OrderLogClient.connect(port: port, clientName: "soak-stalled")
        let stalled = try await stalledClient.subscribe(from: .position(0), credits: 1000)

        let started = Date()
        var samples: [SoakSample] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<producers {
                group.addTask { try await produceLifecycles(producer: p, port: port, rate: Double(rate) / Double(producers), stats: stats, stop: stop) }
            }
            for s in 0..<subscribers {
                group.addTask { await followInTurns(subscriber: s, port: port, stats: stats, stop: stop) }
            }
            group.addTask { await readSnapshots(port: port, stats: stats, stop: stop) }
            while Date().timeIntervalSince(started) < Double(seconds) {
                try await Task.sleep(for: .seconds(sampleSeconds))
                let resident = server.resident ?? (0, 0)
                samples.append(stats.sample(at: Date().timeIntervalSince(started), rssKiB: resident.total, anonKiB: resident.anonymous))
                let s = samples.last!
                print(String(format: "t=%4.0f s  rss %6.1f MiB (anon %6.1f)  %6.0f events/s  %5.0f snapshots/s  orders %7d  live lag %6d events  stalled subscriber got %d",
                             s.t, Double(s.rssKiB) / 1024, Double(s.anonKiB) / 1024, s.eventsPerSecond, s.snapshotsPerSecond, s.orders, s.liveLagMax, stalledClient.subscriptionEventsReceived))
            }
            stop.raise()
            // Live subscribers wait for events that no longer come: cancelling ends their
            // streams (and unsubscribes).
            try await Task.sleep(for: .milliseconds(500))
            group.cancelAll()
            try await group.waitForAll()
            FileHandle.standardError.write(Data("soak: load stopped\n".utf8))
        }
        _ = stalled
        await stalledClient.close()

        var failures = stats.failures
        // Levelled off: over the second half, memory may grow only by what the orders created
        // in it need to be indexed (a store of record keeps every order findable); caches and
        // buffers must have stopped growing. Measured on anonymous memory (the heap): the
        // file-backed part is the active segment's pages read through mmap, bounded by the
        // segment size and dropped when it is sealed. Between the averages of the third and
        // the last quarter, so one noisy sample does not decide.
        let quarter = max(1, samples.count / 4)
        let third = samples.dropLast(quarter).suffix(quarter), last = samples.suffix(quarter)
        func mean(_ s: ArraySlice<SoakSample>, _ f: (SoakSample) -> Double) -> Double { s.map(f).reduce(0, +) / Double(max(1, s.count)) }
        let growthKiB = mean(last) { Double($0.anonKiB) } - mean(third) { Double($0.anonKiB) }
        let newOrders = mean(last) { Double($0.orders) } - mean(third) { Double($0.orders) }
        let perOrder = newOrders > 0 ? growthKiB * 1024 / newOrders : 0
        let slope = slopeMibPerMinute(samples.suffix(max(2, samples.count / 2)).map { ($0.t, Double($0.anonKiB) / 1024) })
        if samples.count >= 8 && perOrder > Double(bytesPerOrder) {
            failures.append(String(format: "anonymous memory grew %.0f bytes for each new order over the second half (limit %d): not levelling off", perOrder, bytesPerOrder))
        }
        // The stalled subscriber holds no more than its credits, and the others kept up.
        if stalledClient.subscriptionEventsReceived > 1000 { failures.append("the stalled subscriber was sent \(stalledClient.subscriptionEventsReceived) events on 1,000 credits") }
        let worstLag = samples.map(\.liveLagMax).max() ?? 0
        if worstLag > rate * 5 { failures.append("a live subscriber fell \(worstLag) events behind (over 5 s of load)") }
        for s in samples where s.eventsPerSecond > 0 && s.liveEventsPerSecond == 0 {
            failures.append(String(format: "at t=%.0f s the live subscribers received nothing while producers appended", s.t))
        }
        let finalProblems = try stopAndCheck(server, orderlog: orderlog, data: dir + "/data")
        failures += finalProblems

        if let plot { try SoakPlot.svg(samples: samples, title: "orderlog serve under a \(seconds) s soak").write(toFile: plot, atomically: true, encoding: .utf8) }
        let rss = samples.map { Double($0.rssKiB) / 1024 }
        let anon = samples.map { Double($0.anonKiB) / 1024 }
        let totalEvents = stats.totalEvents
        print(String(format: "memory: resident first %.1f, peak %.1f, last %.1f MiB; anonymous first %.1f, peak %.1f, last %.1f MiB; second half: anonymous %.2f MiB/min, %.0f bytes per new order (limit %d)",
                     rss.first ?? 0, rss.max() ?? 0, rss.last ?? 0, anon.first ?? 0, anon.max() ?? 0, anon.last ?? 0, slope, perOrder, bytesPerOrder) + (samples.count >= 8 ? "" : " — too short a run to judge"))
        print(String(format: "throughput: %d events (%.0f/s), %d snapshot reads, %d live-subscriber reconnections, worst live lag %d events",
                     totalEvents, Double(totalEvents) / Double(seconds), stats.totalSnapshots, stats.reconnections, worstLag))
        for f in failures.prefix(20) { print("  " + f) }
        print("drill-soak: \(failures.isEmpty ? "PASS" : "FAIL") — \(seconds) s, \(totalEvents) events, peak rss \(String(format: "%.1f", rss.max() ?? 0)) MiB, \(failures.count) failures")
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: dir) } else {
            print("data and server logs kept in \(dir)")
            throw ExitCode(1)
        }
    }

    func slopeMibPerMinute(_ points: [(Double, Double)]) -> Double {
        guard points.count >= 2 else { return 0 }
        let n = Double(points.count)
        let mx = points.map(\.0).reduce(0, +) / n, my = points.map(\.1).reduce(0, +) / n
        let num = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        let den = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        return den == 0 ? 0 : num / den * 60
    }
}

struct SoakSample {
    var t: Double
    var rssKiB: Int
    var anonKiB: Int
    var eventsPerSecond: Double
    var snapshotsPerSecond: Double
    var liveEventsPerSecond: Double
    var liveLagMax: Int
    /// Orders created so far.
    var orders: Int
}

/// Counters shared by the soak's tasks.
final class SoakStats: Sendable {
    private struct State {
        var events = 0, snapshots = 0, liveEvents = 0, reconnections = 0, orders = 0
        var lastSample: (t: Double, events: Int, snapshots: Int, live: Int) = (0, 0, 0, 0)
        var highestAcked: UInt64 = 0
        var liveSeen: [Int: UInt64] = [:]
        var failures: [String] = []
    }
    private let state = Mutex(State())

    func appended(_ n: Int, orders: Int, highest: UInt64) {
        state.withLock { $0.events += n; $0.orders += orders; $0.highestAcked = max($0.highestAcked, highest) }
    }
    func snapshotRead() { state.withLock { $0.snapshots += 1 } }
    func live(_ subscriber: Int, saw position: UInt64) { state.withLock { $0.liveEvents += 1; $0.liveSeen[subscriber] = position } }
    func reconnected() { state.withLock { $0.reconnections += 1 } }
    func fail(_ message: String) {
        FileHandle.standardError.write(Data("soak: \(message)\n".utf8))
        state.withLock { if $0.failures.count < 50 { $0.failures.append(message) } }
    }
    var failures: [String] { state.withLock { $0.failures } }
    var totalEvents: Int { state.withLock { $0.events } }
    var totalSnapshots: Int { state.withLock { $0.snapshots } }
    var reconnections: Int { state.withLock { $0.reconnections } }

    func sample(at t: Double, rssKiB: Int, anonKiB: Int) -> SoakSample {
        state.withLock { s in
            let dt = max(0.001, t - s.lastSample.t)
            let lag = s.liveSeen.values.map { Int(s.highestAcked) - Int($0) }.max() ?? 0
            let sample = SoakSample(t: t, rssKiB: rssKiB, anonKiB: anonKiB, eventsPerSecond: Double(s.events - s.lastSample.events) / dt,
                                    snapshotsPerSecond: Double(s.snapshots - s.lastSample.snapshots) / dt,
                                    liveEventsPerSecond: Double(s.liveEvents - s.lastSample.live) / dt, liveLagMax: max(0, lag), orders: s.orders)
            s.lastSample = (t, s.events, s.snapshots, s.liveEvents)
            return sample
        }
    }
}

/// Orders through a whole lifecycle, 50 at a time: each batch moves every order of the
/// producer's window one step on (placed → authorized → captured → fulfilment requested →
/// packed → shipped → delivered), and a delivered order makes room for a new one.
func produceLifecycles(producer p: Int, port: Int, rate: Double, stats: SoakStats, stop: StopFlag) async throws {
    let client = try await OrderLogClient.connect(port: port, clientName: "soak-producer-\(p)")
    var window = (0..<50).map { (id: "SOAK-P\(p)-\($0)", stage: 0, sku: "SKU-\($0 % 100)") }
    var next = 50
    let begin = ContinuousClock.now
    var sent = 0
    while !stop.isRaised {
        var events: [OrderEvent] = []
        for i in window.indices {
            let id = try! OrderID(window[i].id)
            let data: EventData = switch window[i].stage {
            case 0: .orderPlaced(customerID: "C\(Int.random(in: 0..<5000))", channel: "soak", currency: "EUR",
                                 lines: [PlacedLine(sku: window[i].sku, qty: 2, unitPriceMinor: 1500)], shippingMinor: nil, taxMinor: nil, discountMinor: nil)
            case 1: .paymentAuthorized(paymentID: "PAY-1", amountMinor: 3000)
            case 2: .paymentCaptured(paymentID: "PAY-1", amountMinor: 3000)
            case 3: .fulfillmentRequested(fulfillmentID: "F-1", location: "WH-1", lines: [SkuQuantity(sku: window[i].sku, qty: 2)])
            case 4: .fulfillmentPacked(fulfillmentID: "F-1")
            case 5: .shipped(fulfillmentID: "F-1", carrier: "DHL", trackingNo: "TRK\(Int.random(in: 100_000..<999_999))")
            default: .delivered(fulfillmentID: "F-1")
            }
            events.append(OrderEvent(orderID: id, eventID: "\(window[i].id)-\(window[i].stage)", data: data))
            window[i].stage += 1
            if window[i].stage == 7 { window[i] = (id: "SOAK-P\(p)-\(next)", stage: 0, sku: "SKU-\(next % 100)"); next += 1 }
        }
        do {
            let results = try await client.append(events)
            let highest = results.map { (r: ClientAppendResult) -> UInt64 in if case .stored(let pos, _) = r { pos } else { 0 } }.max() ?? 0
            stats.appended(events.count, orders: events.filter { $0.type == .orderPlaced }.count, highest: highest)
        } catch {
            stats.fail("producer \(p): \(error)")
            return
        }
        sent += events.count
        let due = begin + .seconds(Double(sent) / rate)
        if due > ContinuousClock.now { try? await Task.sleep(until: due) }
    }
    await client.close()
}

/// A live subscriber that disconnects after 10–30 s and resubscribes from where it stopped,
/// checking that it gets exactly the next position each time.
func followInTurns(subscriber s: Int, port: Int, stats: SoakStats, stop: StopFlag) async {
    var next: UInt64? = nil
    while !stop.isRaised {
        do {
            let client = try await OrderLogClient.connect(port: port, clientName: "soak-live-\(s)")
            let from: WireSubscribeFrom = next.map { .position($0) } ?? .end
            let until = Date().addingTimeInterval(Double.random(in: 10...30))
            for try await e in try await client.subscribe(from: from) {
                if let expected = next, e.position != expected { stats.fail("live subscriber \(s): got position \(e.position), expected \(expected)") }
                next = e.position + 1
                stats.live(s, saw: e.position)
                if stop.isRaised || Date() > until { break }
            }
            await client.close()
            if Task.isCancelled { return }
            stats.reconnected()
        } catch {
            if stop.isRaised { return }
            stats.fail("live subscriber \(s): \(error)")
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// Snapshots of orders the producers are working on, one after another.
func readSnapshots(port: Int, stats: SoakStats, stop: StopFlag) async {
    guard let client = try? await OrderLogClient.connect(port: port, clientName: "soak-snapshots") else {
        stats.fail("snapshot reader could not connect")
        return
    }
    while !stop.isRaised {
        do {
            _ = try await client.snapshotJSON("SOAK-P0-\(Int.random(in: 0..<200))")
            stats.snapshotRead()
        } catch {
            stats.fail("snapshot reader: \(error)")
            return
        }
        try? await Task.sleep(for: .milliseconds(1))
    }
    await client.close()
}
