/// Message type codes (docs/PROTOCOL.md §4).
public enum MessageType: UInt8, Sendable, CaseIterable {
    case hello = 1, welcome = 2
    case append = 16, appended = 17, appendRejected = 18
    case getHistory = 32, history = 33, getSnapshot = 34, snapshot = 35, listOrders = 36, orders = 37, getTotals = 38, totals = 39
    case subscribe = 48, subscribed = 49, events = 50, credit = 51, unsubscribe = 52, subscriptionEnded = 53
    case ping = 64, pong = 65
    case error = 126, close = 127
}

/// What an append expects of the order's version.
public enum WireExpectedVersion: Hashable, Sendable {
    case any
    case none
    case exactly(UInt64)
}

/// An event a producer appends: the order, the event type code and the binary event form.
public struct WireEvent: Hashable, Sendable {
    public var expectedVersion: WireExpectedVersion
    public var orderID: String
    public var type: UInt16
    public var payload: [UInt8]
    /// Keep this recorded time (µs; an import of an export); 0: the server's clock.
    public var recordedAt: Int64

    public init(expectedVersion: WireExpectedVersion = .any, orderID: String, type: UInt16, payload: [UInt8], recordedAt: Int64 = 0) {
        self.expectedVersion = expectedVersion
        self.orderID = orderID
        self.type = type
        self.payload = payload
        self.recordedAt = recordedAt
    }
}

/// An event as stored, with its place in the log.
public struct WireStoredEvent: Hashable, Sendable {
    public var position: UInt64
    public var seq: UInt32
    public var recordedAt: Int64
    public var orderID: String
    public var type: UInt16
    public var payload: [UInt8]

    public init(position: UInt64, seq: UInt32, recordedAt: Int64, orderID: String, type: UInt16, payload: [UInt8]) {
        self.position = position
        self.seq = seq
        self.recordedAt = recordedAt
        self.orderID = orderID
        self.type = type
        self.payload = payload
    }
}

public enum WireAppendOutcome: Hashable, Sendable {
    case stored(position: UInt64, seq: UInt32)
    case duplicate(position: UInt64)
}

public enum WireAsOf: Hashable, Sendable {
    case now
    case time(Int64)
    case position(UInt64)
}

public enum WireListBy: Hashable, Sendable {
    case customer(String)
    case status(String)
}

public enum WireSubscribeFrom: Hashable, Sendable {
    case position(UInt64)
    case end
    case time(Int64)
}

/// One row of `TOTALS`: orders and money of one currency and channel.
public struct WireTotalsRow: Hashable, Sendable {
    public var currency: String
    public var channel: String
    public var orders: UInt32
    public var total: Int64
    public var captured: Int64
    public var refunded: Int64

    public init(currency: String, channel: String, orders: UInt32, total: Int64, captured: Int64, refunded: Int64) {
        self.currency = currency
        self.channel = channel
        self.orders = orders
        self.total = total
        self.captured = captured
        self.refunded = refunded
    }
}

/// What a server allows, stated in `WELCOME`.
public struct WireLimits: Hashable, Sendable {
    public var maxFrameBytes: UInt32
    public var maxEventsPerAppend: UInt32
    public var maxRequestsInFlight: UInt32
    public var maxSubscriptions: UInt16
    public var maxCredits: UInt32

    public init(maxFrameBytes: UInt32 = 4 << 20, maxEventsPerAppend: UInt32 = 10_000, maxRequestsInFlight: UInt32 = 1024,
                maxSubscriptions: UInt16 = 16, maxCredits: UInt32 = 100_000) {
        self.maxFrameBytes = maxFrameBytes
        self.maxEventsPerAppend = maxEventsPerAppend
        self.maxRequestsInFlight = maxRequestsInFlight
        self.maxSubscriptions = maxSubscriptions
        self.maxCredits = maxCredits
    }
}

/// Every message of protocol version 1.
public enum Message: Hashable, Sendable {
    case hello(protocolVersion: UInt8, clientName: String, token: String)
    case welcome(serverVersion: String, protocolVersion: UInt8, role: String, limits: WireLimits)
    case append([WireEvent])
    case appended([WireAppendOutcome])
    case appendRejected(index: UInt16, code: String, message: String)
    /// The order's events after its `afterSeq`th (0: from the first).
    case getHistory(orderID: String, afterSeq: UInt32)
    /// As many events as fit a frame; `more`: ask again after the last one's seq.
    case history([WireStoredEvent], more: Bool)
    /// The snapshot's JSON from byte `offset` on (0: from the start).
    case getSnapshot(orderID: String, asOf: WireAsOf, offset: UInt32)
    /// As much of the JSON from the offset asked for as fits a frame; `totalBytes`: the whole
    /// JSON's length; `position`: the order's last position in it (ask for the rest as of it).
    case snapshot(found: Bool, json: [UInt8], totalBytes: UInt32, position: UInt64)
    /// At most `limit` ids after `cursor` ("" from the start of the list).
    case listOrders(by: WireListBy, limit: UInt32, cursor: String)
    /// A page; `next`: the cursor for the page after it ("" when this is the last).
    case orders(total: UInt32, ids: [String], next: String)
    /// Now, as recorded at a time (µs), or through a position; rows after the cursor `after`
    /// ("" from the first).
    case getTotals(asOf: WireAsOf, after: String)
    /// Rows that fit a frame; `end`: the totals count the events before this position (ask
    /// for the next page as of it); `next`: the cursor of the next page ("" for the last).
    case totals([WireTotalsRow], end: UInt64, next: String)
    case subscribe(from: WireSubscribeFrom, credits: UInt32, typeMask: UInt32, orderPrefix: String)
    case subscribed(startPosition: UInt64)
    case events([WireStoredEvent])
    case credit(UInt32)
    case unsubscribe
    case subscriptionEnded(code: String, message: String, nextPosition: UInt64)
    case ping(nonce: UInt64)
    case pong(nonce: UInt64)
    case error(code: String, message: String)
    case close(reason: String)

    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .welcome: .welcome
        case .append: .append
        case .appended: .appended
        case .appendRejected: .appendRejected
        case .getHistory: .getHistory
        case .history: .history
        case .getSnapshot: .getSnapshot
        case .snapshot: .snapshot
        case .listOrders: .listOrders
        case .orders: .orders
        case .getTotals: .getTotals
        case .totals: .totals
        case .subscribe: .subscribe
        case .subscribed: .subscribed
        case .events: .events
        case .credit: .credit
        case .unsubscribe: .unsubscribe
        case .subscriptionEnded: .subscriptionEnded
        case .ping: .ping
        case .pong: .pong
        case .error: .error
        case .close: .close
        }
    }
}

/// One frame: a message and the request it belongs to.
public struct Frame: Hashable, Sendable {
    public static let version: UInt8 = 1
    public static let headerBytes = 12
    /// The largest frame accepted before `WELCOME` states the server's limit.
    public static let handshakeFrameBytesMax = 64 << 10

    public var requestID: UInt32
    public var message: Message

    public init(requestID: UInt32, message: Message) {
        self.requestID = requestID
        self.message = message
    }
}
