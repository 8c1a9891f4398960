extension Frame {
    /// The frame's bytes: header and payload (docs/PROTOCOL.md §2).
    public func encoded() -> [UInt8] {
        var w = WireWriter(capacity: 64)
        w.u32(0)  // length, patched below
        w.u8(Frame.version)
        w.u8(message.type.rawValue)
        w.u16(0)
        w.u32(requestID)
        message.encodePayload(into: &w)
        var bytes = w
        bytes.patchU32(UInt32(bytes.bytes.count - 4), at: 0)
        return bytes.bytes
    }

    /// Decodes the frame whose header has been checked: `type` and `requestID` from the
    /// header, `payload` the bytes after it.
    static func decode(type rawType: UInt8, requestID: UInt32, payload: ArraySlice<UInt8>) throws(WireError) -> Frame {
        guard let type = MessageType(rawValue: rawType) else {
            throw WireError(.unknownMessage, "message type \(rawType) is not part of protocol version 1")
        }
        var r = WireReader(payload)
        let message = try Message.decodePayload(type, &r)
        try r.finish(String(describing: type))
        return Frame(requestID: requestID, message: message)
    }
}

extension Message {
    static func encode(_ events: [WireStoredEvent], into w: inout WireWriter) {
        w.reserve(events.reduce(4) { $0 + encodedSize($1) })
        w.u32(UInt32(events.count))
        for e in events { w.u64(e.position); w.u32(e.seq); w.i64(e.recordedAt); w.str(e.orderID); w.u16(e.type); w.blob(e.payload) }
    }

    /// The bytes `e` takes in a `[stored event]` (docs/PROTOCOL.md §5).
    public static func encodedSize(_ e: WireStoredEvent) -> Int {
        8 + 4 + 8 + 2 + e.orderID.utf8.count + 2 + 4 + e.payload.count
    }

    /// The bytes `e` takes in an `APPEND` (an event-to-append, docs/PROTOCOL.md §5).
    public static func encodedSize(_ e: WireEvent) -> Int {
        1 + 8 + 2 + e.orderID.utf8.count + 2 + 4 + e.payload.count + 8
    }

    /// The frame `length` (bytes after the length field) of an `APPEND` whose events take
    /// `eventBytes` in all: what a frame limit is compared with.
    public static func appendFrameLength(eventBytes: Int) -> Int { Frame.headerBytes - 4 + 2 + eventBytes }

    static func encode(_ asOf: WireAsOf, into w: inout WireWriter) {
        switch asOf {
        case .now: w.u8(0); w.i64(0)
        case .time(let t): w.u8(1); w.i64(t)
        case .position(let p): w.u8(2); w.i64(Int64(bitPattern: p))
        }
    }

    static func encode(_ r: WireTotalsRow, into w: inout WireWriter) {
        w.str(r.currency); w.str(r.channel); w.u32(r.orders); w.i64(r.total); w.i64(r.captured); w.i64(r.refunded)
    }

    /// The bytes `r` takes in `TOTALS`.
    public static func encodedSize(_ r: WireTotalsRow) -> Int { 2 + r.currency.utf8.count + 2 + r.channel.utf8.count + 4 + 24 }

    static func decodeAsOf(_ r: inout WireReader) throws(WireError) -> WireAsOf {
        let kind = try r.u8("as of kind"), value = try r.i64("as of value")
        switch kind {
        case 0:
            guard value == 0 else { throw r.fail("as of kind 0 (now) carries \(value); it must be 0") }
            return .now
        case 1: return .time(value)
        case 2:
            guard value >= 0 else { throw r.fail("as of position \(value) is negative") }
            return .position(UInt64(value))
        default: throw r.fail("as of kind \(kind) is not 0, 1 or 2")
        }
    }

