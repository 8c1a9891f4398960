import LogStorage
import OrderModel

/// The one error type of `OrderStore`: a code, a message, and where (the event's index in its
/// batch, the order), carrying the model's or the log's error when one caused it.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// An event broke a rule or could not be read; `orderError` says which.
        case rejected
        /// The log failed (I/O, corruption, disk full); `logError` says how.
        case storage
        /// No such order.
        case notFound = "not_found"
        case invalidArgument = "invalid_argument"
    }

    public var code: Code
    public var message: String
    /// Index of the offending event in the batch.
    public var eventIndex: Int?
    public var orderError: OrderError?
    public var logError: LogError?

    public init(_ code: Code, _ message: String, eventIndex: Int? = nil, orderError: OrderError? = nil, logError: LogError? = nil) {
        self.code = code
        self.message = message
        self.eventIndex = eventIndex
        self.orderError = orderError
        self.logError = logError
    }

    static func rejected(_ e: OrderError, at index: Int?) -> StoreError {
        StoreError(.rejected, e.description, eventIndex: index, orderError: e)
    }

    static func storage(_ e: any Error) -> StoreError {
        if let e = e as? StoreError { return e }
        if let e = e as? LogError { return StoreError(.storage, e.description, logError: e) }
        if let e = e as? OrderError { return StoreError(.rejected, e.description, orderError: e) }
        return StoreError(.storage, "\(e)")
    }

    /// The stable code a user sees: the rule's code for a rejected event.
    public var stableCode: String { orderError?.code.rawValue ?? logError?.code.rawValue ?? code.rawValue }

    public var description: String {
        (eventIndex.map { "event \($0): " } ?? "") + message
    }
}
