import Testing
@testable import OrderModel

@Suite("Event times")
struct EventTimeTests {
    @Test("RFC 3339 times keep their offset and print back as given", arguments: [
        "2026-11-27T08:00:00Z", "2026-11-27T10:00:00.123456+02:00", "1999-12-31T23:59:59.5-05:30", "2024-02-29T00:00:00Z",
    ])
    func roundTrip(text: String) throws {
        let t = try EventTime(rfc3339: text)
        let again = try EventTime(rfc3339: t.rfc3339)
        #expect(again == t)
    }

    @Test("the instant is the same whatever the offset")
    func offsets() throws {
        #expect(try EventTime(rfc3339: "2026-11-27T10:00:00+02:00").microseconds == EventTime(rfc3339: "2026-11-27T08:00:00Z").microseconds)
        #expect(try EventTime(rfc3339: "1970-01-01T00:00:01Z").microseconds == 1_000_000)
    }

    @Test("malformed times are refused naming the field", arguments: ["2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-27 08:00", "yesterday", "2026-11-27T08:00:00"])
    func refused(text: String) {
        #expect(throws: OrderError.self) { try EventTime(rfc3339: text) }
    }
}
