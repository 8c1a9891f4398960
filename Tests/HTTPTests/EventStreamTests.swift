import Foundation
import OrderModel
import OrderStore
import Testing
@testable import OrderLogHTTP

@Suite("HTTP event stream")
struct EventStreamTests {
    /// The `id:` lines of a stream's text.
    private func ids(_ raw: [UInt8]) -> [Int] {
        // Split on bytes: in a String, a chunk header's "\r\n" is one Character and would
        // not split before the line after it.
        raw.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let text = String(decoding: line, as: UTF8.self)
            return text.hasPrefix("id: ") ? Int(text.dropFirst(4)) : nil
        }
    }

    private func open(_ f: HTTPFixture, _ target: String, headers: String = "", until count: Int) async throws -> [UInt8] {
        let request = "GET \(target) HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\nConnection: close\r\n\(headers)\r\n"
        return try await f.exchange(Array(request.utf8)) { self.ids($0).count >= count }
    }

    @Test("a stream from 0 sends every stored event, then new ones as they become durable; Last-Event-ID resumes after the one given, with no gap or repeat; order_id keeps one order")
    func liveAndResumable() async throws {
        let f = try await HTTPFixture()
        for k in 0..<3 { _ = try await f.request("POST", "/orders/S-\(k)/events", body: placedJSON("S-\(k)")) }
        // Three stored, then two appended while the stream is open.
        async let live = open(f, "/events?from=0", until: 5)
        try await Task.sleep(for: .milliseconds(300))
        _ = try await f.request("POST", "/orders/S-0/events", body: #"{"order_id":"S-0","type":"NoteAdded","data":{"text":"live"}}"#)
        _ = try await f.request("POST", "/orders/S-1/events", body: #"{"order_id":"S-1","type":"NoteAdded","data":{"text":"live"}}"#)
        let raw = try await live
        #expect(ids(raw) == [0, 1, 2, 3, 4])
        let text = String(decoding: raw, as: UTF8.self)
        #expect(text.contains("text/event-stream"))
        #expect(text.contains("event: NoteAdded\ndata: {\"order_id\":\"S-0\",\"type\":\"NoteAdded\""))
        // Resume after 2.
        #expect(ids(try await open(f, "/events", headers: "Last-Event-ID: 2\r\n", until: 2)) == [3, 4])
        // One order.
        #expect(ids(try await open(f, "/events?from=0&order_id=S-1", until: 2)) == [1, 4])
        #expect(try await f.request("GET", "/events?from=x").status == 400)
        await f.stop()
    }

    @Test("a stream's place is given back when its client goes: more streams than the limit, one after another, are all served; past the limit at once, 503")
    func streamSlotsAreGivenBack() async throws {
        // A gone peer is found at the stream's next write: keep-alive comments every second.
        let f = try await HTTPFixture { $0.streamsMax = 2; $0.keepAlive = .seconds(1) }
        _ = try await f.request("POST", "/orders/S-1/events", body: placedJSON("S-1"))
        // Each client goes as soon as it has its event; its place is free after the next
        // keep-alive or two.
        for _ in 0..<4 {
            #expect(ids(try await open(f, "/events?from=0", until: 1)) == [0])
            try await Task.sleep(for: .milliseconds(1500))
        }
        try await Task.sleep(for: .milliseconds(1500))
        // Two held open: a third is refused.
        async let a = open(f, "/events?from=0&order_id=S-1", until: 2)
        async let b = open(f, "/events?from=0&order_id=S-1", until: 2)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await f.request("GET", "/events?from=0").status == 503)
        _ = try await f.request("POST", "/orders/S-1/events", body: #"{"order_id":"S-1","type":"NoteAdded","data":{"text":"x"}}"#)
        #expect(try await ids(a) == [0, 1])
        #expect(try await ids(b) == [0, 1])
        await f.stop()
    }
}
