import LogStorage
import OrderModel

/// One stored event as the log holds it, seen in place during a scan: valid only inside the
/// closure that receives it (its bytes are the log's mapped memory or a decompressed block).
/// What a subscription sends as it is, without decoding the event (docs/PROTOCOL.md §7).
public struct StoredRecordView {
    let view: RecordView

    /// Its position in the whole log.
    public var position: UInt64 { view.position.rawValue }
    /// Its sequence within its order (1, 2, …).
    public var seq: UInt32 { view.sequence.rawValue }
    /// When the log recorded it, µs since the Unix epoch.
    public var recordedAt: Int64 { view.recordedAt.rawValue }
    /// The event type code (EVENTS.md §3).
    public var type: UInt16 { view.type.rawValue }
    /// The order id's bytes (ASCII, EVENTS.md §2).
    public var orderIDBytes: UnsafeRawBufferPointer { view.keyBytes }
    /// The canonical binary payload (EVENTS.md §5).
    public var payload: UnsafeRawBufferPointer { view.payload }
}

/// Reading the log in order, for subscriptions: a server learns positions and stored records
/// only through these, not from the storage engine underneath.
extension OrderStore {
    /// The position after the newest readable event (durable, under the default policy).
    public var endPosition: UInt64 { log.endPosition.rawValue }

    /// The position of the first event recorded at or after `time` (µs since the Unix epoch);
    /// `endPosition` when there is none.
    public func firstPosition(recordedAtOrAfter time: Int64) throws -> UInt64 {
        do { return try log.firstPosition(recordedAtOrAfter: RecordTimestamp(rawValue: time)).rawValue } catch { throw StoreError.storage(error) }
    }

    /// Visits the stored events from `position` in log order while `body` returns true.
    /// Every record's checksum is verified as it is read.
    public func scanRecords(from position: UInt64, _ body: (StoredRecordView) throws -> Bool) throws {
        do { try log.scan(from: LogPosition(position)) { try body(StoredRecordView(view: $0)) } } catch let error as LogError {
            throw StoreError.storage(error)
        }
    }

    /// Waits until an event after `position` is readable (true), or the store is closed
    /// (false). Cancellable.
    public func waitForRecords(after position: UInt64) async -> Bool {
        await log.waitForRecords(after: LogPosition(position))
    }
}
