import Foundation
import Hummingbird
import NIOCore
import OrderLogServer

/// What a request of the HTTP API carries besides itself: the peer it came from (loopback
/// rules without tokens), the connection (its request-rate budget) and, once the token is
/// read, the role it grants.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The connection: its request-rate budget, and a long response (an event stream) ends
    /// when it is gone (nil in tests without sockets).
    let channel: (any Channel)?
    /// Set by `AccessMiddleware` before any route runs.
    public var role: Role?
    /// The console's agent name (its sign-in cookie), if any.
    public var agent: String?
    /// The server's tokens and roles (for the console's sign-in).
    var access: AccessPolicy?

    /// A path parameter, percent-decoded (`/customers/CUST%3C1%3E/orders` names `CUST<1>`).
    func pathParameter(_ name: String) -> String? {
        guard let raw = parameters.get(name) else { return nil }
        return raw.removingPercentEncoding ?? raw
    }

    /// Throws 403 unless the role may read (consumer, admin).
    func requireRead() throws {
        guard role?.mayRead == true else { throw APIError(.forbidden, "forbidden", "role \(role?.rawValue ?? "none") may not read (consumer or admin may)") }
    }

    /// Throws 403 unless the role may append (producer, admin); `what` names the attempt.
    func requireAppend(_ what: String = "append") throws {
        guard role?.mayAppend == true else { throw APIError(.forbidden, "forbidden", "role \(role?.rawValue ?? "none") may not \(what) (producer or admin may)") }
    }

    /// The role `token` would give this request's peer.
    func role(token: String) -> Role? { access?.role(token: token, address: remoteAddress) }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}
