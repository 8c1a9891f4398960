/// Builds an `EVENTS` frame (docs/PROTOCOL.md §5, §7) straight from stored records' parts —
/// the bytes a log scan sees in place — with no `WireStoredEvent` (a String and an array per
/// event) in between: what a subscription sends at the speed the log is read. The bytes are
/// exactly `Frame(requestID:message: .events(…)).encoded()` for the same events.
public struct EventsFrameBuilder {
    private var w: WireWriter
    /// Events appended so far.
    public private(set) var count = 0

    /// The bytes one event takes in the frame.
    public static func eventBytes(orderIDBytes: Int, payloadBytes: Int) -> Int {
        8 + 4 + 8 + 2 + orderIDBytes + 2 + 4 + payloadBytes
    }

    /// The header and the event count take this many bytes before the first event.
    public static let overheadBytes = Frame.headerBytes + 4

    /// `capacity`: the bytes expected (one allocation when it is right).
    public init(requestID: UInt32, capacity: Int = 64 << 10) {
        w = WireWriter(capacity: max(Self.overheadBytes, capacity))
        w.u32(0)  // length, patched by `finish`
        w.u8(Frame.version)
        w.u8(MessageType.events.rawValue)
        w.u16(0)
        w.u32(requestID)
        w.u32(0)  // count, patched by `finish`
    }

    /// The frame's size so far, header included.
    public var byteCount: Int { w.bytes.count }

    /// Appends one stored event. `orderID` is at most 65,535 bytes (ids are at most 64).
    public mutating func append(position: UInt64, seq: UInt32, recordedAt: Int64, orderID: UnsafeRawBufferPointer, type: UInt16,
                                payload: UnsafeRawBufferPointer) {
        precondition(orderID.count <= Int(UInt16.max))
        w.reserve(Self.eventBytes(orderIDBytes: orderID.count, payloadBytes: payload.count))
        w.u64(position)
        w.u32(seq)
        w.i64(recordedAt)
        w.u16(UInt16(orderID.count))
        w.raw(orderID)
        w.u16(type)
        w.u32(UInt32(payload.count))
        w.raw(payload)
        count += 1
    }

    /// The frame's bytes, its length and count filled in.
    public consuming func finish() -> [UInt8] {
        w.patchU32(UInt32(w.bytes.count - 4), at: 0)
        w.patchU32(UInt32(count), at: Frame.headerBytes)
        return w.bytes
    }
}
