/// A moment with the UTC offset it was written in: microseconds since the Unix epoch, plus the
/// offset in minutes, so an event's `ts` comes back as it was given (`+02:00` stays `+02:00`).
/// Ordering and comparisons use the instant only.
public struct EventTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var microseconds: Int64
    public var offsetMinutes: Int16

    public init(microseconds: Int64, offsetMinutes: Int16 = 0) {
        self.microseconds = microseconds
        self.offsetMinutes = offsetMinutes
    }

    /// The first instant of year 0001 and the last of year 9999 (UTC), µs since the epoch.
    public static let microsecondsMin: Int64 = -62_135_596_800_000_000
    public static let microsecondsMax: Int64 = 253_402_300_799_999_999

    /// Years 0001–9999 both as an instant (UTC) and as written in its offset, and an offset
    /// within ±23:59: exactly the times `rfc3339` prints and `init(rfc3339:)` reads back.
    /// (`9999-12-31T23:59:59Z` with offset +01:00 is in range as an instant but would print
    /// as year 10000, so it is out.)
    public var isInRange: Bool {
        guard abs(Int(offsetMinutes)) <= 1439,
              microseconds >= EventTime.microsecondsMin, microseconds <= EventTime.microsecondsMax else { return false }
        let local = microseconds + Int64(offsetMinutes) * 60_000_000
        return local >= EventTime.microsecondsMin && local <= EventTime.microsecondsMax
    }

    public static func < (a: EventTime, b: EventTime) -> Bool { a.microseconds < b.microseconds }
    public static func == (a: EventTime, b: EventTime) -> Bool { a.microseconds == b.microseconds && a.offsetMinutes == b.offsetMinutes }

    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (also `t`, `z`, or a space
    /// for `T`). Fractions beyond microseconds are truncated. A leap second (`:60`, any
    /// fraction) is read as the last microsecond of second 59, so a later instant never
    /// compares earlier (docs/EVENTS.md §1). The result is always `isInRange`.
    public init(rfc3339 text: String) throws(OrderError) {
        var text = text
        let parsed = text.withUTF8 { b in Result { () throws(OrderError) in try EventTime.parse(rfc3339: b) } }
        self = try parsed.get()
    }

    /// `init(rfc3339:)` over the text's UTF-8 bytes: the JSON line decoder's fast path reads a
    /// `ts` in place, without a String.
    static func parse(rfc3339 b: UnsafeBufferPointer<UInt8>) throws(OrderError) -> EventTime {
        func fail(_ why: String) -> OrderError {
            OrderError(.invalidTimestamp, "\"\(String(decoding: b, as: UTF8.self))\" is not an RFC 3339 time: \(why)", field: "ts")
        }
        func digits(_ at: Int, _ n: Int) throws(OrderError) -> Int {
            guard at + n <= b.count else { throw fail("cut short") }
            var v = 0
            for i in at..<(at + n) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { throw fail("expected a digit at \(i + 1)") }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        func expect(_ at: Int, _ c: UInt8) throws(OrderError) {
            guard at < b.count, b[at] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))' at \(at + 1)") }
        }
        let year = try digits(0, 4); try expect(4, 0x2D)
        let month = try digits(5, 2); try expect(7, 0x2D)
        let day = try digits(8, 2)
        guard b.count > 10, b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20 else { throw fail("expected 'T' at 11") }
        let hour = try digits(11, 2); try expect(13, 0x3A)
        let minute = try digits(14, 2); try expect(16, 0x3A)
        let second = try digits(17, 2)
        var i = 19
        var micros = 0
        if i < b.count && b[i] == 0x2E {
            i += 1
            var n = 0
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 {
                if n < 6 { micros = micros * 10 + Int(b[i] - 0x30) }
                n += 1; i += 1
            }
            guard n > 0 else { throw fail("empty fraction") }
            if n < 6 { for _ in n..<6 { micros *= 10 } }
        }
        guard i < b.count else { throw fail("missing offset (Z or ±HH:MM)") }
        var offset = 0
        if b[i] == 0x5A || b[i] == 0x7A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            let sign = b[i] == 0x2D ? -1 : 1
            let oh = try digits(i + 1, 2); try expect(i + 3, 0x3A)
            let om = try digits(i + 4, 2)
            guard oh <= 23, om <= 59 else { throw fail("offset out of range") }
            offset = sign * (oh * 60 + om)
            i += 6
        } else {
            throw fail("expected Z or ±HH:MM at \(i + 1)")
        }
        guard i == b.count else { throw fail("unexpected text after the offset") }
        guard (1...12).contains(month), day >= 1, day <= EventTime.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { throw fail("a field is out of range") }
        guard year >= 1 else { throw fail("year 0000 is out of range (0001–9999)") }
        // Second 60 (a leap second) cannot be told apart from the next second's start in µs
        // since the epoch, which has no leap seconds: it becomes 59.999999, after every
        // instant of second 59 and before second 00 of the next minute.
        if second == 60 { micros = 999_999 }
        let days = EventTime.daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset * 60)
        let time = EventTime(microseconds: seconds * 1_000_000 + Int64(micros), offsetMinutes: Int16(offset))
        guard time.isInRange else { throw fail("outside years 0001–9999 once its offset is applied") }
        return time
    }

    /// RFC 3339 in the time's own offset; `Z` for UTC; a 6-digit fraction only when non-zero.
    /// Total: a time that is not `isInRange` (never stored: every way in refuses them) still
    /// prints, as something `init(rfc3339:)` refuses, and never traps.
    public var rfc3339: String {
        var w = JSONBytes(capacity: 40)
        w.time(self)
        return w.withUnsafeBytes { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) }
    }

    /// The local (offset applied) calendar fields of the time, for formatting: proleptic
    /// Gregorian year (may be ≤ 0 or past 9999 for a time not `isInRange`), month, day, second
    /// of the day and microseconds. Wrapping arithmetic: total on every value.
    var civilFields: (year: Int, month: Int, day: Int, secondOfDay: Int, micros: Int) {
        let local = microseconds &+ Int64(offsetMinutes) &* 60_000_000
        var micros = local % 1_000_000
        if micros < 0 { micros += 1_000_000 }
        // Exact division of a value within ±2^63 / 10^6 once the fraction is gone: no overflow.
        let seconds = local / 1_000_000 - (local % 1_000_000 < 0 ? 1 : 0)
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400 }
        let days = Int((seconds - secondOfDay) / 86_400)
        let (y, m, d) = EventTime.civilFromDays(days)
        return (y, m, d, Int(secondOfDay), Int(micros))
    }

    public var description: String { rfc3339 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
