import Testing
@testable import WireProtocol

@Suite("EVENTS frames built from stored records")
struct EventsFrameBuilderTests {
    @Test("the builder's bytes are the encoded EVENTS frame of the same events, empty or not, and its sizes add up")
    func sameBytesAsTheCodec() throws {
        let events = [
            WireStoredEvent(position: 0, seq: 1, recordedAt: 1_767_225_600_000_000, orderID: "ORD-1", type: 1, payload: [1, 0, 9]),
            WireStoredEvent(position: .max, seq: .max, recordedAt: -1, orderID: "x", type: 17, payload: []),
            WireStoredEvent(position: 77, seq: 3, recordedAt: 0, orderID: String(repeating: "z", count: 64), type: 16, payload: Array(repeating: 0xFE, count: 5000)),
        ]
        for n in 0...events.count {
            var builder = EventsFrameBuilder(requestID: 42, capacity: 16)
            for e in events.prefix(n) {
                e.orderID.utf8.withContiguousStorageIfAvailable { id in
                    e.payload.withUnsafeBytes { payload in
                        builder.append(position: e.position, seq: e.seq, recordedAt: e.recordedAt, orderID: UnsafeRawBufferPointer(id), type: e.type, payload: payload)
                    }
                }
            }
            let expectedSize = EventsFrameBuilder.overheadBytes + events.prefix(n).reduce(0) { $0 + EventsFrameBuilder.eventBytes(orderIDBytes: $1.orderID.utf8.count, payloadBytes: $1.payload.count) }
            #expect(builder.byteCount == expectedSize)
            #expect(builder.count == n)
            let bytes = builder.finish()
            #expect(bytes == Frame(requestID: 42, message: .events(Array(events.prefix(n)))).encoded())
            // And it decodes back to them.
            var decoder = FrameDecoder()
            decoder.append(bytes[...])
            let frame = try #require(try decoder.next())
            #expect(frame == Frame(requestID: 42, message: .events(Array(events.prefix(n)))))
        }
    }
}
