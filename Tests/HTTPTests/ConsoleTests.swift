import Foundation
import OrderLogServer
import OrderModel
import OrderStore
import Testing
@testable import OrderLogHTTP

@Suite("Service console")
struct ConsoleTests {
    @Test("an agent's form becomes the event it asks for, with actor agent and the agent's name; a bad field is named, nothing made")
    func agentActionsBecomeEvents() throws {
        let id = try OrderID("O-1")
        let refund = try AgentAction.eventJSON(orderID: id, form: ["action": "refund", "refund_id": "RF-1", "amount": "12.5", "payment_id": "p1", "return_id": ""],
                                               agent: "Ada \"A\"", currency: "EUR").get()
        let event = try OrderEvent.decodeJSONLine(Array(refund.utf8)).event
        #expect(event.data == .refundIssued(refundID: "RF-1", amountMinor: 1250, paymentID: "p1", returnID: nil))
        #expect(event.actor == Actor(kind: .agent, id: "Ada \"A\""))
        #expect(event.channel == "service-console")
        let cancel = try AgentAction.eventJSON(orderID: id, form: ["action": "cancel_items", "sku": "чай", "qty": "2", "reason": "r"], agent: "a", currency: "EUR").get()
        #expect(try OrderEvent.decodeJSONLine(Array(cancel.utf8)).event.data == .itemsCancelled(lines: [SkuQuantity(sku: "чай", qty: 2)], reason: "r"))
        guard case .failure(let e) = AgentAction.eventJSON(orderID: id, form: ["action": "cancel_items", "sku": "A", "qty": "0"], agent: "a", currency: "EUR") else {
            Issue.record("a zero quantity made an event"); return
        }
        #expect(e.message.contains("qty"))
        if case .success = AgentAction.eventJSON(orderID: id, form: ["action": "drop_table"], agent: "a", currency: "EUR") { Issue.record("an unknown action made an event") }
    }

    @Test("amounts in major units follow the currency's decimals: 12.34 EUR is 1234, 1200 JPY is 1200, too many decimals or a negative amount is refused")
    func amountsInMajorUnits() {
        #expect(AgentAction.minorUnits("12.34", "EUR") == 1234)
        #expect(AgentAction.minorUnits("12", "EUR") == 1200)
        #expect(AgentAction.minorUnits("1200", "JPY") == 1200)
        #expect(AgentAction.minorUnits("1.5", "JPY") == nil)
        #expect(AgentAction.minorUnits("1.234", "KWD") == 1234)
        #expect(AgentAction.minorUnits("-5", "EUR") == nil)
        #expect(AgentAction.minorUnits("0", "EUR") == nil)
        #expect(AgentAction.minorUnits("99999999999999999999", "EUR") == nil)
        #expect(AgentAction.minorUnits("12.\u{663}", "EUR") == nil)  // an Arabic-Indic digit
        #expect(AgentAction.minorUnits("1999", "ABC") == 1999)  // a code ISO 4217 lacks: minor units, as shown
    }

    @Test("forms decode + and %XX; ids are escaped as path segments; chart labels are escaped")
    func escaping() {
        #expect(Console.decodeForm("a=x+y&b=%C3%A9%26&c") == ["a": "x y", "b": "é&", "c": ""])
        #expect(ConsoleViews.pathSegment("a b/é") == "a%20b%2F%C3%A9")
        #expect(HTMLWriter.escape("<a href=\"x\">'&'</a> é") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; é")
        #expect(ConsoleViews.time(0) == "1970-01-01 00:00:00 UTC")
        #expect(ConsoleViews.time(1_795_000_000_123_456) == "2026-11-18 11:06:40 UTC")
        #expect(SVGChart.columns([("<x>", 3)]).contains("&lt;x&gt;"))
        #expect(!SVGChart.columns([("<x>", 3)]).contains("<x>"))
    }

