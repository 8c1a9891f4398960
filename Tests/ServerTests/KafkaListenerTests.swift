import Foundation
import KafkaProtocol
import LogStorage
import NIOCore
import NIOPosix
import OrderModel
import OrderStore
import Testing
@testable import OrderLogServer

/// The Kafka port over real sockets: hostile frames close their own connection and nothing
/// else (docs/KAFKA.md §8).
@Suite("Kafka listener")
struct KafkaListenerTests {
    /// Frames `request` with its 4-byte size.
    private func framed(_ request: [UInt8]) -> [UInt8] {
        var w = KafkaWriter()
        w.int32(Int32(request.count))
        return w.bytes + request
    }

    private func apiVersions(_ correlation: Int32) -> [UInt8] {
        var w = KafkaWriter()
        KafkaRequests.header(&w, .apiVersions, 0, correlation)
        return framed(w.bytes)
    }

    /// Runs `body` with a listener on a free port over a new store (durable appends), then shuts
    /// both down.
    private func withListener(_ body: (KafkaListener, OrderStore) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-listener-\(UUID().uuidString.prefix(8))"
        var c = StoreConfiguration()
        c.log.durability = .always
        let store = try OrderStore.open(path: path, configuration: c)
        var kc = KafkaConfiguration()
        kc.port = 0
        let listener = try await KafkaListener.bind(store: store, host: "127.0.0.1", configuration: kc)
        let running = Task { try await listener.run() }
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await body(listener, store)
        await listener.shutdown()
        running.cancel()
        _ = await running.result
        try store.close()
    }

    /// Sends `bytes` on a new connection; returns the response frames' correlation ids and
    /// whether the server closed the connection within `wait`.
    private func exchange(port: Int, _ bytes: [UInt8], expecting answers: Int = 0, wait: Duration = .seconds(5)) async throws -> (correlations: [Int32], closed: Bool) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { ch in
                ch.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            var pending: [UInt8] = []
            var correlations: [Int32] = []
            let reader = Task {
                var closed = false
                do {
                    for try await buffer in inbound {
                        pending += Array(buffer.readableBytesView)
                        while pending.count >= 8 {
                            let size = Int(Int32(bigEndian: pending.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
                            guard pending.count >= 4 + size else { break }
                            correlations.append(Int32(bigEndian: pending.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: Int32.self) }))
                            pending.removeFirst(4 + size)
                        }
                        if answers > 0 && correlations.count >= answers { return (correlations, false) }
                    }
                    closed = true
                } catch is CancellationError {
                    closed = false  // our own timer: the server had not closed it
                } catch { closed = true }
                return (correlations, closed)
            }
            let timer = Task { try await Task.sleep(for: wait); reader.cancel() }
            let result = await reader.value
            timer.cancel()
            return result
        }
    }

    @Test("hostile frames (a negative or huge size, a request that does not read, an unknown API, a frame cut short then silence) close their connection alone; a client on another connection is answered throughout")
    func hostileFramesCloseOnlyTheirConnection() async throws {
        try await withListener { listener, store in
            var unknownAPI = KafkaWriter()
            unknownAPI.int16(9999); unknownAPI.int16(0); unknownAPI.int32(3); unknownAPI.nullableString("x")
            var garbage = KafkaWriter()
            KafkaRequests.header(&garbage, .metadata, 8, 4)
            garbage.int32(Int32.max)  // a topic array of 2^31 - 1 entries in a 20-byte frame
            let hostile: [(String, [UInt8])] = [
                ("negative size", [0xFF, 0xFF, 0xFF, 0xF0, 1, 2, 3, 4]),
                ("size past every limit", [0x7F, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64)),
                ("unknown API", framed(unknownAPI.bytes)),
                ("a request that does not read", framed(garbage.bytes)),
                ("a frame too short for a header", framed([0, 18])),
            ]
            for (name, bytes) in hostile {
                // A good client first, on its own connection; the hostile one is closed; the good
                // one was answered and another is answered after.
                async let good = exchange(port: listener.port, apiVersions(1) + apiVersions(2), expecting: 2)
                let bad = try await exchange(port: listener.port, bytes)
                #expect(bad.closed, "\(name): the connection is closed")
                #expect(bad.correlations.allSatisfy { $0 != 1 && $0 != 2 }, "\(name)")
                #expect(try await good.correlations == [1, 2], "\(name): another client is answered")
            }
            // A frame that announces 1 KiB, sends 10 bytes and goes silent holds only its own
            // connection: others are answered while it waits.
            let partial = Task { try await exchange(port: listener.port, [0, 0, 4, 0] + [UInt8](repeating: 0, count: 10), wait: .seconds(2)) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await exchange(port: listener.port, apiVersions(5), expecting: 1).correlations == [5])
            _ = try await partial.value
            // Nothing was stored by any of it.
            #expect(store.endPosition == 0)

        }
    }

    @Test("requests sent back to back on one connection — produce requests read ahead of their turn — are answered in order, each stored; a bad frame after them closes the connection once they are answered")
    func pipelinedRequestsAnsweredInOrder() async throws {
        try await withListener { listener, store in
            let events = orderEvents(60, seed: 21)
            let byPartition = eventsByPartition(events, partitions: KafkaConfiguration().partitions)
            var bytes: [UInt8] = []
            var expected: [Int32] = []
            for (k, p) in byPartition.keys.sorted().enumerated() {
                bytes += framed(KafkaRequests.produce([(p, KafkaRequests.batch(byPartition[p]!))], correlation: Int32(100 + k)))
                expected.append(Int32(100 + k))
                if k == 2 { bytes += apiVersions(50); expected.append(50) }
            }
            var unknownAPI = KafkaWriter()
            unknownAPI.int16(9999); unknownAPI.int16(0); unknownAPI.int32(3); unknownAPI.nullableString("x")
            bytes += framed(unknownAPI.bytes)
            let answered = try await exchange(port: listener.port, bytes, wait: .seconds(10))
            #expect(answered.correlations == expected)
            #expect(answered.closed)
            #expect(store.endPosition == UInt64(events.count))

        }
    }
}
