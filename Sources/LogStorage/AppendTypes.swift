/// One record to append.
public struct AppendRequest: Sendable {
    public var key: LogKey
    public var type: RecordType
    public var payload: [UInt8]
    /// The time to record, when a caller must keep one (an import of an export). The log still
    /// keeps recorded times non-decreasing: a time before the previous record's is raised to it.
    public var recordedAt: RecordTimestamp?

    public init(key: LogKey, type: RecordType, payload: [UInt8], recordedAt: RecordTimestamp? = nil) {
        self.key = key
        self.type = type
        self.payload = payload
        self.recordedAt = recordedAt
    }
}

/// What a batch append was given: its positions (consecutive, `firstPosition` onward), each
/// record's sequence within its key, and the time recorded on its first record (all of them,
/// unless requests carried their own `recordedAt`).
public struct AppendReceipt: Sendable, Equatable {
    public var firstPosition: LogPosition
    public var sequences: [RecordSequence]
    public var recordedAt: RecordTimestamp

    public var count: Int { sequences.count }
    /// The position after the batch's last record.
    public var endPosition: LogPosition { firstPosition.advanced(by: UInt64(sequences.count)) }
    public var positions: Range<UInt64> { firstPosition.rawValue..<endPosition.rawValue }
}
