/// Writes JSON text as UTF-8 bytes: what the export form of events is written with (files,
/// subscriptions, Kafka record values), straight from an event's stored bytes with no `String`
/// built on the way. Strings are escaped per RFC 8259 exactly as `JSONWriter` escapes them:
/// `\"`, `\\`, `\n`, `\r`, `\t`, other control characters as `\u00xx` (lowercase hex), every
/// other byte as it is (the text is valid UTF-8: each byte of a multi-byte character is ≥ 0x80,
/// so escaping byte by byte is escaping character by character).
public struct JSONBytes {
    public var bytes: [UInt8]

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends `text` as it is (ASCII punctuation and keys known at compile time).
    @inline(__always)
    public mutating func raw(_ text: StaticString) {
        raw(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends already-valid JSON text as it is (a canonical `attributes` object).
    @inline(__always)
    public mutating func raw(_ text: UnsafeRawBufferPointer) { bytes.append(contentsOf: text) }

    /// Appends `text` (valid UTF-8) as a quoted, escaped JSON string.
    public mutating func string(_ text: UnsafeRawBufferPointer) {
        bytes.append(0x22)
        var start = 0
        for i in 0..<text.count {
            let b = text[i]
            guard b < 0x20 || b == 0x22 || b == 0x5C else { continue }
            if start < i { raw(UnsafeRawBufferPointer(rebasing: text[start..<i])) }
            start = i + 1
            switch b {
            case 0x22: bytes.append(0x5C); bytes.append(0x22)
            case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(0x6E)
            case 0x0D: bytes.append(0x5C); bytes.append(0x72)
            case 0x09: bytes.append(0x5C); bytes.append(0x74)
            default:
                let hex: StaticString = "0123456789abcdef"
                raw("\\u00")
                bytes.append(hex.utf8Start[Int(b >> 4)])
                bytes.append(hex.utf8Start[Int(b & 15)])
            }
        }
        if start < text.count { raw(UnsafeRawBufferPointer(rebasing: text[start...])) }
        bytes.append(0x22)
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
        if value < 0 { bytes.append(0x2D) }
        // The magnitude as unsigned: -Int64.min does not fit an Int64.
        unsigned(value.magnitude)
    }

    /// Appends `value` in decimal.
    public mutating func unsigned(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: a UInt64 has at most 20 digits
        var n = 0
        var v = value
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[31 - n] = UInt8(truncatingIfNeeded: v % 10) + 0x30
                v /= 10
                n += 1
            } while v > 0
            raw(UnsafeRawBufferPointer(rebasing: d[(32 - n)...]))
        }
    }

    /// Appends `value` with at least `width` digits (zero-padded; `value` ≥ 0).
    mutating func padded(_ value: Int, _ width: Int) {
        var count = 1
        var v = value / 10
        while v > 0 { count += 1; v /= 10 }
        for _ in count..<max(count, width) { bytes.append(0x30) }
        unsigned(UInt64(value))
    }

    /// Appends `time` as a quoted RFC 3339 string, exactly as `EventTime.rfc3339` writes it.
    public mutating func time(_ time: EventTime) {
        bytes.append(0x22)
        let f = time.civilFields
        if f.year >= 0 { padded(f.year, 4) } else { int(Int64(f.year)) }
        bytes.append(0x2D); padded(f.month, 2); bytes.append(0x2D); padded(f.day, 2)
        bytes.append(0x54)
        padded(f.secondOfDay / 3600, 2); bytes.append(0x3A); padded(f.secondOfDay / 60 % 60, 2); bytes.append(0x3A); padded(f.secondOfDay % 60, 2)
        if f.micros != 0 { bytes.append(0x2E); padded(f.micros, 6) }
        if time.offsetMinutes == 0 {
            bytes.append(0x5A)
        } else {
            let o = Int(abs(Int32(time.offsetMinutes)))
            bytes.append(time.offsetMinutes < 0 ? 0x2D : 0x2B)
            padded(o / 60, 2); bytes.append(0x3A); padded(o % 60, 2)
        }
        bytes.append(0x22)
    }
}
