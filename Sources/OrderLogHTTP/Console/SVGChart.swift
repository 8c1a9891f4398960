import OrderModel

/// Bar charts as inline SVG, drawn on the server: no script, no library, works offline.
/// Labels are escaped (`HTMLWriter.escape`); the markup is this module's own.
enum SVGChart {
    /// Vertical bars, one per `(label, value)`, labels under every few bars, the largest
    /// value at the top of the axis. `format` prints a value.
    static func columns(_ points: [(label: String, value: Int64)], width: Int = 960, height: Int = 220, format: (Int64) -> String = { String($0) }) -> String {
        guard !points.isEmpty else { return "<p class=\"muted\">No data.</p>" }
        let top = max(1, points.map(\.value).max() ?? 1)
        let left = 110, bottom = 36, plotW = width - left - 10, plotH = height - bottom - 14
        let step = Double(plotW) / Double(points.count)
        let barW = max(1.0, step * 0.8)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        svg += "<line x1=\"\(left)\" y1=\"\(14 + plotH)\" x2=\"\(width - 10)\" y2=\"\(14 + plotH)\" stroke=\"#98a2b3\"/>"
        svg += "<text x=\"\(left - 6)\" y=\"18\" text-anchor=\"end\">\(HTMLWriter.escape(format(top)))</text><text x=\"\(left - 6)\" y=\"\(14 + plotH)\" text-anchor=\"end\">0</text>"
        let every = max(1, points.count / 10)
        for (i, p) in points.enumerated() {
            let h = Double(plotH) * Double(max(0, p.value)) / Double(top)
            let x = Double(left) + Double(i) * step + (step - barW) / 2
            svg += "<rect x=\"\(f(x))\" y=\"\(f(Double(14 + plotH) - h))\" width=\"\(f(barW))\" height=\"\(f(h))\" fill=\"#2458d3\"><title>\(HTMLWriter.escape(p.label)): \(HTMLWriter.escape(format(p.value)))</title></rect>"
            if i % every == 0 {
                svg += "<text x=\"\(f(x + barW / 2))\" y=\"\(height - 18)\" text-anchor=\"middle\">\(HTMLWriter.escape(p.label))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// Horizontal bars with their values (a few categories: channels).
    static func bars(_ points: [(label: String, value: Int64)], width: Int = 960) -> String {
        guard !points.isEmpty else { return "<p class=\"muted\">No data.</p>" }
        let top = max(1, points.map(\.value).max() ?? 1)
        let row = 22, left = 160, height = row * points.count + 8
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        for (i, p) in points.enumerated() {
            let w = Double(width - left - 90) * Double(max(0, p.value)) / Double(top)
            let y = 4 + i * row
            svg += "<text x=\"\(left - 8)\" y=\"\(y + 15)\" text-anchor=\"end\">\(HTMLWriter.escape(p.label))</text>"
            svg += "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\"\(f(w))\" height=\"\(row - 6)\" fill=\"#12b76a\"/>"
            svg += "<text x=\"\(f(Double(left) + w + 6))\" y=\"\(y + 15)\">\(p.value)</text>"
        }
        return svg + "</svg>"
    }

    private static func f(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }

}
