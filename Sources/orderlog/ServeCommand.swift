import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import LogStorage
import OrderLogClient
import OrderLogHTTP
import OrderLogServer
import OrderModel
import OrderStore
import WireProtocol

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a data directory over TCP (docs/PROTOCOL.md).",
        discussion: "Binds to loopback unless told otherwise. SIGINT or SIGTERM stops accepting, answers what is in flight, and exits 0.")

    @Option(help: "Data directory.") var data: String
    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port.") var port = 7717
    @Option(help: "Durability: always, none, or interval:MS.") var fsync = "always"
    @Option(help: "Tokens file: one `TOKEN ROLE` a line (roles: producer, consumer, admin). Without it only local clients are accepted.") var tokens: String?
    @Option(help: "Serve metrics in Prometheus text format on this port (GET /metrics), on the same host.") var metricsPort: Int?
    @Option(help: "Size at which a segment is sealed, in MiB (4–1024; small segments suit drills and tests).") var segmentMib = 64
    @Option(help: "Order snapshots kept in memory (the cache; others are replayed from the log when read).") var snapshotCache = 200_000
    @Option(help: "The store's memory in MiB, one number for the process: what every order costs (the log's key directory, the status lists, the checkpoint's order table read in place) comes first, the caches get the rest (snapshots at most a quarter, the log's blocks a sixteenth); inspect and the metrics report each part.") var memoryMib = 1024
    @Option(help: ArgumentHelp("Bound on the snapshot cache in MiB, below what --memory-mib gives it.", visibility: .hidden)) var snapshotCacheMib: Int?
    @Option(help: ArgumentHelp("For drills: pause this many ms twice while writing each checkpoint.", visibility: .hidden)) var checkpointWritePauseMs = 0
    @Option(help: "Also speak Kafka's wire protocol on this port (docs/KAFKA.md): topic `orders`, keyed by order id. Off unless given.") var kafkaPort: Int?
    @Option(help: "Partitions of the Kafka topic (an order's events are in murmur2(order id) % this one).") var kafkaPartitions = 8
    @Option(help: "Also serve the HTTP API (docs/openapi.yaml) on this port, same host and tokens (Authorization: Bearer TOKEN). Off unless given.") var httpPort: Int?
    @Option(help: "Requests one HTTP connection may make a second (429 past it).") var httpRequestsPerSecond = 1_000
    @Option(help: "Write a checkpoint of every order's state after this many new events (and an eighth of the log); open replays only what follows the newest. 0: none.") var checkpointEvents = 1_000_000

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let registry = PrometheusCollectorRegistry()
        if metricsPort != nil { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
        var logger = Logger(label: "orderlog")
        logger.logLevel = .info
        var configuration = StoreConfiguration()
        configuration.log.durability = try parsePolicy(fsync)
        guard snapshotCache >= 0 else { throw ValidationError("--snapshot-cache must be 0 or more") }
        configuration.snapshotCacheMax = snapshotCache
        guard (16...1 << 20).contains(memoryMib) else { throw ValidationError("--memory-mib must be 16…1048576, got \(memoryMib)") }
        configuration.memory(memoryMib << 20)
        if let snapshotCacheMib {
            guard (1...1 << 20).contains(snapshotCacheMib) else { throw ValidationError("--snapshot-cache-mib must be 1…1048576, got \(snapshotCacheMib)") }
            configuration.snapshotCacheBytesMax = min(configuration.snapshotCacheBytesMax, snapshotCacheMib << 20)
        }
        guard checkpointEvents >= 0 else { throw ValidationError("--checkpoint-events must be 0 or more") }
        configuration.checkpointEvents = checkpointEvents
        guard (0...10_000).contains(checkpointWritePauseMs) else { throw ValidationError("--checkpoint-write-pause-ms must be 0…10000") }
        configuration.checkpointWritePause = checkpointWritePauseMs * 1000
        guard (4...1024).contains(segmentMib) else { throw ValidationError("--segment-mib must be 4…1024, got \(segmentMib)") }
        configuration.log.segmentBytesMax = segmentMib << 20
        // A batch must fit in one segment.
        configuration.log.batchBytesMax = min(configuration.log.batchBytesMax, (segmentMib << 20) / 2)
        if metricsPort != nil {
            let fsyncTimer = Metrics.Timer(label: "orderlog_fsync_seconds")
            configuration.log.syncObserver = { d in
                fsyncTimer.recordNanoseconds(d.nanoseconds)
            }
        }
        let store = try OrderStore.open(path: data, configuration: configuration, logger: logger)
        var serverConfiguration = ServerConfiguration()
        serverConfiguration.host = host
        serverConfiguration.port = port
        if let tokens {
            do { serverConfiguration.access = try AccessPolicy.load(path: tokens) } catch { throw CLIError("\(error)") }
        }
        let server = try await OrderLogServer.bind(store: store, configuration: serverConfiguration, logger: logger)
        if tokens == nil {
            logger.notice("no --tokens file: accepting clients on this machine only (loopback), each with role admin")
        }
        var endpoint: MetricsEndpoint?
        if let metricsPort {
            endpoint = try await MetricsEndpoint.start(host: host, port: metricsPort) { registry.emitToString() }
            print("metrics on http://\(host):\(endpoint!.port)/metrics")
        }
        var kafka: KafkaListener?
        if let kafkaPort {
            guard (0...65535).contains(kafkaPort) else { throw ValidationError("--kafka-port must be 0…65535") }
            guard (1...1024).contains(kafkaPartitions) else { throw ValidationError("--kafka-partitions must be 1…1024") }
            var k = KafkaConfiguration()
            k.port = kafkaPort
            k.partitions = kafkaPartitions
            // With --tokens, Kafka clients authenticate with SASL/PLAIN (password: a token).
            kafka = try await KafkaListener.bind(store: store, host: host, configuration: k, access: serverConfiguration.access, logger: logger)
            print("kafka on \(host):\(kafka!.port) (topic \(k.topic), \(k.partitions) partitions)")
        }
        var http: HTTPService?
        if let httpPort {
            guard (0...65535).contains(httpPort) else { throw ValidationError("--http-port must be 0…65535") }
            guard (1...1_000_000).contains(httpRequestsPerSecond) else { throw ValidationError("--http-requests-per-second must be 1…1000000") }
            var h = HTTPConfiguration()
            h.host = host
            h.port = httpPort
            h.requestsPerSecond = httpRequestsPerSecond
            let metrics: (@Sendable () -> String)? = metricsPort == nil ? nil : { @Sendable in registry.emitToString() }
            http = try await HTTPService.start(store: store, configuration: h, access: serverConfiguration.access, metrics: metrics, logger: logger)
            print("http on http://\(host):\(http!.port)/")
        }
        print("orderlog \(OrderLogServer.version) serving \(data) on \(host):\(server.port) (fsync \(configuration.log.durability), \(store.orderCount) orders, \(store.log.endPosition) events)")
        fflush(nil)  // the line above is how scripts know the server is up
        let kafkaListener = kafka
        let httpService = http
        TerminationSignals.onSignal { _ in Task { await server.shutdown(); await kafkaListener?.shutdown(); await httpService?.shutdown() } }
        if let kafka = kafkaListener {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await kafka.run() }
                try await server.run()
                await kafka.shutdown()
                try await group.waitForAll()
            }
        } else {
            try await server.run()
        }
        await httpService?.shutdown()
        await endpoint?.stop()
        try store.close()
        print("orderlog stopped: every acknowledged event is durable")
    }
}

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print events from a server as JSONL (the export form): what is stored, and with --follow what arrives.")

    @Option(help: "Server address, HOST:PORT.") var server = "127.0.0.1:7717"
    @Option(help: "Token for a server started with --tokens (default: $ORDERLOG_TOKEN).") var token: String?
    @Option(help: "Start at this position (default 0).") var from: UInt64?
    @Flag(help: "Start at the end of the log (implies waiting for new events).") var fromEnd = false
    @Option(help: "Only this event type (repeat for more), e.g. --type Shipped.") var type: [String] = []
    @Option(help: "Only orders whose id starts with this.") var orderPrefix = ""
    @Flag(help: "Keep printing new events as they become durable.") var follow = false

    func validate() throws {
        if fromEnd && from != nil { throw ValidationError("give --from or --from-end, not both") }
    }

    func run() async throws {
        let (host, port) = try parseServer(server)
        var types = Set<EventType>()
        for name in type {
            guard let t = EventType(rawValue: name) else { throw ValidationError("unknown event type \(name)") }
            types.insert(t)
        }
        let client = try await OrderLogClient.connect(host: host, port: port, clientName: "orderlog-tail", token: resolvedToken(token))
        let start: WireSubscribeFrom = fromEnd ? .end : .position(from ?? 0)
        let stream = try await client.subscribe(from: start, types: types, orderPrefix: orderPrefix, follow: follow || fromEnd)
        let out = OutputBuffer()
        for try await event in stream {
            out.line(try event.exportLine())
            if follow || fromEnd { out.flush() }
        }
        out.flush()
        await client.close()
    }
}

func parseServer(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
        throw ValidationError("--server must be HOST:PORT, not \(text)")
    }
    return (String(text[..<colon]), port)
}