    func encodePayload(into w: inout WireWriter) {
        switch self {
        case .hello(let version, let name, let token):
            w.u8(version); w.str(name); w.str(token)
        case .welcome(let serverVersion, let version, let role, let l):
            w.str(serverVersion); w.u8(version); w.str(role)
            w.u32(l.maxFrameBytes); w.u32(l.maxEventsPerAppend); w.u32(l.maxRequestsInFlight); w.u16(l.maxSubscriptions); w.u32(l.maxCredits)
        case .append(let events):
            w.u16(UInt16(events.count))
            for e in events {
                switch e.expectedVersion {
                case .any: w.u8(0); w.u64(0)
                case .none: w.u8(1); w.u64(0)
                case .exactly(let n): w.u8(2); w.u64(n)
                }
                w.str(e.orderID); w.u16(e.type); w.blob(e.payload); w.i64(e.recordedAt)
            }
        case .appended(let outcomes):
            w.u16(UInt16(outcomes.count))
            for o in outcomes {
                switch o {
                case .stored(let p, let s): w.u8(0); w.u64(p); w.u32(s)
                case .duplicate(let p): w.u8(1); w.u64(p); w.u32(0)
                }
            }
        case .appendRejected(let index, let code, let message):
            w.u16(index); w.str(code); w.str(message)
        case .getHistory(let id, let afterSeq):
            w.str(id)
            w.u32(afterSeq)
        case .history(let events, let more):
            w.u8(more ? 1 : 0)
            Self.encode(events, into: &w)
        case .events(let events):
            Self.encode(events, into: &w)
        case .getSnapshot(let id, let asOf, let offset):
            w.str(id)
            Self.encode(asOf, into: &w)
            w.u32(offset)
        case .snapshot(let found, let json, let total, let position):
            w.u8(found ? 1 : 0); w.blob(json); w.u32(total); w.u64(position)
        case .listOrders(let by, let limit, let cursor):
            switch by {
            case .customer(let c): w.u8(0); w.str(c)
            case .status(let s): w.u8(1); w.str(s)
            }
            w.u32(limit)
            w.str(cursor)
        case .orders(let total, let ids, let next):
            w.u32(total); w.u32(UInt32(ids.count))
            for id in ids { w.str(id) }
            w.str(next)
        case .getTotals(let asOf, let after):
            Self.encode(asOf, into: &w)
            w.str(after)
        case .totals(let rows, let end, let next):
            w.u32(UInt32(rows.count))
            for r in rows { Self.encode(r, into: &w) }
            w.u64(end); w.str(next)
        case .subscribe(let from, let credits, let mask, let prefix):
            switch from {
            case .position(let p): w.u8(0); w.i64(Int64(bitPattern: p))
            case .end: w.u8(1); w.i64(0)
            case .time(let t): w.u8(2); w.i64(t)
            }
            w.u32(credits); w.u32(mask); w.str(prefix)
        case .subscribed(let p):
            w.u64(p)
        case .credit(let n):
            w.u32(n)
        case .unsubscribe:
            break
        case .subscriptionEnded(let code, let message, let next):
            w.str(code); w.str(message); w.u64(next)
        case .ping(let n), .pong(let n):
            w.u64(n)
        case .error(let code, let message):
            w.str(code); w.str(message)
        case .close(let reason):
            w.str(reason)
        }
    }

