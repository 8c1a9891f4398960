import Foundation
import NIOCore

/// What a client may do, by the role its token grants.
public enum Role: String, Sendable, CaseIterable {
    /// Appends (storefronts, payment and warehouse systems).
    case producer
    /// Reads and subscriptions (CRM, service console, portals, analytics).
    case consumer
    /// Everything.
    case admin

    /// Whether this role may append events (producer, admin).
    public var mayAppend: Bool { permits(.append) }
    /// Whether this role may read and subscribe (consumer, admin).
    public var mayRead: Bool { permits(.read) }
    /// Whether this role may give an event its recorded time (`recorded_at`, restoring an
    /// export): admin only, on every way in — a recorded time says when the log learned of
    /// an event, and as-of answers, totals and ages depend on it.
    public var mayKeepRecordedTime: Bool { self == .admin }

    func permits(_ request: RequestKind) -> Bool {
        switch (self, request) {
        case (.admin, _), (_, .ping): true
        case (.producer, .append): true
        case (.consumer, .read): true
        default: false
        }
    }
}

enum RequestKind { case append, read, ping }

/// Who may connect. With a tokens file, a client must present a listed token and gets its
/// role. Without one, only clients on this machine (loopback) are accepted, all as `admin`:
/// the server says so at start.
public struct AccessPolicy: Sendable {
    public var tokens: [String: Role]?

    public init(tokens: [String: Role]? = nil) { self.tokens = tokens }

    /// Reads a tokens file: one `TOKEN ROLE` per line; blank lines and `#` comments ignored.
    public static func load(path: String) throws -> AccessPolicy {
        guard let data = FileManager.default.contents(atPath: path) else { throw AccessError("cannot read tokens file \(path)") }
        var tokens: [String: Role] = [:]
        for (n, rawLine) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if fields.isEmpty { continue }
            guard fields.count >= 2, let role = Role(rawValue: fields[1]) else {
                throw AccessError("\(path) line \(n + 1): expected TOKEN ROLE with ROLE one of producer, consumer, admin")
            }
            guard fields[0].utf8.count >= 16 else { throw AccessError("\(path) line \(n + 1): a token must be at least 16 characters") }
            tokens[fields[0]] = role
        }
        guard !tokens.isEmpty else { throw AccessError("\(path) lists no tokens") }
        return AccessPolicy(tokens: tokens)
    }

    /// The role for a client presenting `token` from `address`, or nil to refuse it.
    public func role(token: String, address: SocketAddress?) -> Role? {
        guard let tokens else { return Self.isLoopback(address) ? .admin : nil }
        // Compare against every token in full, so timing does not tell how much matched.
        var granted: Role?
        let presented = Array(token.utf8)
        for (candidate, role) in tokens where Self.constantTimeEqual(Array(candidate.utf8), presented) { granted = role }
        return granted
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    public static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let a)?: return a.address.sin_addr.s_addr & 0xFF == 127  // 127.0.0.0/8 (network byte order)
        case .v6?: return address?.ipAddress == "::1"
        case .unixDomainSocket?: return true
        default: return false
        }
    }
}

public struct AccessError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
