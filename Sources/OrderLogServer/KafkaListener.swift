import Dispatch
import Logging
import NIOCore
import NIOPosix
import KafkaProtocol
import OrderStore
import Synchronization

/// The Kafka front door's sockets (docs/KAFKA.md): a thin shell that cuts each connection's
/// bytes into size-prefixed frames and answers them in order with `KafkaBroker`. A frame that
/// does not read, or asks for what is not served, closes that connection alone (the reason
/// logged); every other connection goes on.
public final class KafkaListener: Sendable {
    public let broker: KafkaBroker
    public let port: Int
    /// Only clients on this machine are served (no tokens: as the native port without them).
    let loopbackOnly: Bool
    let logger: Logger
    private let stopped = Atomic<Bool>(false)
    /// Connections open now; past `connectionsMax` a new one is closed at accept (as the
    /// native port does), so a flood of connections cannot take every descriptor.
    private let open = Atomic<Int>(0)
    static let connectionsMax = 2048
    /// With tokens, a connection not authenticated this long after it opened is closed.
    static let authenticationDeadline: Duration = .seconds(30)
    /// A connection that sends nothing this long is closed (Kafka's `connections.max.idle.ms`
    /// is 10 minutes too; a consumer polls or heartbeats every few seconds).
    static let idleTimeout: Duration = .seconds(600)
    /// Bytes of a connection's frames read and waiting to be answered, at most (one frame more
    /// whatever its size): past it the connection's socket is not read until they are.
    static let queuedBytesMax = 16 << 20
    /// What each waiting frame is counted as besides its bytes (its place and its array):
    /// many tiny frames fill the queue as surely as a few large ones.
    static let queuedFrameOverhead = 256

    /// What a connection's reader hands its answerer: a frame (its produce partitions perhaps
    /// being read already), or why the connection ends after what came before is answered.
    enum Incoming: Sendable {
        case frame([UInt8], PreparedProduce?)
        case close(String)
    }

    /// What the watchdog of one connection reads: whether it has authenticated, and when its
    /// last bytes came.
    final class ConnectionWatch: Sendable {
        let authenticated = Atomic<Bool>(false)
        /// What the session's role allows, for the reader's `prepare` of produce requests.
        let mayAppend = Atomic<Bool>(false)
        let keepsRecordedTime = Atomic<Bool>(false)
        func update(_ session: KafkaBroker.Session) {
            authenticated.store(session.role != nil, ordering: .relaxed)
            mayAppend.store(session.role?.permits(.append) ?? false, ordering: .relaxed)
            keepsRecordedTime.store(session.role?.mayKeepRecordedTime ?? false, ordering: .relaxed)
        }
        private let last = Atomic<Int64>(Int64(DispatchTime.now().uptimeNanoseconds))
        func touch() { last.store(Int64(DispatchTime.now().uptimeNanoseconds), ordering: .relaxed) }
        func lastFrame() -> ContinuousClock.Instant {
            let ago = Int64(DispatchTime.now().uptimeNanoseconds) - last.load(ordering: .relaxed)
            return ContinuousClock.now - .nanoseconds(max(0, ago))
        }
    }
    private let channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>

    private init(broker: KafkaBroker, port: Int, loopbackOnly: Bool, logger: Logger, channel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>) {
        self.broker = broker
        self.port = port
        self.loopbackOnly = loopbackOnly
        self.logger = logger
        self.channel = channel
    }