    static func decodePayload(_ type: MessageType, _ r: inout WireReader) throws(WireError) -> Message {
        switch type {
        case .hello:
            return .hello(protocolVersion: try r.u8("protocol version"), clientName: try r.str("client name"), token: try r.str("token"))
        case .welcome:
            let serverVersion = try r.str("server version"), version = try r.u8("protocol version"), role = try r.str("role")
            let limits = WireLimits(
                maxFrameBytes: try r.u32("max frame bytes"), maxEventsPerAppend: try r.u32("max events per append"),
                maxRequestsInFlight: try r.u32("max requests in flight"), maxSubscriptions: try r.u16("max subscriptions"),
                maxCredits: try r.u32("max credits"))
            return .welcome(serverVersion: serverVersion, protocolVersion: version, role: role, limits: limits)
        case .append:
            let n = try r.count("events", itemBytesMin: 9 + 2 + 2 + 4 + 8, wide: false)
            var events: [WireEvent] = []
            events.reserveCapacity(n)
            for k in 0..<n {
                let kind = try r.u8("event \(k) expected version kind")
                let value = try r.u64("event \(k) expected version")
                let expected: WireExpectedVersion
                if kind <= 1 && value != 0 { throw r.fail("event \(k) expected version kind \(kind) carries N = \(value); N must be 0 unless kind is 2") }
                switch kind {
                case 0: expected = .any
                case 1: expected = .none
                case 2: expected = .exactly(value)
                default: throw r.fail("event \(k) expected version kind \(kind) is not 0, 1 or 2")
                }
                events.append(WireEvent(expectedVersion: expected, orderID: try r.str("event \(k) order id"),
                                        type: try r.u16("event \(k) type"), payload: try r.blob("event \(k) payload"),
                                        recordedAt: try r.i64("event \(k) recorded at")))
            }
            return .append(events)
        case .appended:
            let n = try r.count("outcomes", itemBytesMin: 13, wide: false)
            var outcomes: [WireAppendOutcome] = []
            outcomes.reserveCapacity(n)
            for k in 0..<n {
                let kind = try r.u8("outcome \(k) kind"), position = try r.u64("outcome \(k) position"), seq = try r.u32("outcome \(k) seq")
                switch kind {
                case 0: outcomes.append(.stored(position: position, seq: seq))
                case 1: outcomes.append(.duplicate(position: position))
                default: throw r.fail("outcome \(k) kind \(kind) is not 0 or 1")
                }
            }
            return .appended(outcomes)
        case .appendRejected:
            return .appendRejected(index: try r.u16("index"), code: try r.str("code"), message: try r.str("message"))
        case .getHistory:
            return .getHistory(orderID: try r.str("order id"), afterSeq: try r.u32("after seq"))
        case .history, .events:
            var more = false
            if type == .history {
                let flag = try r.u8("more")
                guard flag <= 1 else { throw WireError(.malformedFrame, "HISTORY more flag \(flag); expected 0 or 1") }
                more = flag == 1
            }
            let n = try r.count("events", itemBytesMin: 8 + 4 + 8 + 2 + 2 + 4)
            var events: [WireStoredEvent] = []
            events.reserveCapacity(n)
            for k in 0..<n {
                events.append(WireStoredEvent(
                    position: try r.u64("event \(k) position"), seq: try r.u32("event \(k) seq"), recordedAt: try r.i64("event \(k) recorded at"),
                    orderID: try r.str("event \(k) order id"), type: try r.u16("event \(k) type"), payload: try r.blob("event \(k) payload")))
            }
            return type == .history ? .history(events, more: more) : .events(events)
        case .getSnapshot:
            let id = try r.str("order id")
            let asOf = try Self.decodeAsOf(&r)
            return .getSnapshot(orderID: id, asOf: asOf, offset: try r.u32("offset"))
        case .snapshot:
            let found = try r.u8("found")
            guard found <= 1 else { throw r.fail("found \(found) is not 0 or 1") }
            return .snapshot(found: found == 1, json: try r.blob("snapshot"), totalBytes: try r.u32("total bytes"), position: try r.u64("position"))
        case .listOrders:
            let by = try r.u8("by")
            let value = try r.str(by == 0 ? "customer id" : "status")
            let limit = try r.u32("limit")
            let cursor = try r.str("cursor")
            switch by {
            case 0: return .listOrders(by: .customer(value), limit: limit, cursor: cursor)
            case 1: return .listOrders(by: .status(value), limit: limit, cursor: cursor)
            default: throw r.fail("list by \(by) is not 0 or 1")
            }
        case .orders:
            let total = try r.u32("total")
            let n = try r.count("order ids", itemBytesMin: 2)
            var ids: [String] = []
            ids.reserveCapacity(n)
            for k in 0..<n { ids.append(try r.str("order id \(k)")) }
            return .orders(total: total, ids: ids, next: try r.str("next cursor"))
        case .getTotals:
            let asOf = try Self.decodeAsOf(&r)
            return .getTotals(asOf: asOf, after: try r.str("after"))
        case .totals:
            let n = try r.count("rows", itemBytesMin: 2 + 2 + 4 + 24)
            var rows: [WireTotalsRow] = []
            rows.reserveCapacity(n)
            for k in 0..<n {
                rows.append(WireTotalsRow(currency: try r.str("row \(k) currency"), channel: try r.str("row \(k) channel"), orders: try r.u32("row \(k) orders"),
                                          total: try r.i64("row \(k) total"), captured: try r.i64("row \(k) captured"), refunded: try r.i64("row \(k) refunded")))
            }
            return .totals(rows, end: try r.u64("end position"), next: try r.str("next cursor"))
        case .subscribe:
            let kind = try r.u8("from kind"), value = try r.i64("from")
            let credits = try r.u32("credits"), mask = try r.u32("type mask"), prefix = try r.str("order id prefix")
            let from: WireSubscribeFrom
            switch kind {
            case 0:
                guard value >= 0 else { throw r.fail("from position \(value) is negative") }
                from = .position(UInt64(value))
            case 1:
                guard value == 0 else { throw r.fail("from kind 1 (end) carries \(value); it must be 0") }
                from = .end
            case 2: from = .time(value)
            default: throw r.fail("from kind \(kind) is not 0, 1 or 2")
            }
            return .subscribe(from: from, credits: credits, typeMask: mask, orderPrefix: prefix)
        case .subscribed: return .subscribed(startPosition: try r.u64("start position"))
        case .credit: return .credit(try r.u32("credits"))
        case .unsubscribe: return .unsubscribe
        case .subscriptionEnded:
            return .subscriptionEnded(code: try r.str("code"), message: try r.str("message"), nextPosition: try r.u64("next position"))
        case .ping: return .ping(nonce: try r.u64("nonce"))
        case .pong: return .pong(nonce: try r.u64("nonce"))
        case .error: return .error(code: try r.str("code"), message: try r.str("message"))
        case .close: return .close(reason: try r.str("reason"))
        }
    }
}
