import Foundation
import OrderLogServer
import OrderModel
import OrderStore
import Testing
@testable import OrderLogHTTP

@Suite("HTTP API")
struct HTTPAPITests {
    @Test("an order posted as one event and as an array reads back as its snapshot, history, customer's list, status list and totals")
    func postThenRead() async throws {
        let f = try await HTTPFixture()
        var a = try await f.request("POST", "/orders/O-1/events", body: placedJSON("O-1"))
        #expect(a.status == 201, "\(a.body)")
        a = try await f.request("POST", "/orders/O-1/events", body: """
            [ {"order_id":"O-1","type":"PaymentAuthorized","data":{"payment_id":"p1","amount_minor":200}},
              {"order_id":"O-1","type":"PaymentCaptured","data":{"payment_id":"p1","amount_minor":200}} ]
            """)
        #expect(a.status == 201, "\(a.body)")
        let results = (a.json as? [String: Any])?["results"] as? [[String: Any]]
        #expect(results?.map { $0["position"] as? Int } == [1, 2])

        a = try await f.request("GET", "/orders/O-1")
        #expect(a.status == 200)
        let snapshot = a.json as? [String: Any]
        #expect(snapshot?["status"] as? String == "paid")
        #expect(snapshot?["version"] as? Int == 3)
        // As of a position: before the payments.
        a = try await f.request("GET", "/orders/O-1?position=0")
        #expect((a.json as? [String: Any])?["status"] as? String == "placed")

        a = try await f.request("GET", "/orders/O-1/events")
        let events = (a.json as? [String: Any])?["events"] as? [[String: Any]]
        #expect(events?.map { $0["type"] as? String } == ["OrderPlaced", "PaymentAuthorized", "PaymentCaptured"])
        #expect(events?.first?["recorded_at"] != nil)

        a = try await f.request("GET", "/customers/C1/orders")
        #expect(((a.json as? [String: Any])?["orders"] as? [[String: Any]])?.first?["order_id"] as? String == "O-1")
        a = try await f.request("GET", "/orders?status=paid")
        #expect((a.json as? [String: Any])?["total"] as? Int == 1)
        a = try await f.request("GET", "/totals")
        let row = ((a.json as? [String: Any])?["totals"] as? [[String: Any]])?.first
        #expect(row?["captured_minor"] as? Int == 200)
        a = try await f.request("GET", "/health")
        #expect((a.json as? [String: Any])?["events"] as? Int == 3)
        await f.stop()
    }

    @Test("status pages follow their cursor to the end, each order once")
    func paging() async throws {
        let f = try await HTTPFixture()
        let batch = "[" + (0..<25).map { placedJSON("P-\($0)") }.joined(separator: ",") + "]"
        // Every event must be for the path's order: a batch for many orders is refused whole.
        let refused = try await f.request("POST", "/orders/P-0/events", body: batch)
        #expect(refused.status == 400)
        #expect(f.store.endPosition == 0)
        for k in 0..<25 { _ = try await f.request("POST", "/orders/P-\(k)/events", body: placedJSON("P-\(k)")) }
        var seen: [String] = []
        var after = ""
        for _ in 0..<10 {
            let a = try await f.request("GET", "/orders?status=placed&limit=10" + (after.isEmpty ? "" : "&after=\(after)"))
            let page = a.json as? [String: Any]
            seen += ((page?["orders"] as? [[String: Any]]) ?? []).compactMap { $0["order_id"] as? String }
            guard let next = page?["next"] as? String else { break }
            after = next
        }
        #expect(seen.count == 25 && Set(seen).count == 25)
        #expect(try await f.request("GET", "/orders?status=placed&limit=0").status == 400)
        #expect(try await f.request("GET", "/orders?status=lost").status == 400)
        await f.stop()
    }

