import OrderModel

/// What the `json-event` fuzz target (Fuzz/, tools/fuzz) does with one input. It lives here,
/// and Fuzz/ links it in, so `swift test` replays every corpus and regression file through
/// exactly the code the fuzzer ran.
///
/// Errors are the decoders' answer to bad input and are fine. A trap is a finding: the
/// decoders' own (overflow, out-of-bounds) or one of the preconditions below, which state
/// what must hold whatever the input.
enum JSONEventFuzzHarness {
    /// Runs every check on `bytes`; returns how many of its lines decoded as events.
    @discardableResult
    static func run(_ bytes: [UInt8]) -> Int {
        var decoded = 0
        // Lines as `orderlog import` reads them: split at LF, blank ones skipped, each decoded
        // on its own (ImportCommand.swift).
        for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let parsed = try? OrderEvent.decodeJSONLine(Array(line)) else { continue }
            decoded += 1
            checkJSONRoundTrip(parsed)
            checkBinaryRoundTrip(parsed.event)
        }
        // The bytes as an HTTP body (one event or an array of them): read or refused, never a
        // trap; what reads is a bounded list of events whose binary forms read back.
        if let records = try? OrderEvent.decodeJSONRecords(body: bytes) {
            precondition(!records.isEmpty && records.count <= OrderEvent.bodyEventsMax, "a body read as \(records.count) events")
            for r in records {
                let reads = r.payload.withUnsafeBytes { (try? EventView.read(type: r.type, $0)) != nil }
                precondition(reads, "a body's event does not read back from its binary form")
            }
        }
        // The same bytes as the stored binary form of each event type: what a server decodes
        // from an APPEND frame and a reader from a record (docs/EVENTS.md §5).
        bytes.withUnsafeBytes { buffer in
            for type in EventType.allCases {
                guard let event = try? OrderEvent.decodeBinary(orderID: orderID, type: type, buffer) else { continue }
                checkBinaryRoundTrip(event)
            }
        }
        return decoded
    }

    static let orderID = OrderID(trusted: "ORD-fuzz")

    /// The event printed as a JSON line (plain, and in the export form when the line said
    /// where it was stored) decodes back to the same event.
    static func checkJSONRoundTrip(_ parsed: OrderEvent.JSONLine) {
        let event = parsed.event
        let again = try? OrderEvent.decodeJSONLine(Array(event.jsonLine().utf8))
        precondition(again?.event == event, "\(event) does not survive jsonLine and decodeJSONLine: \(String(describing: again))")

        guard let position = parsed.position, let seq = parsed.seq, let recordedAt = parsed.recordedAt,
              EventTime(microseconds: recordedAt).isInRange else { return }
        let stored = StoredEvent(event: event, position: position, seq: seq, recordedAt: recordedAt)
        let line = event.jsonLine(stored: stored)
        // Written from the stored bytes (a fetch, a stream) it is the same line.
        var fromBytes = JSONBytes()
        var plain = event
        plain.ts = nil
        let wrote: Bool = plain.encodeBinary().withUnsafeBytes { raw in
            guard var view = try? EventView.read(type: event.type, raw) else { return false }
            view.ts = event.ts
            var id = event.orderID.value
            return id.withUTF8 { id in
                (try? StoredEventView(orderID: UnsafeRawBufferPointer(id), event: view,
                                      stored: .init(position: position, seq: seq, recordedAt: recordedAt)).writeExportLine(to: &fromBytes)) != nil
            }
        }
        precondition(wrote && String(decoding: fromBytes.bytes, as: UTF8.self) == line, "\(stored): the export line from its bytes differs")
        let exported = try? OrderEvent.decodeJSONLine(Array(line.utf8))
        var expected = event
        expected.ts = event.ts ?? EventTime(microseconds: recordedAt)
        precondition(exported?.event == expected && exported?.position == position && exported?.seq == seq && exported?.recordedAt == recordedAt,
                     "\(stored) does not survive the export form: \(String(describing: exported))")
    }

    /// An event the store could keep (the rules refuse a `ts` out of range before anything is
    /// stored) encodes to a binary form that decodes to the same event.
    static func checkBinaryRoundTrip(_ event: OrderEvent) {
        if let ts = event.ts, !ts.isInRange { return }
        let again = event.encodeBinary().withUnsafeBytes { try? OrderEvent.decodeBinary(orderID: event.orderID, type: event.type, $0) }
        precondition(again == event, "\(event) does not survive encodeBinary and decodeBinary: \(String(describing: again))")
    }
}
