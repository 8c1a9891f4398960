import Hummingbird
import NIOCore
import OrderLogServer

/// What a request of the HTTP API carries besides itself: the peer it came from (loopback
/// rules without tokens), the connection (its request-rate budget) and, once the token is
/// read, the role it grants.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection's identity, for per-connection limits (nil in tests without sockets).
    let connection: ObjectIdentifier?
    /// Set by `AccessMiddleware` before any route runs.
    public var role: Role?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        connection = ObjectIdentifier(source.channel)
    }
}