    @Test("refusals: bad JSON 400 naming where, a rule 422 with its code, a version conflict 409, a duplicate event_id answered not stored — nothing stored by any refusal")
    func refusalsStoreNothing() async throws {
        let f = try await HTTPFixture()
        _ = try await f.request("POST", "/orders/R-1/events", body: placedJSON("R-1", extra: #","event_id":"e1""#))
        let before = f.store.endPosition
        var a = try await f.request("POST", "/orders/R-1/events", body: #"{"order_id":"R-1","type":"NoteAdded","data":{"text":5}}"#)
        #expect(a.status == 400)
        #expect((a.json as? [String: Any]).flatMap { ($0["error"] as? [String: Any])?["field"] as? String } == "data.text")
        a = try await f.request("POST", "/orders/R-1/events", body: #"[{"order_id":"R-1","type":"NoteAdded","data":{"text":"ok"}}, {"order_id":"R-1""#)
        #expect(a.status == 400)
        a = try await f.request("POST", "/orders/R-1/events", body: #"[{"order_id":"R-1","type":"NoteAdded","data":{"text":"ok"}},{"order_id":"R-1","type":"PaymentCaptured","data":{"payment_id":"nope","amount_minor":5}}]"#)
        #expect(a.status == 422)
        let error = (a.json as? [String: Any])?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "unknown_payment")
        #expect(error?["index"] as? Int == 1)
        a = try await f.request("POST", "/orders/R-1/events", body: #"{"order_id":"R-1","type":"NoteAdded","expected_version":7,"data":{"text":"x"}}"#)
        #expect(a.status == 409)
        a = try await f.request("POST", "/orders/R-1/events", body: "")
        #expect(a.status == 400)
        a = try await f.request("POST", "/orders/bad%20id/events", body: placedJSON("R-2"))
        #expect(a.status == 400)
        #expect(f.store.endPosition == before)
        // The same event_id again: answered with where it is, nothing stored.
        a = try await f.request("POST", "/orders/R-1/events", body: placedJSON("R-1", extra: #","event_id":"e1""#))
        #expect(a.status == 200)
        #expect(((a.json as? [String: Any])?["results"] as? [[String: Any]])?.first?["duplicate"] as? Bool == true)
        #expect(f.store.endPosition == before)
        #expect(try await f.request("GET", "/orders/none-such").status == 404)
        #expect(try await f.request("GET", "/orders/R-1?as_of=yesterday").status == 400)
        await f.stop()
    }

    @Test("a body over the limit is 413 and stores nothing, with a length or chunked")
    func bodyLimit() async throws {
        let f = try await HTTPFixture { $0.bodyBytesMax = 1024 }
        let a = try await f.request("POST", "/orders/B-1/events", body: placedJSON("B-1", extra: #","attributes":{"pad":"\#(String(repeating: "x", count: 2000))"}"#))
        #expect(a.status == 413)
        // Chunked, with no length given: refused as it passes the limit.
        let chunk = String(repeating: "x", count: 800)
        let chunked = "POST /orders/B-1/events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "320\r\n\(chunk)\r\n320\r\n\(chunk)\r\n0\r\n\r\n"
        #expect(HTTPFixture.parse(try await f.exchange(Array(chunked.utf8))).status == 413)
        #expect(f.store.endPosition == 0)
        await f.stop()
    }

    @Test("with tokens: no token 401, a wrong one 401, a consumer may read but not append (403), a producer may append")
    func tokensAndRoles() async throws {
        let access = AccessPolicy(tokens: ["consumer-token-0123456789": .consumer, "producer-token-0123456789": .producer])
        let f = try await HTTPFixture(access: access)
        #expect(try await f.request("GET", "/orders/X").status == 401)
        #expect(try await f.request("GET", "/orders/X", headers: ["Authorization": "Bearer nope"]).status == 401)
        let consumer = ["Authorization": "Bearer consumer-token-0123456789"]
        let producer = ["Authorization": "Bearer producer-token-0123456789"]
        #expect(try await f.request("POST", "/orders/T-1/events", body: placedJSON("T-1"), headers: consumer).status == 403)
        #expect(f.store.endPosition == 0)
        #expect(try await f.request("POST", "/orders/T-1/events", body: placedJSON("T-1"), headers: producer).status == 201)
        #expect(try await f.request("GET", "/orders/T-1", headers: consumer).status == 200)
        #expect(try await f.request("GET", "/orders/T-1", headers: producer).status == 403)
        await f.stop()
    }

    @Test("past its request rate a connection is answered 429 with Retry-After, and served again later")
    func requestRate() async throws {
        let f = try await HTTPFixture { $0.requestsPerSecond = 5 }
        // Pipelined on one connection: a burst of 10 is allowed, the rest refused.
        var text = ""
        for k in 0..<14 { text += "GET /health HTTP/1.1\r\nHost: localhost\r\n" + (k == 13 ? "Connection: close\r\n" : "") + "\r\n" }
        let raw = String(decoding: try await f.exchange(Array(text.utf8)), as: UTF8.self)
        let statuses = raw.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
        #expect(statuses.count == 14)
        #expect(statuses.prefix(10).allSatisfy { $0 == "200" })
        #expect(statuses.suffix(4).allSatisfy { $0 == "429" })
        #expect(raw.lowercased().contains("retry-after: 1"))
        // A new connection has its own budget.
        #expect(try await f.request("GET", "/health").status == 200)
        await f.stop()
    }

    @Test("writes a page elsewhere could make are refused and store nothing: a non-JSON body 415, another Origin 403, a Host that is not loopback without tokens 403; a producer may not set recorded_at, an admin may")
    func crossSiteAndRecordedTime() async throws {
        let f = try await HTTPFixture()
        var a = try await f.request("POST", "/orders/X-1/events", body: placedJSON("X-1"), headers: ["Content-Type": "text/plain"])
        #expect(a.status == 415)
        a = try await f.request("POST", "/orders/X-1/events", body: placedJSON("X-1"), headers: ["Origin": "http://evil.example"])
        #expect(a.status == 403)
        // DNS rebinding: the request reaches loopback under another name.
        var raw = "GET /health HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n"
        #expect(HTTPFixture.parse(try await f.exchange(Array(raw.utf8))).status == 403)
        raw = "GET /health HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n"
        #expect(HTTPFixture.parse(try await f.exchange(Array(raw.utf8))).status == 200)
        #expect(f.store.endPosition == 0)
        await f.stop()

        let access = AccessPolicy(tokens: ["admin-token-000000001": .admin, "producer-token-0000001": .producer])
        let g = try await HTTPFixture(access: access)
        let withTime = placedJSON("X-2", extra: #","recorded_at":"2020-01-01T00:00:00Z""#)
        a = try await g.request("POST", "/orders/X-2/events", body: withTime, headers: ["Authorization": "Bearer producer-token-0000001"])
        #expect(a.status == 403 && a.body.contains("recorded_at"))
        #expect(g.store.endPosition == 0)
        a = try await g.request("POST", "/orders/X-2/events", body: withTime, headers: ["Authorization": "Bearer admin-token-000000001"])
        #expect(a.status == 201)
        // The console's cookie is not a token for the API.
        a = try await g.request("GET", "/orders/X-2", headers: ["Cookie": "orderlog_token=admin-token-000000001"])
        #expect(a.status == 401)
        await g.stop()
    }
}
