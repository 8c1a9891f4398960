import OrderModel
import OrderStore
import WireProtocol

/// The protocol state of one connection (docs/PROTOCOL.md §3, §5): every rule of the
/// conversation that needs no store — the handshake, roles, the limits a request is held to,
/// which subscriptions exist — as a value that takes decoded frames and says what to do.
///
/// ```
/// awaitingHello ──HELLO (version, token ok)──▶ open(role) ──CLOSE──▶ draining
///       │                                         │
///       └──any other frame, bad version/token─────┴──undecodable frame──▶ closed
/// ```
///
/// It does no I/O and knows nothing of sockets or the store, so every path is tested without
/// either (`ConnectionStateMachineTests`); `Connection` is the thin shell that feeds it the
/// frames NIO delivers and carries out its actions against the store. Shaped after the state
/// machines of swift-nio's HTTP/2 and PostgresNIO's connection (one enum state, `mutating`
/// inputs that return the action).
struct ConnectionStateMachine {
    enum State: Equatable {
        case awaitingHello
        case open(Role)
        /// CLOSE was received: no more requests; what is in flight is answered, then CLOSE.
        case draining
        /// A fatal error was sent: the connection ends without CLOSE.
        case closed
    }

    /// A request that passed every check of the conversation: the shell carries it out.
    enum Request: Equatable {
        /// The batch, each event's order id, type and size checked (`WireEvent.appendRecord`);
        /// the store reads and checks the payloads. The payload bytes are for the metrics.
        case append([AppendRecord], payloadBytes: Int)
        case history(OrderID?, afterSeq: UInt32)
        case snapshot(OrderID?, asOf: WireAsOf, offset: UInt32)
        case list(WireListBy, limit: UInt32, cursor: String)
        case totals(asOf: WireAsOf, after: String)
        case subscribe(from: WireSubscribeFrom, credits: UInt32, typeMask: UInt32, orderPrefix: String)
        case credit(UInt32)
        case unsubscribe
    }

    enum Action: Equatable {
        /// Send `message` for `requestID` (an answer, or the error refusing the request).
        case reply(UInt32, Message)
        /// Send `message`, then stop reading: the connection cannot go on.
        case fail(UInt32, Message)
        /// The handshake passed: send WELCOME with this role; frames may now be as large as
        /// the server's limit. With the name the client gave, for the logs.
        case welcome(UInt32, Role, clientName: String)
        /// Carry out the request.
        case run(UInt32, Request)
        /// Stop reading; end the subscriptions, answer what is in flight, send CLOSE.
        case drain
        /// Nothing (a frame after CLOSE or after a fatal error).
        case ignore
    }

    private(set) var state = State.awaitingHello
    let limits: WireLimits
    /// The role a token grants, or nil to refuse it (`AccessPolicy.role`, with the peer's
    /// address bound in).
    let authorize: (String) -> Role?
    /// What a refused HELLO is told.
    let refusal: String
    /// Open subscriptions, by the request id that started each.
    private(set) var subscriptions: Set<UInt32> = []

    init(limits: WireLimits, refusal: String, authorize: @escaping (String) -> Role?) {
        self.limits = limits
        self.refusal = refusal
        self.authorize = authorize
    }

    /// The next frame. `appendsInFlight`: the connection's appends not yet answered.
    mutating func received(_ frame: Frame, appendsInFlight: Int) -> Action {
        let id = frame.requestID
        switch state {
        case .draining, .closed:
            return .ignore
        case .awaitingHello:
            guard case .hello(let version, let name, let token) = frame.message else {
                return fail(id, .handshakeRequired, "the first frame must be HELLO")
            }
            guard version == Frame.version else {
                return fail(id, .unsupportedVersion, "protocol version \(version); this server speaks \(Frame.version)")
            }
            guard let role = authorize(token) else { return fail(id, .unauthorized, refusal) }
            state = .open(role)
            return .welcome(id, role, clientName: name)
        case .open(let role):
            return request(frame, role: role, appendsInFlight: appendsInFlight)
        }
    }

    /// The frame stream could not be decoded: it cannot be trusted past this point.
    mutating func decodingFailed(_ error: WireError) -> Action {
        guard state != .closed && state != .draining else { return .ignore }
        state = .closed
        return .fail(0, .error(code: error.code.rawValue, message: error.message))
    }

