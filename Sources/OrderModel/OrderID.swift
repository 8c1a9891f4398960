/// An order's identifier: 1–64 characters of `A-Z a-z 0-9 . _ : -`.
public struct OrderID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let lengthMax = 64
    public let value: String

    public init(_ value: String) throws(OrderError) {
        let utf8 = value.utf8
        guard !utf8.isEmpty, utf8.count <= OrderID.lengthMax else {
            throw OrderError(.invalidOrderID, "order_id must be 1–\(OrderID.lengthMax) characters, got \(utf8.count)", field: "order_id")
        }
        for byte in utf8 where !OrderID.allowed(byte) {
            throw OrderError(.invalidOrderID, "order_id \"\(value)\" holds '\(Character(Unicode.Scalar(byte)))'; allowed are A-Z a-z 0-9 . _ : -", field: "order_id")
        }
        self.value = value
    }

    /// For ids read back from storage, which were validated when they were stored.
    public init(trusted value: String) { self.value = value }

    /// Whether `bytes` spell a valid order id (as `init` checks it), without making a String.
    public static func isValid(bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= lengthMax else { return false }
        for b in bytes where !allowed(b) { return false }
        return true
    }

    @inline(__always) static func allowed(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
    }

    public static func < (a: OrderID, b: OrderID) -> Bool { a.value < b.value }
    public var description: String { value }
}

/// Who made a change.
public struct Actor: Hashable, Sendable {
    public enum Kind: String, Sendable, CaseIterable { case customer, agent, system, integration }
    public var kind: Kind
    public var id: String

    public init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }
}

/// What an append expects of the order's version (its event count) before the event.
public enum ExpectedVersion: Hashable, Sendable {
    /// No expectation (the default).
    case any
    /// The order must not exist yet.
    case none
    /// The order must have exactly this many events.
    case exactly(Int)
}

/// Money in minor units of the order's currency (cents for USD).
public typealias Money = Int64
