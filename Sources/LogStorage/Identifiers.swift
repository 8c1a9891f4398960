/// A record's place in the whole log: dense, starting at 0, one per record across all segments.
public struct LogPosition: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }

    /// Positions are packed into 40 bits in indexes (docs/FORMAT.md), so this is the log's capacity.
    public static let limit = LogPosition(1 << 40)

    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool { lhs.rawValue < rhs.rawValue }
    public func advanced(by n: UInt64) -> LogPosition { LogPosition(rawValue + n) }
    public var description: String { String(rawValue) }
}

/// The per-key sequence number: 1 for a key's first record, then 2, 3, …
public struct RecordSequence: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    /// Sequences are packed into 24 bits in indexes: the most records one key may have.
    public static let limit: UInt32 = (1 << 24) - 1
    public static func < (lhs: RecordSequence, rhs: RecordSequence) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// A small application-defined record type code (the order layer stores its event type here).
public struct RecordType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ value: UInt16) { self.rawValue = value }
}

/// Microseconds since 1970-01-01T00:00:00Z. The log assigns it on append and keeps it
/// non-decreasing along positions, which is what makes time lookups a binary search.
public struct RecordTimestamp: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(microsecondsSinceEpoch: Int64) { self.rawValue = microsecondsSinceEpoch }
    public static func < (lhs: RecordTimestamp, rhs: RecordTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { String(rawValue) }
}

/// The key a record belongs to (an order id, for the order layer): 1–64 bytes of visible
/// ASCII (0x21–0x7E). Validated once, here, so every layer below can trust it.
public struct LogKey: Hashable, Sendable, CustomStringConvertible {
    public static let bytesMax = 64
    public let bytes: [UInt8]

    public init(_ string: String) throws(LogError) {
        try self.init(bytes: Array(string.utf8))
    }

    public init(bytes: [UInt8]) throws(LogError) {
        guard !bytes.isEmpty, bytes.count <= LogKey.bytesMax else {
            throw LogError(.invalidArgument, "key must be 1–\(LogKey.bytesMax) bytes, got \(bytes.count)")
        }
        if let bad = bytes.firstIndex(where: { $0 < 0x21 || $0 > 0x7E }) {
            throw LogError(.invalidArgument, "key byte \(bad) is 0x\(String(bytes[bad], radix: 16)); keys are visible ASCII (0x21–0x7E)")
        }
        self.bytes = bytes
    }

    /// For bytes already validated (read back from a checksummed record).
    init(trusted bytes: [UInt8]) { self.bytes = bytes }

    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { string }
}
