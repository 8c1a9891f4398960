import Hummingbird
import Logging
import NIOCore
import OrderLogServer
import OrderStore
import ServiceLifecycle
import Synchronization

/// The HTTP API's server (`orderlog serve --http-port`): Hummingbird's HTTP/1.1 server over
/// `OrderLogAPI`'s routes, started and stopped by its owner (the serve command handles the
/// signals; this runs in a service group of its own without any).
public final class HTTPService: Sendable {
    /// The port bound (the one asked for, or the one picked for 0).
    public let port: Int
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let streams: EventStreams

    private init(port: Int, group: ServiceGroup, running: Task<Void, any Error>, streams: EventStreams) {
        self.port = port
        self.group = group
        self.running = running
        self.streams = streams
    }

    /// Binds `configuration.host:port` and serves until `shutdown()`. Throws if it cannot
    /// bind. With `access` holding tokens, every request needs `Authorization: Bearer`; without,
    /// only clients on this machine are served.
    public static func start(store: OrderStore, configuration: HTTPConfiguration, access: AccessPolicy = AccessPolicy(),
                             metrics: (@Sendable () -> String)? = nil, logger: Logger? = nil) async throws -> HTTPService {
        let logger = logger ?? Logger(label: "orderlog.http", factory: { _ in SwiftLogNoOpLogHandler() })
        let streams = EventStreams(store: store, configuration: configuration)
        let bound = BoundPort()
        let app = try application(store: store, configuration: configuration, access: access, streams: streams, metrics: metrics, logger: logger) { channel in
            bound.resolve(.success(channel.localAddress?.port ?? configuration.port))
        }
        // A shutdown waits at most 5 s for requests in flight (a client that stopped reading
        // its event stream must not keep the server from closing the store), then cancels.
        var groupConfiguration = ServiceGroupConfiguration(services: [app], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(5)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        let running = Task {
            do { try await group.run() } catch {
                bound.resolve(.failure(error))
                throw error
            }
            bound.resolve(.failure(CancellationError()))
        }
        let port = try await bound.value()
        return HTTPService(port: port, group: group, running: running, streams: streams)
    }

    /// The application: the API's routes on `configuration`'s address (tests run it with
    /// HummingbirdTesting).
    static func application(store: OrderStore, configuration: HTTPConfiguration, access: AccessPolicy, streams: EventStreams,
                            metrics: (@Sendable () -> String)?, logger: Logger,
                            onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let api = OrderLogAPI(store: store, configuration: configuration, streams: streams, metrics: metrics)
        return Application(
            router: try api.router(access: access),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "orderlog"),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    /// Stops accepting, ends the live event streams, lets requests in flight finish.
    public func shutdown() async {
        streams.stop()
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
}

/// The port once the server runs, or why it never did: resolved once.
private final class BoundPort: Sendable {
    private let state = Mutex<(result: Result<Int, any Error>?, waiter: CheckedContinuation<Int, any Error>?)>((nil, nil))

    func resolve(_ result: Result<Int, any Error>) {
        let waiter: CheckedContinuation<Int, any Error>? = state.withLock { s in
            guard s.result == nil else { return nil }
            s.result = result
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = state.withLock { s in
                if let r = s.result { return r }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
