import ArgumentParser
import Foundation
import Histogram
import OrderLogClient
import OrderModel
import OrderWorkload
import WireProtocol

/// A load generator for order throughput against a running server: realistic order
/// lifecycles from several producer connections, optional subscribers, idle connections, and
/// snapshot round trips; reports throughput and latency percentiles (HdrHistogram).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load a running server: producers, subscribers, idle connections; report events/s and latencies.")

    @Option(help: "Server address, HOST:PORT.") var server = "127.0.0.1:7717"
    @Option(help: "Token for a server started with --tokens (default: $ORDERLOG_TOKEN).") var token: String?
    @Option(help: "Producer connections.") var producers = 1
    @Option(help: "Orders each producer sends (each ~7.5 events).") var orders = 100_000
    @Option(help: "Events per append.") var batch = 1000
    @Option(help: "Appends each producer keeps in flight.") var pipeline = 8
    @Option(help: "Target events/s across producers (0: as fast as possible).") var rate = 0
    @Option(help: "Subscriber connections following the log live.") var subscribers = 1
    @Option(help: "Extra idle connections held open during the run.") var idleConnections = 0
    @Option(help: "Snapshot round trips measured after the load.") var snapshots = 20_000
    @Flag(help: "After the load, replay the whole log from position 0 to one subscriber, as stored records (not decoded), and report events/s.") var replay = false

    func run() async throws {
        let (host, port) = try parseServer(server)
        // Events are made before the clock starts; each producer has its own order ids.
        let perProducer: [[OrderEvent]] = (0..<producers).map { p in
            var o = OrderWorkloadGenerator.Options()
            o.orders = orders
            o.seed = UInt64(p + 1)
            o.idPrefix = "B\(ProcessInfo.processInfo.processIdentifier)-\(p)-"
            o.openOrders = 0
            var events: [OrderEvent] = []
            OrderWorkloadGenerator(options: o).generate { events.append($0) }
            return events
        }
        let total = perProducer.reduce(0) { $0 + $1.count }
        print("bench: \(producers) producer(s) × \(orders) orders = \(total) events, batch \(batch), pipeline \(pipeline), \(subscribers) subscriber(s), \(idleConnections) idle connection(s), rate \(rate == 0 ? "max" : String(rate))")

        var idle: [OrderLogClient] = []
        for i in 0..<idleConnections { idle.append(try await OrderLogClient.connect(host: host, port: port, clientName: "idle-\(i)", token: resolvedToken(token))) }

        // Subscribers: from the end; latency is receipt time minus the event's ts, which the
        // producer sets to the moment it sends the batch.
        let subscriberClients = try await (0..<subscribers).asyncMap { i in try await OrderLogClient.connect(host: host, port: port, clientName: "sub-\(i)", token: resolvedToken(token)) }
        let subscriberTasks = try await subscriberClients.asyncMap { client in
            let stream = try await client.subscribe(from: .end, credits: 50_000)
            return Task { () -> Histogram<UInt64> in
                var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                var seen = 0
                do {
                    for try await e in stream {
                        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                        h.record(UInt64(max(1, (now - (e.event.ts?.microseconds ?? now)) * 1000)))
                        seen += 1
                        if seen == total { break }
                    }
                } catch {}
                return h
            }
        }

        let started = ContinuousClock.now
        let perProducerRate = rate > 0 ? Double(rate) / Double(producers) : 0
        let acks = try await withThrowingTaskGroup(of: Histogram<UInt64>.self) { group in
            for p in 0..<producers {
                let events = perProducer[p]
                let client = try await OrderLogClient.connect(host: host, port: port, clientName: "producer-\(p)", token: resolvedToken(token))
                group.addTask {
                    var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
                    let begin = ContinuousClock.now
                    try await withThrowingTaskGroup(of: UInt64.self) { inflight in
                        var running = 0
                        for (k, start) in stride(from: 0, to: events.count, by: batch).enumerated() {
                            if perProducerRate > 0 {
                                let due = begin + .nanoseconds(Int64(Double(start) / perProducerRate * 1e9))
                                if due > ContinuousClock.now { try await Task.sleep(until: due) }
                            }
                            if running == pipeline { h.record(try await inflight.next()!); running -= 1 }
                            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                            let slice = events[start..<min(events.count, start + batch)].map { e in var e = e; e.ts = EventTime(microseconds: now); return e }
                            // Sent here, in order; answered in the background.
                            let t0 = ContinuousClock.now
                            let ticket = try await client.send(slice)
                            inflight.addTask {
                                _ = try await client.result(of: ticket)
                                return UInt64(max(1, (ContinuousClock.now - t0).nanoseconds))
                            }
                            running += 1
                            _ = k
                        }
                        while let ns = try await inflight.next() { h.record(ns) }
                    }
                    await client.close()
                    return h
                }
            }
            var merged = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            for try await h in group { merged.add(h) }
            return merged
        }
        let seconds = (ContinuousClock.now - started).seconds
        let placed = perProducer.reduce(0) { $0 + $1.filter { $0.type == .orderPlaced }.count }
        print(String(format: "ingest: %.0f events/s, %.0f orders/s (%d events in %.2f s)", Double(total) / seconds, Double(placed) / seconds, total, seconds))
        print("append acknowledgement: " + percentiles(acks))
        for (i, task) in subscriberTasks.enumerated() {
            let h = await task.value
            print("producer → subscriber \(i) (\(h.totalCount) events): " + percentiles(h))
        }

        if snapshots > 0 && !perProducer[0].isEmpty {
            let client = try await OrderLogClient.connect(host: host, port: port, clientName: "snapshots", token: resolvedToken(token))
            var h = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
            let ids = Set(perProducer[0].map(\.orderID.value)).shuffled()
            for k in 0..<snapshots {
                let t0 = ContinuousClock.now
                _ = try await client.snapshotJSON(ids[k % ids.count])
                h.record(UInt64(max(1, (ContinuousClock.now - t0).nanoseconds)))
            }
            print("snapshot round trip (one client): " + percentiles(h))
            await client.close()
        }
        if replay {
            let client = try await OrderLogClient.connect(host: host, port: port, clientName: "replay", token: resolvedToken(token))
            let t0 = ContinuousClock.now
            var events = 0
            // Ends once it has caught up with the end of the log (follow: false).
            for try await batch in try await client.subscribeRecords(from: .position(0), credits: Int(client.limits.maxCredits), follow: false) {
                events += batch.count
            }
            let s = (ContinuousClock.now - t0).seconds
            print(String(format: "replay from position 0 (one subscriber, stored records): %.0f events/s (%d events in %.2f s)", Double(events) / s, events, s))
            await client.close()
        }
        print("idle connections held: \(idle.count), all still answering: \(try await idle.asyncMap { try await $0.ping() }.count == idle.count)")
        for c in idle + subscriberClients { await c.close() }
    }

    func percentiles(_ h: Histogram<UInt64>) -> String {
        func us(_ p: Double) -> String { String(format: "%.1f", Double(h.valueAtPercentile(p)) / 1000) }
        return "p50 \(us(50)) µs, p99 \(us(99)) µs, p99.9 \(us(99.9)) µs, max \(String(format: "%.1f", Double(h.max) / 1000)) µs"
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