    /// Binds `host:configuration.port`; `run()` then serves. With `access` holding tokens,
    /// clients anywhere authenticate with SASL/PLAIN; without, only local clients are served.
    public static func bind(store: OrderStore, host: String, configuration: KafkaConfiguration, access: AccessPolicy = AccessPolicy(), logger: Logger? = nil) async throws -> KafkaListener {
        let logger = logger ?? Logger(label: "orderlog.kafka", factory: { _ in SwiftLogNoOpLogHandler() })
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: configuration.port) { child in
                child.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child) }
            }
        let port = channel.channel.localAddress?.port ?? configuration.port
        logger.info("kafka listening", metadata: ["host": "\(host)", "port": "\(port)", "topic": "\(configuration.topic)", "partitions": "\(configuration.partitions)"])
        let broker = KafkaBroker(store: store, configuration: configuration, host: host, port: port, access: access)
        return KafkaListener(broker: broker, port: port, loopbackOnly: access.tokens == nil, logger: logger, channel: channel)
    }

    /// Serves connections until `shutdown()`.
    public func run() async throws {
        if let problem = broker.offsetsProblem { logger.warning("kafka committed offsets not used", metadata: ["problem": "\(problem)"]) }
        try await withThrowingDiscardingTaskGroup { group in
            // The group coordinator's clock: rebalance deadlines and session timeouts.
            group.addTask {
                while !self.stopped.load(ordering: .relaxed) {
                    try? await Task.sleep(for: .milliseconds(200))
                    await self.broker.tick()
                }
            }
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    let count = open.add(1, ordering: .relaxed).newValue
                    group.addTask {
                        defer { self.open.subtract(1, ordering: .relaxed) }
                        guard count <= Self.connectionsMax else {
                            self.logger.warning("kafka connection refused", metadata: ["reason": "more than \(Self.connectionsMax) connections"])
                            try? await connection.channel.close()
                            return
                        }
                        await self.serve(connection)
                    }
                }
            }
        }
    }

    public func shutdown() async {
        stopped.store(true, ordering: .relaxed)
        try? await channel.channel.close()
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "?"
        if loopbackOnly, !AccessPolicy.isLoopback(connection.channel.remoteAddress) {
            logger.warning("kafka connection refused", metadata: ["peer": "\(peer)", "reason": "only clients on this machine are served without --tokens"])
            try? await connection.channel.close()
            return
        }
        // A connection must authenticate within `authenticationDeadline` (with tokens) and
        // may stay silent at most `idleTimeout`: a silent one would hold a slot for ever.
        let watch = ConnectionWatch()
        let channel = connection.channel
        let watchdog = Task { [logger, authenticationDeadline = Self.authenticationDeadline, idleTimeout = Self.idleTimeout] in
            let started = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let now = ContinuousClock.now
                let unauthenticated = !watch.authenticated.load(ordering: .relaxed) && now - started > authenticationDeadline
                let idle = now - watch.lastFrame() > idleTimeout
                if unauthenticated || idle {
                    logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "\(unauthenticated ? "not authenticated in time" : "idle")"])
                    try? await channel.close()
                    return
                }
            }
        }
        defer { watchdog.cancel() }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var session = broker.newSession()
                watch.update(session)
                // Two tasks: the reader cuts frames from the socket's bytes — starting to read a
                // produce request's records on a worker as soon as it has come — and the
                // answerer answers them one at a time, in order. A producer with several
                // requests in flight has the next one's JSON read while this one is stored.
                let queue = FrameQueue<Incoming>(bytesMax: Self.queuedBytesMax)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { [broker] in
                        defer { queue.close() }
                        var pending = ByteBuffer()
                        for try await chunk in inbound {
                            var chunk = chunk
                            pending.writeBuffer(&chunk)
                            watch.touch()
                            // Every whole frame in what has arrived, in order.
                            while pending.readableBytes >= 4 {
                                let size = Int(pending.getInteger(at: pending.readerIndex, as: Int32.self) ?? -1)
                                // Before authentication, frames are small (Kafka's own limit is 512 KiB).
                                // (A bare SASL token after a v0 handshake may be short: the answerer,
                                // which knows, refuses other frames under 8 bytes.)
                                let frameMax = watch.authenticated.load(ordering: .relaxed) ? KafkaRequest.frameBytesMax : 512 << 10
                                guard size >= 1, size <= frameMax else {
                                    _ = await queue.put(.close("a frame of \(size) bytes (at most \(frameMax))"), bytes: 0)
                                    return
                                }
                                guard pending.readableBytes >= 4 + size else { break }
                                pending.moveReaderIndex(forwardBy: 4)
                                let frame = pending.readBytes(length: size)!
                                let prepared = broker.prepare(frame, mayAppend: watch.mayAppend.load(ordering: .relaxed),
                                                              keepRecordedTime: watch.keepsRecordedTime.load(ordering: .relaxed))
                                // What a waiting frame holds: its bytes, the records read from a produce
                                // (about as many again), and its place. Before authentication one
                                // frame fills the queue: nothing is read ahead of an unknown client.
                                let charge = !watch.authenticated.load(ordering: .relaxed) ? Self.queuedBytesMax
                                    : (prepared == nil ? size : 2 * size) + Self.queuedFrameOverhead
                                guard await queue.put(.frame(frame, prepared), bytes: charge) else { return }
                            }
                            pending.discardReadBytes()
                        }
                    }
                    // The answerer. Leaving (a close, the peer gone) stops the reader too.
                    defer {
                        queue.close()
                        group.cancelAll()
                    }
                    while let incoming = await queue.take() {
                        guard case .frame(let frame, let prepared) = incoming else {
                            if case .close(let reason) = incoming { logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "\(reason)"]) }
                            return
                        }
                        // Any request is at least 8 bytes.
                        guard frame.count >= 8 || session.awaitingRawToken else {
                            logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "a frame of \(frame.count) bytes (at least 8)"])
                            return
                        }
                        let outcome = session.awaitingRawToken ? broker.authenticateRaw(frame, session: &session) : await broker.handle(frame, session: &session, prepared: prepared)
                        watch.update(session)
                        watch.touch()
                        switch outcome {
                        case .respond(let bytes):
                            guard bytes.count <= Int(Int32.max) else {
                                logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "a response of \(bytes.count) bytes"])
                                return
                            }
                            var out = ByteBuffer()
                            out.reserveCapacity(4 + bytes.count)
                            out.writeInteger(Int32(bytes.count))
                            out.writeBytes(bytes)
                            try await outbound.write(out)
                        case .noResponse:
                            break
                        case .close(let reason):
                            logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
                            return
                        case .respondAndClose(let bytes, let reason):
                            var out = ByteBuffer()
                            out.writeInteger(Int32(bytes.count))
                            out.writeBytes(bytes)
                            try await outbound.write(out)
                            logger.warning("kafka connection closed", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
                            return
                        }
                    }
                }
            }
        } catch {
            logger.debug("kafka connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}
