/// The one error type of `WireProtocol`: a stable code (the `ERROR` frame's, docs/PROTOCOL.md §6)
/// and a message naming what was wrong and where.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case malformedFrame = "malformed_frame"
        case frameTooLarge = "frame_too_large"
        case unsupportedVersion = "unsupported_version"
        case unknownMessage = "unknown_message"
        case handshakeRequired = "handshake_required"
        case unauthorized
        case tooManyRequests = "too_many_requests"
        case tooManySubscriptions = "too_many_subscriptions"
        case unknownSubscription = "unknown_subscription"
        case invalidRequest = "invalid_request"
        case storage
        case shuttingDown = "shutting_down"

        /// Whether the server closes the connection after sending this error.
        public var closesConnection: Bool {
            switch self {
            case .malformedFrame, .frameTooLarge, .unsupportedVersion, .unknownMessage, .handshakeRequired, .shuttingDown: true
            default: false
            }
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
