import OrderModel
import WireProtocol

/// The events of one subscription, as an `AsyncSequence`.
///
/// Credits are topped up as the consumer takes events — not as they arrive — so the events
/// buffered in this process are bounded by the credits asked for: a consumer that stops
/// reading stops the server sending.
public struct EventSubscription: AsyncSequence, Sendable {
    public typealias Element = StoredEvent
    public typealias Failure = any Error

    let stream: AsyncThrowingStream<StoredEvent, any Error>
    let consumed: @Sendable () -> Void

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<StoredEvent, any Error>.AsyncIterator
        let consumed: @Sendable () -> Void

        public mutating func next() async throws -> StoredEvent? {
            guard let event = try await base.next() else { return nil }
            consumed()
            return event
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), consumed: consumed)
    }
}

/// The events of one subscription as the server sends them: a batch per `EVENTS` frame, each
/// event its stored bytes (`OrderLogClient.subscribeRecords`). Credits are topped up as the
/// consumer takes batches.
public struct RecordSubscription: AsyncSequence, Sendable {
    public typealias Element = [WireStoredEvent]
    public typealias Failure = any Error

    let stream: AsyncThrowingStream<[WireStoredEvent], any Error>
    let consumed: @Sendable (Int) -> Void

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<[WireStoredEvent], any Error>.AsyncIterator
        let consumed: @Sendable (Int) -> Void

        public mutating func next() async throws -> [WireStoredEvent]? {
            guard let batch = try await base.next() else { return nil }
            consumed(batch.count)
            return batch
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), consumed: consumed)
    }
}
