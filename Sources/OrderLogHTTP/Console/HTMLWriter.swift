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
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
