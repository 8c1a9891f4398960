import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import OrderStore
import Synchronization
import WireProtocol

/// Every tunable of a server, each with its default.
public struct ServerConfiguration: Sendable {
    /// Loopback unless told otherwise: the server has no authentication of its own yet.
    public var host = "127.0.0.1"
    /// 7717 by default; 0 picks a free port (tests).
    public var port = 7717
    /// What each connection may do (docs/PROTOCOL.md, `WELCOME`).
    public var limits = WireLimits()
    /// Connections served at once; more are closed at accept.
    public var connectionsMax = 2048
    /// Sent in `WELCOME`; OrderLog's release by default.
    public var serverVersion = OrderLogServer.version
    /// How long a shutdown waits for connections to finish before closing them. Default 5 s.
    public var shutdownGrace: Duration = .seconds(5)
    /// How long a new connection may take to send HELLO before it is closed. Default 10 s.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Who may connect, and with which role. Default: local clients only, as admin.
    public var access = AccessPolicy()

    public init() {}
}

/// The OrderLog TCP server: accepts connections and serves each in its own task over one
/// `OrderStore` (docs/PROTOCOL.md). A thin shell: the protocol is `WireProtocol`'s, the rules
/// and storage are the store's.
public final class OrderLogServer: Sendable {
    /// OrderLog's release: what `orderlog --version` prints and `WELCOME` carries.
    public static let version = "0.2.0"
    public let store: OrderStore
    public let configuration: ServerConfiguration
    let logger: Logger
    private let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let connections = Atomic<Int>(0)
    private let subscriptionCount = Atomic<Int>(0)
    let metrics = ServerMetrics()

    func subscriptionStarted() { metrics.subscriptions.record(subscriptionCount.add(1, ordering: .relaxed).newValue) }
    func subscriptionEnded() { metrics.subscriptions.record(subscriptionCount.subtract(1, ordering: .relaxed).newValue) }
    /// Open connections' channels, so a shutdown can end them in order.
    private let live = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let stopping = Atomic<Bool>(false)

    var isShuttingDown: Bool { stopping.load(ordering: .acquiring) }

    func register(_ channel: any Channel) -> Bool {
        let open = live.withLockedValue { live in
            live[ObjectIdentifier(channel)] = channel
            return live.count
        }
        metrics.connectionsAccepted.increment()
        metrics.connections.record(open)
        // A connection that arrives while stopping is ended like the others.
        return !isShuttingDown
    }

    func unregister(_ channel: any Channel) {
        let open = live.withLockedValue { live in
            live.removeValue(forKey: ObjectIdentifier(channel))
            return live.count
        }
        metrics.connections.record(open)
    }

    /// The port the server listens on.
    public let port: Int

    private init(store: OrderStore, configuration: ServerConfiguration, logger: Logger,
                 channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, port: Int) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.channel = channel
        self.port = port
    }

    /// Binds the listening socket. `run()` then serves connections.
    public static func bind(store: OrderStore, configuration: ServerConfiguration = ServerConfiguration(), logger: Logger? = nil) async throws -> OrderLogServer {
        let logger = logger ?? Logger(label: "orderlog.server", factory: { _ in SwiftLogNoOpLogHandler() })
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Shutdown closes each connection's input and then still writes the answers it
            // owes. Without half-closure NIO closes the whole connection as soon as the peer
            // sends anything more (a CREDIT, say), and those answers are lost.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: configuration.host, port: configuration.port) { child in
                child.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        let port = channel.channel.localAddress?.port ?? configuration.port
        logger.info("listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        return OrderLogServer(store: store, configuration: configuration, logger: logger, channel: channel, port: port)
    }

    /// Serves connections until the listening socket is closed (`shutdown()`) or the task is
    /// cancelled; then waits for the connections to finish.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.sampleStore() }
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    let count = connections.add(1, ordering: .relaxed).newValue
                    group.addTask {
                        defer { self.connections.subtract(1, ordering: .relaxed) }
                        if count > self.configuration.connectionsMax {
                            try? await connection.executeThenClose { _, outbound in
                                try await outbound.write(ByteBuffer(bytes: Frame(requestID: 0, message: .error(
                                    code: WireError.Code.shuttingDown.rawValue, message: "too many connections (\(self.configuration.connectionsMax))")).encoded()))
                            }
                            return
                        }
                        await Connection(server: self, channel: connection).serve()
                    }
                }
            }
        }
    }

    /// Records the store's gauges twice a second until the server stops.
    private func sampleStore() async {
        while !stopping.load(ordering: .acquiring) {
            let s = store.statistics
            metrics.orders.record(s.orders)
            metrics.cachedSnapshots.record(s.cachedSnapshots)
            metrics.cacheBytes.record(s.cacheBytes)
            metrics.logEnd.record(Int64(clamping: s.endPosition))
            metrics.checkpointPosition.record(Int64(clamping: s.checkpointPosition))
            metrics.eventsSinceCheckpoint.record(Int64(clamping: s.endPosition - min(s.endPosition, s.checkpointPosition)))
            metrics.memoryLimit.record(s.memoryBytes)
            metrics.residentBytes.record(s.residentBytes)
            metrics.keyDirectoryBytes.record(s.keyDirectoryBytes)
            metrics.ordersInMemory.record(s.ordersInMemory)
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Stops accepting connections and ends the open ones in order: each stops reading
    /// requests, answers every request already read (appends once durable), ends its
    /// subscriptions with `server_shutdown`, and sends `CLOSE`. `run()` then returns.
    public func shutdown() async {
        stopping.store(true, ordering: .releasing)
        try? await channel.channel.close()
        let open = live.withLockedValue { Array($0.values) }
        for connection in open {
            // Closing the input ends the connection's read loop; its output stays open for the
            // answers still owed.
            try? await connection.close(mode: .input)
        }
        // A connection that has not finished within the grace period (a peer that stopped
        // reading, say) is closed outright, so shutdown always ends.
        let grace = configuration.shutdownGrace
        Task { [self] in
            try? await Task.sleep(for: grace)
            let stuck = self.live.withLockedValue { Array($0.values) }
            if !stuck.isEmpty { self.logger.warning("closing connections that did not finish in time", metadata: ["count": "\(stuck.count)"]) }
            for connection in stuck { try? await connection.close() }
        }
    }

    public var openConnections: Int { connections.load(ordering: .relaxed) }
}
