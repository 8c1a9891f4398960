import Foundation
import Hummingbird
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
        if let connection = context.connection, !limiter.take(connection) {
            var e = APIError(.tooManyRequests, "too_many_requests", "more than \(limiter.perSecond) requests a second on this connection")
            e.headers[.retryAfter] = "1"
            throw e
        }
        var context = context
        context.access = access
        // The console's cookies: a token (with --tokens) and the agent's name.
        let cookies = request.cookies
        context.agent = cookies[Console.agentCookie].flatMap { $0.value.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
        let path = request.uri.path
        if path == "/console/login" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : (cookies[Console.tokenCookie].flatMap { $0.value.removingPercentEncoding } ?? "")
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

/// A token bucket per connection: `perSecond` sustained, twice that in a burst. Buckets of
/// connections gone quiet are dropped (at most one per open connection is kept).
final class RequestRateLimiter: Sendable {
    let perSecond: Int
    private struct Bucket { var tokens: Double; var last: ContinuousClock.Instant }
    private let buckets = Mutex<[ObjectIdentifier: Bucket]>([:])

    init(perSecond: Int) { self.perSecond = perSecond }

    func take(_ connection: ObjectIdentifier) -> Bool {
        let now = ContinuousClock.now
        let burst = Double(2 * perSecond)
        return buckets.withLock { b in
            var bucket = b[connection] ?? Bucket(tokens: burst, last: now)
            let elapsed = now - bucket.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + seconds * Double(perSecond))
            bucket.last = now
            let granted = bucket.tokens >= 1
            if granted { bucket.tokens -= 1 }
            b[connection] = bucket
            // Forget buckets idle long enough to be full again (their connections are likely
            // gone; a returning one starts full, as it would be).
            if b.count > 4096 { b = b.filter { now - $0.value.last < .seconds(2) } }
            return granted
        }
    }
}
