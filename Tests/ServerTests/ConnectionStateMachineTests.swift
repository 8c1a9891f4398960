import OrderModel
@testable import OrderLogServer
import OrderStore
import Testing
import WireProtocol

/// The conversation rules of a connection, without a socket or a store: frames in, actions out.
@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    static let limits = WireLimits(maxFrameBytes: 1 << 16, maxEventsPerAppend: 3, maxRequestsInFlight: 2, maxSubscriptions: 2, maxCredits: 100)

    /// A machine whose tokens are "p" (producer), "c" (consumer) and "a" (admin).
    func machine() -> ConnectionStateMachine {
        ConnectionStateMachine(limits: Self.limits, refusal: "unknown token") { ["p": .producer, "c": .consumer, "a": .admin][$0] }
    }

    func frame(_ id: UInt32, _ m: Message) -> Frame { Frame(requestID: id, message: m) }
    func hello(_ token: String, version: UInt8 = Frame.version) -> Frame { frame(1, .hello(protocolVersion: version, clientName: "t", token: token)) }

    func opened(_ token: String) -> ConnectionStateMachine {
        var m = machine()
        _ = m.received(hello(token), appendsInFlight: 0)
        return m
    }

    func errorCode(_ a: ConnectionStateMachine.Action) -> String? {
        switch a {
        case .reply(_, .error(let code, _)), .fail(_, .error(let code, _)): code
        default: nil
        }
    }

    static func note(_ id: String, _ text: String = "hi") -> WireEvent {
        WireEvent(orderID: id, type: EventType.noteAdded.code, payload: OrderEvent(orderID: try! OrderID(id), data: .noteAdded(text: text)).encodeBinary())
    }

    @Test("HELLO opens the connection with the token's role; anything else first, a wrong version or an unknown token ends it")
    func handshake() {
        var m = machine()
        #expect(m.received(hello("p"), appendsInFlight: 0) == .welcome(1, .producer, clientName: "t"))
        #expect(m.state == .open(.producer))

        var early = machine()
        #expect(errorCode(early.received(frame(7, .ping(nonce: 1)), appendsInFlight: 0)) == "handshake_required")
        #expect(early.state == .closed)
        #expect(early.received(hello("p"), appendsInFlight: 0) == .ignore)

        var old = machine()
        #expect(errorCode(old.received(hello("p", version: 9), appendsInFlight: 0)) == "unsupported_version")
        var stranger = machine()
        #expect(stranger.received(hello("x"), appendsInFlight: 0) == .fail(1, .error(code: "unauthorized", message: "unknown token")))
        #expect(stranger.state == .closed)
    }

    @Test("roles: a producer may not read, a consumer may not append, ping is open to all, HELLO twice is refused")
    func roles() {
        var p = opened("p")
        #expect(errorCode(p.received(frame(2, .getSnapshot(orderID: "A", asOf: .now, offset: 0)), appendsInFlight: 0)) == "unauthorized")
        var c = opened("c")
        #expect(errorCode(c.received(frame(2, .append([Self.note("A")])), appendsInFlight: 0)) == "unauthorized")
        #expect(c.received(frame(3, .ping(nonce: 42)), appendsInFlight: 0) == .reply(3, .pong(nonce: 42)))
        #expect(errorCode(c.received(hello("c"), appendsInFlight: 0)) == "invalid_request")
        #expect(errorCode(c.received(frame(4, .pong(nonce: 1)), appendsInFlight: 0)) == "invalid_request")
        #expect(c.state == .open(.consumer))
    }

    @Test("APPEND is held to the limits, recorded times are an admin's, and each event's id and type are checked before the store sees the batch")
    func appends() throws {
        var p = opened("p")
        #expect(errorCode(p.received(frame(2, .append([])), appendsInFlight: 0)) == "invalid_request")
        #expect(errorCode(p.received(frame(2, .append(Array(repeating: Self.note("A"), count: 4))), appendsInFlight: 0)) == "invalid_request")
        #expect(errorCode(p.received(frame(2, .append([Self.note("A")])), appendsInFlight: 2)) == "too_many_requests")
        var restored = Self.note("A")
        restored.recordedAt = 1_767_225_600_000_000
        #expect(errorCode(p.received(frame(2, .append([restored])), appendsInFlight: 0)) == "unauthorized")
        var a = opened("a")
        guard case .run(2, .append(let kept, _)) = a.received(frame(2, .append([restored])), appendsInFlight: 0) else {
            Issue.record("an admin's restore was not run"); return
        }
        #expect(kept.first?.recordedAt == restored.recordedAt)

        let badID = WireEvent(orderID: "A 1", type: EventType.noteAdded.code, payload: Self.note("A").payload)
        guard case .reply(2, .appendRejected(let index, let code, _)) = p.received(frame(2, .append([Self.note("A"), badID])), appendsInFlight: 0) else {
            Issue.record("an invalid order id reached the store"); return
        }
        #expect(index == 1 && code == "invalid_order_id", "\(code)")
        let badType = WireEvent(orderID: "A", type: 999, payload: [])
        guard case .reply(2, .appendRejected(0, "unknown_type", _)) = p.received(frame(2, .append([badType])), appendsInFlight: 0) else {
            Issue.record("an unknown type code reached the store"); return
        }
        guard case .run(3, .append(let batch, let bytes)) = p.received(frame(3, .append([Self.note("A"), Self.note("B")])), appendsInFlight: 1) else {
            Issue.record("a valid batch was not run"); return
        }
        #expect(batch.map(\.orderID.value) == ["A", "B"])
        #expect(bytes == Self.note("A").payload.count + Self.note("B").payload.count)
    }

    @Test("subscriptions: at most the limit, an id names one, CREDIT and UNSUBSCRIBE need an open one, CREDIT adds at least 1")
    func subscriptions() {
        var c = opened("c")
        let sub = Message.subscribe(from: .end, credits: 10, typeMask: 0, orderPrefix: "")
        #expect(c.received(frame(5, sub), appendsInFlight: 0) == .run(5, .subscribe(from: .end, credits: 10, typeMask: 0, orderPrefix: "")))
        #expect(errorCode(c.received(frame(5, sub), appendsInFlight: 0)) == "invalid_request")
        #expect(c.received(frame(6, sub), appendsInFlight: 0) == .run(6, .subscribe(from: .end, credits: 10, typeMask: 0, orderPrefix: "")))
        #expect(errorCode(c.received(frame(7, sub), appendsInFlight: 0)) == "too_many_subscriptions")
        #expect(c.received(frame(5, .credit(3)), appendsInFlight: 0) == .run(5, .credit(3)))
        #expect(errorCode(c.received(frame(5, .credit(0)), appendsInFlight: 0)) == "invalid_request")
        #expect(errorCode(c.received(frame(9, .credit(3)), appendsInFlight: 0)) == "unknown_subscription")
        #expect(c.received(frame(5, .unsubscribe), appendsInFlight: 0) == .run(5, .unsubscribe))
        #expect(errorCode(c.received(frame(5, .unsubscribe), appendsInFlight: 0)) == "unknown_subscription")
        // The freed place (and id) can be used again; one that failed to start frees its id.
        #expect(c.received(frame(5, sub), appendsInFlight: 0) == .run(5, .subscribe(from: .end, credits: 10, typeMask: 0, orderPrefix: "")))
        c.subscriptionEnded(6)
        #expect(c.subscriptions == [5])
    }

    @Test("CLOSE drains: later frames are ignored; an undecodable frame ends the connection with its error")
    func endings() {
        var c = opened("c")
        #expect(c.received(frame(8, .close(reason: "done")), appendsInFlight: 0) == .drain)
        #expect(c.state == .draining)
        #expect(c.received(frame(9, .ping(nonce: 1)), appendsInFlight: 0) == .ignore)

        var broken = opened("c")
        #expect(broken.decodingFailed(WireError(.malformedFrame, "bad length")) == .fail(0, .error(code: "malformed_frame", message: "bad length")))
        #expect(broken.state == .closed)
        #expect(broken.decodingFailed(WireError(.malformedFrame, "again")) == .ignore)
    }

    @Test("lists by an unknown status are refused before the store is asked")
    func unknownStatus() {
        var c = opened("c")
        #expect(errorCode(c.received(frame(2, .listOrders(by: .status("lost"), limit: 10, cursor: "")), appendsInFlight: 0)) == "invalid_request")
        #expect(c.received(frame(3, .listOrders(by: .status("placed"), limit: 10, cursor: "")), appendsInFlight: 0) == .run(3, .list(.status("placed"), limit: 10, cursor: "")))
    }
}
