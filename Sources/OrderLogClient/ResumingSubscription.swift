import OrderModel
import WireProtocol

extension OrderLogClient {
    /// Events from `from` on, on a connection of its own that is re-made whenever it drops
    /// (server restart, network failure): each time it subscribes again from the position
    /// after the last event it delivered, so the stream has no gap and no duplicate. Ends only
    /// when the consumer stops iterating (or `attempts` reconnections in a row fail).
    public static func resumingSubscription(
        host: String = "127.0.0.1", port: Int = 7717, token: String = "",
        from: UInt64 = 0, types: Set<EventType> = [], orderPrefix: String = "",
        retryDelay: Duration = .milliseconds(200), attempts: Int = 50
    ) -> AsyncThrowingStream<StoredEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var next = from
                var failures = 0
                while !Task.isCancelled {
                    do {
                        let client = try await OrderLogClient.connect(host: host, port: port, clientName: "orderlog-resuming", token: token)
                        failures = 0
                        do {
                            for try await event in try await client.subscribe(from: .position(next), types: types, orderPrefix: orderPrefix) {
                                guard event.position >= next else { continue }  // never twice
                                continuation.yield(event)
                                next = event.position + 1
                            }
                        } catch {}
                        await client.close()
                    } catch {
                        failures += 1
                        if failures >= attempts {
                            continuation.finish(throwing: error)
                            return
                        }
                    }
                    try? await Task.sleep(for: retryDelay)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