    /// A subscription the shell started has ended (unsubscribed, failed to start, or ended
    /// on its own): its id may be used again.
    mutating func subscriptionEnded(_ id: UInt32) { subscriptions.remove(id) }

    private mutating func fail(_ id: UInt32, _ code: WireError.Code, _ message: String) -> Action {
        state = .closed
        return .fail(id, .error(code: code.rawValue, message: message))
    }

    private func refuse(_ id: UInt32, _ code: WireError.Code, _ message: String) -> Action {
        .reply(id, .error(code: code.rawValue, message: message))
    }

    private mutating func request(_ frame: Frame, role: Role, appendsInFlight: Int) -> Action {
        let id = frame.requestID
        let kind: RequestKind = switch frame.message {
        case .append: .append
        case .ping, .close, .hello: .ping  // open to every role
        default: .read
        }
        guard role.permits(kind) else { return refuse(id, .unauthorized, "role \(role.rawValue) may not send \(frame.message.type)") }
        switch frame.message {
        case .append(let events):
            guard !events.isEmpty else {
                return refuse(id, .invalidRequest, "APPEND holds no events; a batch is 1–\(limits.maxEventsPerAppend) events")
            }
            guard events.count <= Int(limits.maxEventsPerAppend) else {
                return refuse(id, .invalidRequest, "batch of \(events.count) events exceeds \(limits.maxEventsPerAppend)")
            }
            guard appendsInFlight < Int(limits.maxRequestsInFlight) else {
                return refuse(id, .tooManyRequests, "more than \(limits.maxRequestsInFlight) requests in flight")
            }
            // Recorded times say when the log learned of an event; only an admin (restoring
            // an export) may set them.
            if role != .admin, events.contains(where: { $0.recordedAt != 0 }) {
                return refuse(id, .unauthorized, "only role admin may set recorded_at")
            }
            var batch: [AppendRecord] = []
            batch.reserveCapacity(events.count)
            var payloadBytes = 0
            for (i, e) in events.enumerated() {
                do throws(OrderError) { batch.append(try e.appendRecord()) } catch {
                    return .reply(id, .appendRejected(index: UInt16(i), code: error.code.rawValue, message: error.detail))
                }
                payloadBytes += e.payload.count
            }
            return .run(id, .append(batch, payloadBytes: payloadBytes))

        case .getHistory(let orderID, let afterSeq):
            return .run(id, .history(try? OrderID(orderID), afterSeq: afterSeq))
        case .getSnapshot(let orderID, let asOf, let offset):
            return .run(id, .snapshot(try? OrderID(orderID), asOf: asOf, offset: offset))
        case .listOrders(let by, let limit, let cursor):
            if case .status(let name) = by, OrderSnapshot.Status(rawValue: name) == nil {
                return refuse(id, .invalidRequest, "unknown status \"\(name)\"")
            }
            return .run(id, .list(by, limit: limit, cursor: cursor))
        case .getTotals(let asOf, let after):
            return .run(id, .totals(asOf: asOf, after: after))

        case .subscribe(let from, let credits, let mask, let prefix):
            guard subscriptions.count < Int(limits.maxSubscriptions) else {
                return refuse(id, .tooManySubscriptions, "at most \(limits.maxSubscriptions) subscriptions per connection")
            }
            guard !subscriptions.contains(id) else {
                return refuse(id, .invalidRequest, "request id \(id) already names a subscription")
            }
            subscriptions.insert(id)
            return .run(id, .subscribe(from: from, credits: credits, typeMask: mask, orderPrefix: prefix))
        case .credit(let n):
            guard subscriptions.contains(id) else { return refuse(id, .unknownSubscription, "no subscription \(id)") }
            guard n >= 1 else { return refuse(id, .invalidRequest, "CREDIT must add at least 1 credit") }
            return .run(id, .credit(n))
        case .unsubscribe:
            guard subscriptions.remove(id) != nil else { return refuse(id, .unknownSubscription, "no subscription \(id)") }
            return .run(id, .unsubscribe)

        case .ping(let nonce):
            return .reply(id, .pong(nonce: nonce))
        case .close:
            state = .draining
            return .drain
        case .hello:
            return refuse(id, .invalidRequest, "HELLO was already sent")
        default:
            return refuse(id, .invalidRequest, "\(frame.message.type) is not a request")
        }
    }
}
