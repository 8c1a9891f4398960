import LogStorage
import Logging
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

    /// The store's directory (the log's; derived files live in subdirectories of it).
    public var directory: String { log.path }

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

/// One replay worker's orders: found by the bytes of a record's key (no String per record),
/// each snapshot changed in place where it is.
struct ReplayPart: Sendable {
    var table: OrderTable
    var snapshots: [OrderSnapshot] = []

    init(capacity: Int) {
        table = OrderTable(capacity: capacity)
        snapshots.reserveCapacity(capacity)
    }

    /// The index of the record's order, added (with an empty snapshot) if new. Throws
    /// `invalid_order_id` for a key that is not an order id.
    mutating func order(of view: RecordView) throws(OrderError) -> Int {
        let hash = OrderTable.hash(bytes: view.keyBytes)
        if let h = table.find(bytes: view.keyBytes, hash: hash) { return h.index }
        let id = try OrderID(String(decoding: view.keyBytes, as: UTF8.self))
        let h = table.intern(id, hash: hash)
        snapshots.append(OrderSnapshot(orderID: id))
        return h.index
    }
}

extension StoredEvent {
    /// A record's event type, or `corrupt_payload` for a code the catalog does not have.
    static func type(of view: RecordView) throws(OrderError) -> EventType {
        try type(code: view.type, at: view.position, orderID: nil)
    }

    private static func type(code: RecordType, at position: LogPosition, orderID: OrderID?) throws(OrderError) -> EventType {
        guard let type = EventType(code: code.rawValue) else {
            throw OrderError(.corruptPayload, "record \(position) has unknown event type code \(code.rawValue)", orderID: orderID?.value)
        }
        return type
    }

    /// Decodes a log record into the event it holds.
    static func decode(_ view: RecordView) throws -> StoredEvent {
        let orderID = try OrderID(String(decoding: view.keyBytes, as: UTF8.self))
        let event = try OrderEvent.decodeBinary(orderID: orderID, type: type(code: view.type, at: view.position, orderID: orderID), view.payload)
        return StoredEvent(event: event, position: view.position.rawValue, seq: view.sequence.rawValue, recordedAt: view.recordedAt.rawValue)
    }

    static func decode(_ record: Record) throws -> StoredEvent {
        let orderID = try OrderID(record.key.string)
        let type = try type(code: record.type, at: record.position, orderID: orderID)
        let event = try record.payload.withUnsafeBytes { try OrderEvent.decodeBinary(orderID: orderID, type: type, $0) }
        return StoredEvent(event: event, position: record.position.rawValue, seq: record.sequence.rawValue, recordedAt: record.recordedAt.rawValue)
    }
}

/// An event as the log holds it: its place and its canonical binary payload (docs/EVENTS.md
/// §5), not decoded — for callers that pass it on as it is (a server's HISTORY).
public struct StoredRecord: Sendable, Equatable {
    public var position: UInt64
    public var seq: UInt32
    /// µs since the Unix epoch.
    public var recordedAt: Int64
    public var orderID: String
    /// The event type code (EVENTS.md §3).
    public var type: UInt16
    public var payload: [UInt8]
}

extension OrderStore {
    /// The order's stored events, oldest first, as their bytes: no decode, no encode. They
    /// are what the store wrote after its checks, so they decode (`history` decodes them).
    public func storedRecords(of id: OrderID) throws -> [StoredRecord] {
        let key: LogKey
        do { key = try LogKey(id.value) } catch { throw StoreError.storage(error) }
        do {
            return try log.records(forKey: key).map {
                StoredRecord(position: $0.position.rawValue, seq: $0.sequence.rawValue, recordedAt: $0.recordedAt.rawValue,
                             orderID: id.value, type: $0.type.rawValue, payload: $0.payload)
            }
        } catch { throw StoreError.storage(error) }
    }
}

extension OrderSnapshot {
    /// Applies a stored record to this order's state as every replay of the log does (open,
    /// a checkpoint's restore and its writer): an event that does not read, or that the rules
    /// refuse, changes nothing and is logged — stored events are replayed, not judged; `audit`
    /// reports them. One implementation, so that every way of rebuilding a state agrees.
    mutating func apply(stored view: RecordView, logger: Logger?) {
        let outcome = Result { () throws(OrderError) -> OrderError? in
            let event = try EventView.read(type: try StoredEvent.type(of: view), view.payload)
            do throws(OrderError) {
                try apply(event, position: view.position.rawValue, time: event.ts?.microseconds ?? view.recordedAt.rawValue)
                return nil
            } catch { return error }
        }
        switch outcome {
        case .failure(let e): logger?.error("stored event does not decode", metadata: ["position": "\(view.position)", "error": "\(e)"])
        case .success(let refused?): logger?.error("stored event breaks a rule", metadata: ["position": "\(view.position)", "error": "\(refused)"])
        case .success(nil): break
        }
    }
}
