/// Writes HTML text with every value escaped: the console's order body, which is rendered on
/// every page view and again on every live update, is written with it directly (a template
/// engine's reflection cost several times the whole request there; docs/BENCHMARKS.md).
struct HTMLWriter {
    private(set) var text = ""

    init(capacity: Int = 8192) { text.reserveCapacity(capacity) }

    /// Markup this module wrote itself, as it is.
    mutating func raw(_ s: String) { text += s }

    /// A value: `& < > " '` escaped (safe in text and in quoted attributes).
    mutating func value(_ s: String) { text += HTMLWriter.escape(s) }

    mutating func value(_ n: some BinaryInteger) { text += String(n) }

    /// `<td>`s of `cells`, each escaped; `numeric` ones right-aligned.
    mutating func row(_ cells: [String], numeric: Set<Int> = [], attributes: String = "") {
        text += "<tr\(attributes)>"
        for (i, c) in cells.enumerated() {
            text += numeric.contains(i) ? "<td class=\"num\">" : "<td>"
            value(c)
            text += "</td>"
        }
        text += "</tr>"
    }

    static func escape(_ s: String) -> String {
        // Most values (ids, skus, amounts) need nothing: returned as they are.
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return s }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 32)
        // Byte by byte: the five are ASCII, and every byte of a multi-byte character is ≥ 0x80.
        for b in s.utf8 {
            switch b {
            case 0x26: out.append(contentsOf: [0x26, 0x61, 0x6D, 0x70, 0x3B])  // &amp;
            case 0x3C: out.append(contentsOf: [0x26, 0x6C, 0x74, 0x3B])  // &lt;
            case 0x3E: out.append(contentsOf: [0x26, 0x67, 0x74, 0x3B])  // &gt;
            case 0x22: out.append(contentsOf: [0x26, 0x71, 0x75, 0x6F, 0x74, 0x3B])  // &quot;
            case 0x27: out.append(contentsOf: [0x26, 0x23, 0x33, 0x39, 0x3B])  // &#39;
            default: out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
