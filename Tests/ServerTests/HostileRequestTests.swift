import Foundation
import LogStorage
import OrderModel
import OrderStore
import Testing
import WireProtocol
@testable import OrderLogClient
@testable import OrderLogServer

/// Well-formed frames with hostile values (issue: "no request crashes the server"): each is
/// answered with an error or a rejection, the server keeps serving, and what it stored still
/// exports and imports back.
@Suite("Hostile values in well-formed requests", .serialized)
struct HostileRequestTests {
    private func placed(_ id: String) throws -> OrderEvent { placedOrder(id, customer: "C") }

    private func rejection(_ client: OrderLogClient, _ events: [WireEvent]) async throws -> (code: String, message: String)? {
        switch try await client.request(.append(events)) {
        case .appendRejected(_, let code, let message): (code, message)
        case .error(let code, let message): (code, message)
        default: nil
        }
    }

    @Test("GET_TOTALS as of the largest and smallest times is answered, and the server keeps serving")
    func totalsAtExtremeTimes() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        _ = try await client.append([try placed("ORD-1")])
        #expect(try await client.totals(asOf: .max).first?.orders == 1)
        #expect(try await client.totals(asOf: .min).isEmpty)
        #expect(try await client.ping() < .seconds(5))
        await client.close()
        await f.stop()
    }

    @Test("an APPEND of no events is refused as invalid_request")
    func emptyAppend() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        do {
            let answer = try await client.request(.append([]))
            Issue.record("an empty APPEND was answered with \(answer)")
        } catch let error as ClientError {
            #expect(error.code == "invalid_request")
            #expect(error.message.contains("no events"))
        }
        #expect(try await client.ping() < .seconds(5))
        await client.close()
        await f.stop()
    }

    @Test("an expected-version kind 0 or 1 with N ≠ 0 is a malformed frame")
    func expectedVersionWithStrayN() async throws {
        let f = try await ServerFixture()
        let event = WireEvent(expectedVersion: .none, orderID: "ORD-1", type: EventType.orderPlaced.code, payload: try placed("ORD-1").encodeBinary())
        var append = Frame(requestID: 2, message: .append([event])).encoded()
        append[12 + 2 + 1 + 7] = 5  // the u64 N after the u16 count and the u8 kind
        let frames = try await rawExchange(port: f.server.port, Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "")).encoded() + append)
        guard case .error(let code, _)? = frames.last?.message else { Issue.record("no error: \(frames)"); return }
        #expect(code == "malformed_frame")
        #expect(f.store.log.endPosition.rawValue == 0)
        await f.stop()
    }

    @Test("CREDIT 0 is refused as invalid_request; the subscription goes on")
    func zeroCredit() async throws {
        let f = try await ServerFixture()
        var bytes = Frame(requestID: 1, message: .hello(protocolVersion: 1, clientName: "x", token: "")).encoded()
        bytes += Frame(requestID: 2, message: .subscribe(from: .end, credits: 1, typeMask: 0, orderPrefix: "")).encoded()
        bytes += Frame(requestID: 2, message: .credit(0)).encoded()
        bytes += Frame(requestID: 3, message: .close(reason: "")).encoded()
        let frames = try await rawExchange(port: f.server.port, bytes)
        let errors = frames.compactMap { if case .error(let code, _) = $0.message { code } else { nil } }
        #expect(errors == ["invalid_request"])
        #expect(frames.contains { if case .subscriptionEnded = $0.message { true } else { false } })
        await f.stop()
    }

    @Test("binary events the JSON form would refuse are rejected naming the field, and everything stored still exports and imports back")
    func oneValidationForEveryWayIn() async throws {
        let f = try await ServerFixture()
        let client = try await f.client()
        _ = try await client.append([try placed("ORD-1")])
        let id = try OrderID("ORD-1")
        func wire(_ change: (inout OrderEvent) -> Void, recordedAt: Int64 = 0) -> WireEvent {
            var e = OrderEvent(orderID: id, data: .noteAdded(text: "ok"))
            change(&e)
            return WireEvent(orderID: "ORD-1", type: e.type.code, payload: e.encodeBinary(), recordedAt: recordedAt)
        }
        let cases: [(WireEvent, String, String)] = [
            (wire { $0.data = .noteAdded(text: String(repeating: "n", count: 5000)) }, "invalid_field", "data.text"),
            (wire { $0.data = .noteAdded(text: String(repeating: "n", count: 70_000)) }, "invalid_field", "data.text"),
            (wire { $0.channel = String(repeating: "c", count: 1025) }, "invalid_field", "channel"),
            (wire { $0.eventID = String(repeating: "e", count: 2000) }, "invalid_field", "event_id"),
            (wire { $0.attributes = "{not json" }, "invalid_field", "attributes"),
            (wire { $0.attributes = "[1,2]" }, "invalid_field", "attributes"),
            (wire { $0.attributes = "" }, "invalid_field", "attributes"),
            (wire { $0.attributes = #"{"a":1,"a":2}"# }, "invalid_field", "attributes"),
            (wire { $0.attributes = "{\"a\":\n1}" }, "invalid_field", "attributes"),
            (wire { $0.attributes = " {} " }, "invalid_field", "attributes"),
            (wire { $0.ts = EventTime(microseconds: EventTime.microsecondsMax, offsetMinutes: 60) }, "corrupt_payload", "ts"),
            (wire({ _ in }, recordedAt: .min), "invalid_timestamp", "recorded_at"),
            (wire({ _ in }, recordedAt: -(1 << 62)), "invalid_timestamp", "recorded_at"),
        ]
        for (event, code, field) in cases {
            let got = try await rejection(client, [event])
            #expect(got?.code == code, "\(field): \(String(describing: got))")
            #expect(got?.message.contains(field) == true, "\(field): \(String(describing: got))")
        }
        #expect(f.store.log.endPosition.rawValue == 1)
        // What is stored exports, and each line imports back to the same stored bytes.
        try f.store.forEachEvent { stored in
            let line = try stored.exportLine()
            let back = try OrderEvent.decodeJSONLine(Array(line.utf8))
            #expect(back.event.encodeBinary() == stored.event.encodeBinary())
            return true
        }
        #expect(try await client.ping() < .seconds(5))
        await client.close()
        await f.stop()
    }
}
