import Foundation
import Hummingbird
import NIOCore
import OrderLogServer
import Synchronization

/// Who may call the API, and how often: the native server's tokens and roles
/// (`Authorization: Bearer TOKEN`; without a tokens file, clients on this machine only, as
/// admin), and a token bucket per connection. Refusals are 401 (no or unknown token), 403
/// (the role may not), 429 (too many requests, with `Retry-After`).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = APIContext
    let access: AccessPolicy
    let limiter: RequestRateLimiter

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        if let channel = context.channel, !limiter.take(channel) {
            var e = APIError(.tooManyRequests, "too_many_requests", "more than \(limiter.perSecond) requests a second on this connection")
            e.headers[.retryAfter] = "1"
            throw e
        }
        // Without tokens every local client is admin: a page elsewhere whose name resolves to
        // this machine (DNS rebinding) must not be one. Only loopback names are served then.
        if access.tokens == nil, !Self.isLoopbackHost(request.head.authority) {
            throw APIError(.forbidden, "forbidden", "without --tokens only requests to localhost, 127.0.0.1 or [::1] are served")
        }
        // A write from a page of another origin is refused, whatever it carries.
        if request.method == .post, let origin = request.headers[.origin],
           let host = request.head.authority, !origin.hasSuffix("//" + host) {
            throw APIError(.forbidden, "forbidden", "a request from \(origin) may not write here")
        }
        var context = context
        context.access = access
        // The console's cookies: a token (with --tokens) and the agent's name — taken only on
        // the console's own pages and the event stream its pages open, never for the API.
        let path = request.uri.path
        let consolePath = path == "/" || path.hasPrefix("/console/") || (path == "/events" && request.method == .get)
        let cookies = request.cookies
        if consolePath {
            context.agent = cookies[Console.agentCookie].flatMap { $0.value.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
        }
        if path == "/console/login" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let cookieToken = consolePath ? cookies[Console.tokenCookie].flatMap { $0.value.removingPercentEncoding } : nil
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : (cookieToken ?? "")
        guard let role = access.role(token: token, address: context.remoteAddress) else {
            // A browser on a console page is sent to sign in.
            if access.tokens != nil && (path == "/" || path.hasPrefix("/console/")) && request.method == .get {
                return Response(status: .seeOther, headers: [.location: "/console/login"])
            }
            if access.tokens == nil {
                throw APIError(.forbidden, "forbidden", "without --tokens only clients on this machine are served")
            }
            var e = APIError(.unauthorized, "unauthorized", header.isEmpty ? "send Authorization: Bearer TOKEN (a token of the server's tokens file)" : "the token is not one of the server's")
            e.headers[.wwwAuthenticate] = "Bearer"
            throw e
        }
        context.role = role
        return try await next(request, context)
    }
}

extension AccessMiddleware {
    /// Whether `authority` (the Host header) names this machine's loopback: `localhost`,
    /// `127.x.x.x` or `[::1]`, with any port.
    static func isLoopbackHost(_ authority: String?) -> Bool {
        guard var host = authority?.lowercased() else { return false }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            return host[host.index(after: host.startIndex)..<close] == "::1"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { p in UInt8(p) != nil }
    }
}

/// A token bucket per connection: `perSecond` sustained, twice that in a burst. Buckets of
/// connections gone quiet are dropped (at most one per open connection is kept).
///
/// A bucket is found by its channel's address but belongs to that channel only: it holds the
/// channel weakly, and a new connection allocated where a closed one was (the same
/// `ObjectIdentifier`) starts with a full bucket instead of the old one's debt.
final class RequestRateLimiter: Sendable {
    let perSecond: Int
    private struct Bucket { weak var channel: (any Channel)?; var tokens: Double; var last: ContinuousClock.Instant }
    private struct State { var buckets: [ObjectIdentifier: Bucket] = [:]; var pruneAt = 4096 }
    private let state = Mutex(State())

    init(perSecond: Int) { self.perSecond = perSecond }

    func take(_ channel: any Channel) -> Bool {
        let now = ContinuousClock.now
        let burst = Double(2 * perSecond)
        let connection = ObjectIdentifier(channel)
        return state.withLock { st in
            var bucket = st.buckets[connection].flatMap { $0.channel === channel ? $0 : nil }
                ?? Bucket(channel: channel, tokens: burst, last: now)
            let elapsed = now - bucket.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * Double(perSecond))
            bucket.last = now
            let granted = bucket.tokens >= 1
            if granted { bucket.tokens -= 1 }
            st.buckets[connection] = bucket
            // Forget buckets of connections gone, and of those idle long enough to be full
            // again (a returning one starts full, as it would be).
            if st.buckets.count > st.pruneAt {
                st.buckets = st.buckets.filter { $0.value.channel != nil && now - $0.value.last < .seconds(2) }
                // Not again until the map has doubled past what is still active.
                st.pruneAt = max(4096, 2 * st.buckets.count)
            }
            return granted
        }
    }
}
