/// Writes JSON text as UTF-8 bytes: what the export form of events is written with (files,
/// subscriptions, Kafka record values), straight from an event's stored bytes with no `String`
/// built on the way. Strings are escaped per RFC 8259 exactly as `JSONWriter` escapes them:
/// `\"`, `\\`, `\n`, `\r`, `\t`, other control characters as `\u00xx` (lowercase hex), every
/// other byte as it is (the text is valid UTF-8: each byte of a multi-byte character is ≥ 0x80,
/// so escaping byte by byte is escaping character by character).
///
/// The bytes live in memory it owns, appended to through a pointer: an export line is ~60
/// small appends, and `Array.append`'s capacity and uniqueness checks a call were the larger
/// part of writing one (a Kafka fetch's profile). Noncopyable, so the memory has one owner.
public struct JSONBytes: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    /// Bytes written so far.
    public private(set) var count = 0
    private var capacity: Int
    /// Two whole local seconds `time` wrote lately, and their text `YYYY-MM-DDTHH:MM:SS` (19
    /// bytes of the 24): a log's recorded times come in runs of one second, and the calendar
    /// arithmetic was a sixth of writing an export line. Two, because each line writes two
    /// times (`ts`, then `recorded_at`): the one that missed last is the one replaced, so a
    /// line's changing `ts` does not push out its run's `recorded_at`.
    private var cachedSecond: (Int64, Int64) = (.min, .min)
    private var cachedText: ((UInt64, UInt64, UInt64), (UInt64, UInt64, UInt64)) = ((0, 0, 0), (0, 0, 0))
    private var lastHit = 0

    public init(capacity: Int = 512) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// A copy of the bytes written.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// The bytes written, as UTF-8 text.
    public var text: String { String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }

    /// Lends `body` the bytes written (valid only during the call).
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Forgets what was written, keeping the memory (one writer reused line after line).
    public mutating func removeAll() { count = 0 }

    /// Room for `n` more bytes at `base + count`.
    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if _slowPath(n > capacity - count) { grow(n) }
    }

    private mutating func grow(_ n: Int) {
        let newCapacity = max(2 * capacity, count + n)
        let new = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        new.update(from: base, count: count)
        base.deallocate()
        base = new
        capacity = newCapacity
    }

    /// Appends one byte.
    @inline(__always)
    public mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    /// Appends `text` as it is (ASCII punctuation and keys known at compile time).
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        raw(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends already-valid JSON text as it is.
    public mutating func raw(_ text: String) {
        var text = text
        text.withUTF8 { raw(UnsafeRawBufferPointer($0)) }
    }

    /// Appends already-valid JSON text as it is (a canonical `attributes` object).
    @inline(__always)
    public mutating func raw(_ text: UnsafeRawBufferPointer) {
        let n = text.count
        guard n > 0 else { return }
        reserve(n)
        UnsafeMutableRawPointer(base + count).copyMemory(from: text.baseAddress!, byteCount: n)
        count += n
    }

    /// Appends `text` (valid UTF-8) as a quoted, escaped JSON string.
    public mutating func string(_ text: UnsafeRawBufferPointer) {
        byte(0x22)
        var start = 0
        for i in 0..<text.count {
            let b = text[i]
            guard b < 0x20 || b == 0x22 || b == 0x5C else { continue }
            if start < i { raw(UnsafeRawBufferPointer(rebasing: text[start..<i])) }
            start = i + 1
            switch b {
            case 0x22: byte(0x5C); byte(0x22)
            case 0x5C: byte(0x5C); byte(0x5C)
            case 0x0A: byte(0x5C); byte(0x6E)
            case 0x0D: byte(0x5C); byte(0x72)
            case 0x09: byte(0x5C); byte(0x74)
            default:
                let hex: StaticString = "0123456789abcdef"
                raw("\\u00")
                byte(hex.utf8Start[Int(b >> 4)])
                byte(hex.utf8Start[Int(b & 15)])
            }
        }
        if start < text.count { raw(UnsafeRawBufferPointer(rebasing: text[start...])) }
        byte(0x22)
    }

    /// Appends `text` as a quoted, escaped JSON string.
    public mutating func string(_ text: TextView) { string(text.bytes) }

    /// Appends `text` as a quoted, escaped JSON string.
    public mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { string(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` in decimal.
    public mutating func int(_ value: Int64) {
        if value < 0 { byte(0x2D) }
        // The magnitude as unsigned: -Int64.min does not fit an Int64.
        unsigned(value.magnitude)
    }

    /// Appends `value` in decimal.
    public mutating func unsigned(_ value: UInt64) {
        var digits = 1
        var v = value
        while v >= 10 { v /= 10; digits += 1 }
        digitsOf(value, digits)
    }

    /// Appends `value` with at least `width` digits (zero-padded; `value` ≥ 0).
    mutating func padded(_ value: Int, _ width: Int) {
        var digits = 1
        var v = value / 10
        while v > 0 { digits += 1; v /= 10 }
        digitsOf(UInt64(value), max(digits, width))
    }

    /// Appends the last `digits` decimal digits of `value`, written from the right.
    @inline(__always)
    private mutating func digitsOf(_ value: UInt64, _ digits: Int) {
        reserve(digits)
        var v = value
        var at = count + digits
        while at > count {
            at -= 1
            base[at] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
            v /= 10
        }
        count += digits
    }

    /// Appends `time` as a quoted RFC 3339 string, exactly as `EventTime.rfc3339` writes it.
    public mutating func time(_ time: EventTime) {
        byte(0x22)
        let local = time.microseconds &+ Int64(time.offsetMinutes) &* 60_000_000
        let seconds = local / 1_000_000 - (local % 1_000_000 < 0 ? 1 : 0)
        var micros = Int(local % 1_000_000)
        if micros < 0 { micros += 1_000_000 }
        let hit = seconds == cachedSecond.0 ? 0 : seconds == cachedSecond.1 ? 1 : -1
        if hit >= 0 {
            lastHit = hit
            let text = hit == 0 ? cachedText.0 : cachedText.1
            Swift.withUnsafeBytes(of: text) { raw(UnsafeRawBufferPointer(rebasing: $0[..<19])) }
        } else {
            let start = count
            let f = time.civilFields
            if f.year >= 0 { padded(f.year, 4) } else { int(Int64(f.year)) }
            byte(0x2D); padded(f.month, 2); byte(0x2D); padded(f.day, 2)
            byte(0x54)
            padded(f.secondOfDay / 3600, 2); byte(0x3A); padded(f.secondOfDay / 60 % 60, 2); byte(0x3A); padded(f.secondOfDay % 60, 2)
            // 19 bytes (years 0–9999): kept, in the slot not used last, for the next time in the same second.
            if count - start == 19 {
                var text: (UInt64, UInt64, UInt64) = (0, 0, 0)
                let written = UnsafeRawBufferPointer(start: base + start, count: 19)
                Swift.withUnsafeMutableBytes(of: &text) { $0.copyMemory(from: written) }
                if lastHit == 0 { cachedText.1 = text; cachedSecond.1 = seconds; lastHit = 1 } else { cachedText.0 = text; cachedSecond.0 = seconds; lastHit = 0 }
            }
        }
        if micros != 0 { byte(0x2E); padded(micros, 6) }
        if time.offsetMinutes == 0 {
            byte(0x5A)
        } else {
            let o = Int(abs(Int32(time.offsetMinutes)))
            byte(time.offsetMinutes < 0 ? 0x2D : 0x2B)
            padded(o / 60, 2); byte(0x3A); padded(o % 60, 2)
        }
        byte(0x22)
    }
}
