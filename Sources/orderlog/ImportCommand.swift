import ArgumentParser
import Foundation
import LogStorage
import OrderLogClient
import OrderModel
import OrderStore
import WireProtocol

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Append events from a JSONL file (or - for standard input).",
        discussion: """
            Every event is checked against the lifecycle rules. By default the import stops at the \
            first invalid line, naming its line number and the reason, after storing every line \
            before it. With --skip-invalid it stores the valid lines and lists the others. Events \
            whose event_id their order already has are not stored again.
            """)

    @Argument(help: "A JSONL file, or - for standard input.") var file: String
    @Option(help: "Data directory (embedded mode).") var data: String?
    @Option(help: "Server address, HOST:PORT (network mode; keeping an export's recorded_at needs role admin).") var server: String?
    @Option(help: "Token for a server started with --tokens (default: $ORDERLOG_TOKEN).") var token: String?
    @Flag(help: "Store the valid lines and list the invalid ones, instead of stopping at the first.") var skipInvalid = false
    @Option(help: "Events per append batch (1–10000).") var batch = 1000
    @Option(help: "Durability: always, none, or interval:MS.") var fsync = "always"
    @Option(help: "Embedded: write a checkpoint of every order's state after this many new events (and an eighth of the log), in the background; 0: none.") var checkpointEvents = 1_000_000
    @Flag(help: "Print the summary as JSON.") var json = false

    struct Failure { var line: Int; var code: String; var message: String }

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1–10000") }
        guard (data == nil) != (server == nil) else { throw ValidationError("give --data DIR or --server HOST:PORT") }
    }

    /// Why a batch was not stored.
    enum BatchFailure: Error {
        /// Event `index` broke a rule (or could not be read); nothing of the batch was stored.
        case rejected(index: Int, code: String, message: String)
        /// The batch is too large for one append; a smaller one may go through.
        case tooLarge
    }

    func run() async throws {
        // One way to append a batch, embedded or over the network; true for each event stored,
        // false for each already stored (same event_id).
        // The batch may come checked (`OrderStore.check`, on the parsing thread).
        let appendBatch: (ArraySlice<AppendRecord>, OrderStore.CheckedBatch?) async throws -> [Bool]
        var check: (@Sendable ([AppendRecord]) -> OrderStore.CheckedBatch?)?
        // Waits until every batch appended is durable.
        var drain: () async throws -> Void = {}
        let finish: () async -> Void
        if let data {
            var configuration = StoreConfiguration()
            configuration.log.durability = try parsePolicy(fsync)
            guard checkpointEvents >= 0 else { throw ValidationError("--checkpoint-events must be 0 or more") }
            configuration.checkpointEvents = checkpointEvents
            let store = try OrderStore.open(path: data, configuration: configuration)
            // Batches written and waiting for their fsync. The next batch is checked and
            // written while up to `inFlightMax` wait (they share fsyncs, as concurrent
            // producers' batches do): the checks, not the disk, set the pace. A batch is
            // checked when written, so a rejected event still stops the import at its line.
            let inFlight = PendingWrites()
            let inFlightMax = 2
            check = { events in try? store.check(events) }
            appendBatch = { events, checked in
                do {
                    let written = try store.write(checked ?? store.check(Array(events)))
                    inFlight.items.append(written)
                    while inFlight.items.count > inFlightMax { _ = try await store.waitUntilDurable(inFlight.items.removeFirst()) }
                    return written.results.map { if case .stored = $0 { true } else { false } }
                } catch let error as StoreError where error.code == .storage && error.logError?.code == .invalidArgument {
                    throw BatchFailure.tooLarge
                } catch let error as StoreError where error.code == .rejected && error.eventIndex != nil {
                    throw BatchFailure.rejected(index: error.eventIndex!, code: error.stableCode, message: error.orderError?.detail ?? error.message)
                }
            }
            drain = { while !inFlight.items.isEmpty { _ = try await store.waitUntilDurable(inFlight.items.removeFirst()) } }
            finish = { try? store.close() }
        } else {
            let (host, port) = try parseServer(server!)
            let client = try await OrderLogClient.connect(host: host, port: port, clientName: "orderlog-import", token: resolvedToken(token))
            appendBatch = { events, _ in
                if events.count > Int(client.limits.maxEventsPerAppend) { throw BatchFailure.tooLarge }
                do {
                    // The binary forms as the lines gave them: the server reads and checks them.
                    let wire = events.map { r in
                        WireEvent(expectedVersion: Self.wire(r.expectedVersion), orderID: r.orderID.value, type: r.type.code, payload: r.payload,
                                  recordedAt: r.recordedAt ?? 0)
                    }
                    return try await client.append(wire: wire)
                        .map { if case .stored = $0 { true } else { false } }
                } catch let error as ClientError where error.eventIndex != nil {
                    throw BatchFailure.rejected(index: error.eventIndex!, code: error.code, message: error.message)
                } catch let error as ClientError where error.code == "frame_too_large" {
                    // Over the server's frame limit (the client refuses it before sending, so
                    // nothing of it was stored): halved until it fits, as for the log's batch
                    // limit; one event that fits no frame is an error naming its line.
                    if events.count > 1 { throw BatchFailure.tooLarge }
                    throw BatchFailure.rejected(index: 0, code: "event_too_large", message: error.message)
                }
            }
            finish = { await client.close() }
        }
        // Lines are read and decoded on another thread while batches are appended here.
        let pipeline = try ParsingPipeline(file: file, batch: batch, check: check)
        let progress = Progress(enabled: isatty(2) == 1 && !json)
        var stored = 0, duplicates = 0, lines = 0
        var failures: [Failure] = []

        /// Appends `items`; on a rejected event, stores the ones before it and, with
        /// --skip-invalid, goes on after it. Returns false to stop.
        func flush(_ items: ParsingPipeline.Lines, checked: OrderStore.CheckedBatch? = nil) async throws -> Bool {
            try await flush(items, 0..<items.count, checked: checked)
        }
        func flush(_ items: ParsingPipeline.Lines, _ range: Range<Int>, checked: OrderStore.CheckedBatch? = nil) async throws -> Bool {
            var rest = range
            var checked = checked  // describes `items` whole: used for the first try only
            while !rest.isEmpty {
                defer { checked = nil }
                do {
                    for isNew in try await appendBatch(items.events[rest], checked) {
                        if isNew { stored += 1 } else { duplicates += 1 }
                    }
                    return true
                } catch BatchFailure.tooLarge where rest.count > 1 {
                    // A batch of large events can exceed the log's batch size: split it.
                    let half = rest.count / 2
                    guard try await flush(items, rest.prefix(half)) else { return false }
                    rest = rest.dropFirst(half)
                } catch BatchFailure.rejected(let k, let code, let message) {
                    let bad = rest.lowerBound + k
                    if k > 0 { _ = try await flush(items, rest.prefix(k)) }
                    failures.append(Failure(line: items.numbers[bad], code: code, message: message))
                    if !skipInvalid { return false }
                    rest = rest.dropFirst(k + 1)
                }
            }
            return true
        }

        var stopped = false
        var readFailure: String?
        reading: for await item in pipeline.items {
            pipeline.took()
            switch item {
            case .batch(let decoded, let lastLine, let checked):
                lines = lastLine
                if !(try await flush(decoded, checked: checked)) { stopped = true; break reading }
                progress.update(lines: lastLine, stored: stored)
            case .invalid(let decoded, let line, let code, let message):
                lines = line
                if !(try await flush(decoded)) { stopped = true; break reading }
                failures.append(Failure(line: line, code: code, message: message))
                if !skipInvalid { stopped = true; break reading }
            case .end(let decoded, let total):
                lines = total
                _ = try await flush(decoded)
            case .failed(let why):
                readFailure = why
                break reading
            }
        }
        pipeline.stop()
        progress.finish()
        do { try await drain() } catch { await finish(); throw error }
        if let readFailure { await finish(); throw CLIError(readFailure) }
        await finish()

        if json {
            var w = JSONWriter()
            w.raw("{\"lines\":\(lines),\"stored\":\(stored),\"duplicates\":\(duplicates),\"invalid\":[")
            for (i, f) in failures.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{\"line\":\(f.line),\"code\":"); w.string(f.code); w.raw(",\"message\":"); w.string(f.message); w.raw("}")
            }
            w.raw("],\"complete\":\(!stopped)}")
            print(w.text)
        } else {
            for f in failures { printError("line \(f.line): \(f.code): \(f.message)") }
            var summary = "read \(lines) lines: stored \(stored) events"
            if duplicates > 0 { summary += ", \(duplicates) already stored (same event_id), nothing new stored for them" }
            if !failures.isEmpty { summary += ", \(failures.count) invalid" }
            if stopped { summary += "; stopped at line \(failures.last!.line) (everything before it is stored; --skip-invalid goes on)" }
            print(summary)
        }
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

