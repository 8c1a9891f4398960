@testable import OrderModel
import Testing

/// The rules read events in their binary form (`EventView`); the store keeps only canonical
/// bytes. These hold the reader to the decoder and the canonical flag to the encoder.
@Suite struct EventViewTests {
    static func read(_ bytes: [UInt8], _ type: EventType) -> Result<Bool, OrderError> {
        bytes.withUnsafeBytes { raw in Result { () throws(OrderError) in try EventView.read(type: type, raw).isCanonical } }
    }

    static func decode(_ bytes: [UInt8], _ type: EventType) -> Result<OrderEvent, OrderError> {
        bytes.withUnsafeBytes { raw in Result { () throws(OrderError) in try OrderEvent.decodeBinary(orderID: OrderID(trusted: "o"), type: type, raw) } }
    }

    @Test("what encodeBinary writes reads back as canonical, and binary(_:withTime:) is the encoding with that ts")
    func encodedIsCanonical() {
        for seed in UInt64(0)..<200 {
            for g in LifecycleGenerator.lifecycle(seed: seed) {
                let bytes = g.event.encodeBinary()
                #expect((try? Self.read(bytes, g.event.type).get()) == true, "\(g.event)")
                var timeless = g.event
                timeless.ts = nil
                let time = EventTime(microseconds: g.recordedAt, offsetMinutes: 0)
                var timed = timeless
                timed.ts = time
                #expect(OrderEvent.binary(timeless.encodeBinary(), withTime: time) == timed.encodeBinary())
            }
        }
    }

    @Test("on corrupted payloads the reader accepts exactly what the decoder accepts, and canonical bytes are exactly those that encode back to themselves")
    func readerMatchesDecoder() {
        var rng = SplitMix64(seed: 0xB17E5)
        var accepted = 0, longer = 0
        for seed in UInt64(0)..<80 {
            for g in LifecycleGenerator.lifecycle(seed: seed) {
                let original = g.event.encodeBinary()
                for round in 0..<12 {
                    var m = original
                    switch round % 4 {
                    case 0 where !m.isEmpty: m[rng.below(m.count)] ^= UInt8(1 << rng.below(8))
                    case 1 where !m.isEmpty: m.remove(at: rng.below(m.count))
                    case 2:
                        // A longer form of a varint: a 0x80 continuation inserted before a last
                        // byte < 0x80 turns `b` into `b|0x80, 0x00` (same value).
                        if let k = (2..<m.count).shuffled(using: &rng).first(where: { m[$0] < 0x80 }) { m[k] |= 0x80; m.insert(0, at: k + 1) }
                    default: m.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(m.count + 1))
                    }
                    let viewed = Self.read(m, g.event.type)
                    let decoded = Self.decode(m, g.event.type)
                    switch (viewed, decoded) {
                    case (.success(let canonical), .success(let event)):
                        accepted += 1
                        #expect(canonical == (event.encodeBinary() == m), "canonical flag wrong for \(m)")
                        if !canonical { longer += 1 }
                    case (.failure(let a), .failure(let b)):
                        #expect(a.code == b.code)
                    default:
                        Issue.record("reader and decoder disagree on \(m): \(viewed) vs \(decoded)")
                    }
                }
            }
        }
        #expect(accepted > 100 && longer > 20)
    }
}

extension SplitMix64: RandomNumberGenerator {}