    @Test("the console's pages render from a store: home, a customer, an order with its timeline and actions, a queue, the dashboard; text from events is escaped")
    func pagesRender() async throws {
        let f = try await HTTPFixture()
        _ = try await f.request("POST", "/orders/C-1/events", body: placedJSON("C-1", customer: "CUST<1>"))
        _ = try await f.request("POST", "/orders/C-1/events", body: #"{"order_id":"C-1","type":"NoteAdded","data":{"text":"<script>alert(1)</script>"}}"#)
        var a = try await f.request("GET", "/")
        #expect(a.status == 200 && a.headers["content-type"]?.hasPrefix("text/html") == true)
        a = try await f.request("GET", "/console/customers/CUST%3C1%3E")
        #expect(a.status == 200 && a.body.contains("data-order=\"C-1\""))
        a = try await f.request("GET", "/console/orders/C-1")
        #expect(a.status == 200)
        #expect(a.body.contains("id=\"timeline\"") && a.body.contains("action-refund"))
        #expect(!a.body.contains("<script>alert(1)</script>") && a.body.contains("&lt;script&gt;"))
        #expect(try await f.request("GET", "/console/orders/C-1?fragment=1").body.hasPrefix("<h1>Order C-1"))
        #expect(try await f.request("GET", "/console/queues?status=placed&hours=0").body.contains("href=\"/console/orders/C-1\""))
        #expect(try await f.request("GET", "/console/dashboard").body.contains("<svg"))
        #expect(try await f.request("GET", "/console/orders/none").status == 404)
        // Search: an order id, a customer id.
        #expect(try await f.request("GET", "/console/search?q=C-1").headers["location"] == "/console/orders/C-1")
        #expect(try await f.request("GET", "/console/search?q=CUST%3C1%3E").headers["location"] == "/console/customers/CUST%3C1%3E")
        await f.stop()
    }

    @Test("an action posted from the console stores its event; one the rules refuse shows the rule and stores nothing; with tokens a consumer may not act")
    func actions() async throws {
        let access = AccessPolicy(tokens: ["console-admin-token-0001": .admin, "console-reader-token-01": .consumer])
        let f = try await HTTPFixture(access: access)
        let admin = ["Cookie": "orderlog_token=console-admin-token-0001; orderlog_agent=Ada"]
        _ = try await f.request("POST", "/orders/A-1/events", body: placedJSON("A-1"), headers: ["Authorization": "Bearer console-admin-token-0001"])
        func post(_ form: String, _ headers: [String: String]) async throws -> HTTPFixture.Answer {
            var h = headers
            h["Content-Type"] = "application/x-www-form-urlencoded"
            return try await f.request("POST", "/console/orders/A-1/actions", body: form, headers: h)
        }
        var a = try await post("action=note&text=called+back", admin)
        #expect(a.status == 303, "\(a.body)")
        let history = try f.store.history(try OrderID("A-1"))
        #expect(history.last?.event.actor == Actor(kind: .agent, id: "Ada"))
        let end = f.store.endPosition
        a = try await post("action=refund&refund_id=R1&amount=5.00&payment_id=nope", admin)
        #expect(a.status == 422 && a.body.contains("Refused (over_refund)"))
        #expect(f.store.endPosition == end)
        a = try await post("action=note&text=x", ["Cookie": "orderlog_token=console-reader-token-01"])
        #expect(a.status == 403)
        // Without a cookie a console page sends the browser to sign in.
        a = try await f.request("GET", "/console/orders/A-1")
        #expect(a.status == 303 && a.headers["location"] == "/console/login")
        #expect(f.store.endPosition == end)
        await f.stop()
    }

    @Test("the returns queue lists a return requested and not received, and drops it once received")
    func returnsQueue() async throws {
        let f = try await HTTPFixture()
        let events = [
            placedJSON("Q-1"),
            #"{"order_id":"Q-1","type":"PaymentAuthorized","data":{"payment_id":"p","amount_minor":200}}"#,
            #"{"order_id":"Q-1","type":"PaymentCaptured","data":{"payment_id":"p","amount_minor":200}}"#,
            #"{"order_id":"Q-1","type":"FulfillmentRequested","data":{"fulfillment_id":"f","location":"L","lines":[{"sku":"A","qty":2}]}}"#,
            #"{"order_id":"Q-1","type":"Shipped","data":{"fulfillment_id":"f","carrier":"UPS","tracking_no":"T-9"}}"#,
            #"{"order_id":"Q-1","type":"Delivered","data":{"fulfillment_id":"f"}}"#,
            #"{"order_id":"Q-1","type":"ReturnRequested","data":{"return_id":"r1","lines":[{"sku":"A","qty":1}],"reason":"x"}}"#,
        ]
        #expect(try await f.request("POST", "/orders/Q-1/events", body: "[" + events.joined(separator: ",") + "]").status == 201)
        _ = try await f.request("POST", "/orders/Q-2/events", body: placedJSON("Q-2"))
        var a = try await f.request("GET", "/console/queues?status=returns&hours=0")
        #expect(a.body.contains("href=\"/console/orders/Q-1\"") && a.body.contains("return r1"))
        #expect(!a.body.contains("href=\"/console/orders/Q-2\""))
        // Search by tracking number finds the order.
        #expect(try await f.request("GET", "/console/search?q=T-9").headers["location"] == "/console/orders/Q-1")
        _ = try await f.request("POST", "/orders/Q-1/events", body: #"{"order_id":"Q-1","type":"ReturnReceived","data":{"return_id":"r1"}}"#)
        a = try await f.request("GET", "/console/queues?status=returns&hours=0")
        #expect(!a.body.contains("href=\"/console/orders/Q-1\""))
        // A page far past the end is an empty page, not a trap.
        #expect(try await f.request("GET", "/console/queues?status=returns&hours=0&after=9223372036854775807").status == 200)
        await f.stop()
    }

    @Test("signing in checks the token and sets HttpOnly, SameSite=Strict cookies; a wrong token is refused and sets none")
    func signIn() async throws {
        let access = AccessPolicy(tokens: ["console-admin-token-0002": .admin])
        let f = try await HTTPFixture(access: access)
        let form = ["Content-Type": "application/x-www-form-urlencoded"]
        var a = try await f.request("POST", "/console/login", body: "agent=Ada+L&token=wrong-token-0000000", headers: form)
        #expect(a.status == 401 && a.headers["set-cookie"] == nil)
        a = try await f.request("POST", "/console/login", body: "agent=Ada+L&token=console-admin-token-0002", headers: form)
        #expect(a.status == 303 && a.headers["location"] == "/")
        let body = "agent=Ada+L&token=console-admin-token-0002"
        let request = "POST /console/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        let raw = String(decoding: try await f.exchange(Array(request.utf8)), as: UTF8.self)
        let cookies = raw.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix("set-cookie:") }
        #expect(cookies.count == 2)
        #expect(cookies.allSatisfy { $0.contains("HttpOnly") && $0.contains("SameSite=Strict") })
        #expect(cookies.contains { $0.contains("orderlog_agent=Ada%20L") })
        // Signed in by cookie, the console's pages are served, named for the agent.
        a = try await f.request("GET", "/", headers: ["Cookie": "orderlog_token=console-admin-token-0002; orderlog_agent=Ada%20L"])
        #expect(a.status == 200 && a.body.contains("agent Ada L"))
        await f.stop()
    }
}