extension ImportCommand {
    static func wire(_ e: ExpectedVersion) -> WireExpectedVersion {
        switch e {
        case .any: .any
        case .none: .none
        case .exactly(let n): .exactly(UInt64(max(0, n)))
        }
    }
}

/// Batches an import has written whose durability it has not yet awaited.
private final class PendingWrites {
    var items: [OrderStore.PendingWrite] = []
}

/// Reads a file line by line in large chunks. Line numbers start at 1. A line longer than
/// `lineBytesMax` is not buffered: it comes back cut to that length (so it fails the size
/// check with its line number), and the rest of it is skipped.
final class LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    private var number = 0
    private var skipping = false
    let lineBytesMax = OrderEvent.jsonBytesMax + 1

    init(handle: FileHandle) { self.handle = handle }

    func next() throws -> (Int, [UInt8])? {
        var searched = start
        while true {
            if let nl = buffer[searched...].firstIndex(of: 0x0A) {
                let line = Array(buffer[start..<min(nl, start + lineBytesMax)])
                start = nl + 1
                if skipping { skipping = false; searched = start; continue }
                number += 1
                return (number, line)
            }
            searched = buffer.count
            if buffer.count - start > lineBytesMax && !skipping {
                // Hand back the over-long line now, and drop the rest of it as it arrives.
                let line = Array(buffer[start..<(start + lineBytesMax)])
                buffer.removeAll(keepingCapacity: true)
                start = 0
                searched = 0
                skipping = true
                number += 1
                return (number, line)
            }
            if skipping && buffer.count > start {
                buffer.removeAll(keepingCapacity: true)
                start = 0
                searched = 0
            }
            if eof {
                guard start < buffer.count, !skipping else { return nil }
                let line = Array(buffer[start..<min(buffer.count, start + lineBytesMax)])
                start = buffer.count
                number += 1
                return (number, line)
            }
            if start > 0 { buffer.removeFirst(start); searched -= start; start = 0 }
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { eof = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}

/// A one-line progress display on a terminal.
final class Progress {
    let enabled: Bool
    let started = ContinuousClock.now
    var last = ContinuousClock.now

    init(enabled: Bool) { self.enabled = enabled }

    func update(lines: Int, stored: Int) {
        guard enabled, ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        let seconds = (ContinuousClock.now - started).seconds
        let rate = seconds > 0 ? Double(lines) / seconds : 0
        FileHandle.standardError.write(Data("\r\u{1B}[Kline \(lines), \(stored) stored, \(Int(rate)) lines/s".utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
