/// A request body of events (the HTTP API's `POST /orders/{id}/events`, docs/openapi.yaml):
/// one event object, or a JSON array of them, each read by the same decoder as a JSONL line
/// (`decodeJSONRecord`) — one validation for every way in.
extension OrderEvent {
    /// Events one body may hold at most (as one APPEND frame's default).
    public static let bodyEventsMax = 10_000

    /// Reads `body`: an event object, or an array of event objects (whitespace, newlines
    /// included, allowed around and inside them). Throws the first problem: `invalid_json`
    /// naming the byte offset for a body that is neither; an element's own error (its code,
    /// field and order) with `events[K]` and the element's byte offset added to the message.
    public static func decodeJSONRecords(body: [UInt8]) throws(OrderError) -> [JSONRecord] {
        let elements = try JSONBodyElements.split(body)
        var records: [JSONRecord] = []
        records.reserveCapacity(elements.ranges.count)
        for (k, range) in elements.ranges.enumerated() {
            do throws(OrderError) {
                records.append(try decodeJSONRecord(Array(body[range])))
            } catch {
                guard elements.isArray else { throw error }
                var e = error
                e.message = "events[\(k)] (byte \(range.lowerBound)): " + e.message
                throw e
            }
        }
        return records
    }
}

/// Where the events of a body are: the byte ranges of its top-level array's elements, or of
/// the one object. Only structure is read here (strings, nesting, commas); each element is
/// then read whole by the event decoder.
enum JSONBodyElements {
    static func split(_ b: [UInt8]) throws(OrderError) -> (isArray: Bool, ranges: [Range<Int>]) {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
        var i = 0
        while i < b.count, isSpace(b[i]) { i += 1 }
        guard i < b.count else { throw OrderError(.invalidJSON, "the body is empty: send an event object or an array of them") }
        guard b[i] == 0x5B else {
            // One object: the decoder reads it and names what is wrong.
            var end = b.count
            while end > i, isSpace(b[end - 1]) { end -= 1 }
            return (false, [i..<end])
        }
        i += 1
        var ranges: [Range<Int>] = []
        var depth = 0, inString = false, escaped = false
        var start: Int?
        while i < b.count {
            let c = b[i]
            if inString {
                if escaped { escaped = false } else if c == 0x5C { escaped = true } else if c == 0x22 { inString = false }
                i += 1
                continue
            }
            switch c {
            case 0x22:
                inString = true
                if start == nil { start = i }
            case 0x7B, 0x5B:
                if start == nil { start = i }
                depth += 1
                guard depth <= 64 else { throw OrderError(.invalidJSON, "nesting deeper than 64 at byte \(i)") }
            case 0x7D, 0x5D:
                if depth == 0 {
                    guard c == 0x5D else { throw OrderError(.invalidJSON, "unexpected '}' at byte \(i)") }
                    // The array's end: the last element (if any) ends here.
                    if let s = start { ranges.append(s..<trimmed(b, s, i)) } else if !ranges.isEmpty {
                        throw OrderError(.invalidJSON, "a comma before ']' at byte \(i)")
                    }
                    var j = i + 1
                    while j < b.count, isSpace(b[j]) { j += 1 }
                    guard j == b.count else { throw OrderError(.invalidJSON, "text after the array at byte \(j)") }
                    guard !ranges.isEmpty else { throw OrderError(.invalidJSON, "the array holds no events") }
                    return (true, ranges)
                }
                depth -= 1
            case 0x2C where depth == 0:
                guard let s = start else { throw OrderError(.invalidJSON, "an empty element at byte \(i)") }
                ranges.append(s..<trimmed(b, s, i))
                guard ranges.count < OrderEvent.bodyEventsMax else {
                    throw OrderError(.invalidJSON, "more than \(OrderEvent.bodyEventsMax) events in one body")
                }
                start = nil
            default:
                if start == nil && !isSpace(c) { start = i }
            }
            i += 1
        }
        throw OrderError(.invalidJSON, "the array is not closed (the body ends at byte \(b.count))")
    }

    /// `end` moved back over whitespace, not before `start`.
    private static func trimmed(_ b: [UInt8], _ start: Int, _ end: Int) -> Int {
        var e = end
        while e > start, b[e - 1] == 0x20 || b[e - 1] == 0x0A || b[e - 1] == 0x0D || b[e - 1] == 0x09 { e -= 1 }
        return e
    }
}
