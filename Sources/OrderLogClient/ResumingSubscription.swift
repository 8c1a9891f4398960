import OrderModel
import WireProtocol

/// Events from a position on, over a connection of its own that is re-made whenever it drops
/// (server restart, network failure): each time it subscribes again from the position after
/// the last event it delivered, so the sequence has no gap and no duplicate.
///
/// Pull-based like `EventSubscription`: events are fetched as the consumer asks for them, so
/// a slow consumer holds at most one subscription's credits in memory. Ends only when the
/// consumer stops iterating, or throws once `attempts` reconnections in a row have failed.
public struct ResumingSubscription: AsyncSequence, Sendable {
    public typealias Element = StoredEvent
    public typealias Failure = any Error

    let host: String
    let port: Int
    let token: String
    let from: UInt64
    let types: Set<EventType>
    let orderPrefix: String
    let retryDelay: Duration
    let attempts: Int

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(settings: self, next: from) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let settings: ResumingSubscription
        /// The position of the next event to deliver.
        var next: UInt64
        var connection: Connection?
        var failures = 0

        /// Closes the connection when the iterator is dropped.
        final class Connection: Sendable {
            let client: OrderLogClient
            init(_ client: OrderLogClient) { self.client = client }
            deinit { Task { [client] in await client.close() } }
        }

        var events: EventSubscription.AsyncIterator?

        public mutating func next() async throws -> StoredEvent? {
            while !Task.isCancelled {
                if events == nil {
                    do {
                        let client = try await OrderLogClient.connect(host: settings.host, port: settings.port, clientName: "orderlog-resuming", token: settings.token)
                        connection = Connection(client)
                        events = try await client.subscribe(from: .position(next), types: settings.types, orderPrefix: settings.orderPrefix).makeAsyncIterator()
                        failures = 0
                    } catch {
                        connection = nil
                        failures += 1
                        if failures >= settings.attempts { throw error }
                        try? await Task.sleep(for: settings.retryDelay)
                        continue
                    }
                }
                do {
                    while let event = try await events!.next() {
                        guard event.position >= next else { continue }  // never twice
                        next = event.position + 1
                        return event
                    }
                } catch {}
                // The stream ended or failed: the connection dropped or the server stopped.
                events = nil
                connection = nil
                try? await Task.sleep(for: settings.retryDelay)
            }
            return nil
        }
    }
}

extension OrderLogClient {
    /// Events from `from` on, resuming after dropped connections: see `ResumingSubscription`.
    public static func resumingSubscription(
        host: String = "127.0.0.1", port: Int = 7717, token: String = "",
        from: UInt64 = 0, types: Set<EventType> = [], orderPrefix: String = "",
        retryDelay: Duration = .milliseconds(200), attempts: Int = 50
    ) -> ResumingSubscription {
        ResumingSubscription(host: host, port: port, token: token, from: from, types: types, orderPrefix: orderPrefix, retryDelay: retryDelay, attempts: attempts)
    }
}
