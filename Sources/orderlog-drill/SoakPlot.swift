import Foundation

/// A small SVG of a soak: resident memory (left axis) and events/s (right axis) over time.
enum SoakPlot {
    static func svg(samples: [SoakSample], title: String) -> String {
        let width = 720.0, height = 320.0, left = 60.0, right = 60.0, top = 36.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let tMax = max(1, samples.map(\.t).max() ?? 1)
        let mibMax = niceCeiling(max(1, samples.map { Double($0.rssKiB) / 1024 }.max() ?? 1))
        let rateMax = niceCeiling(max(1, samples.map(\.eventsPerSecond).max() ?? 1))
        func x(_ t: Double) -> Double { left + t / tMax * plotW }
        func yMem(_ m: Double) -> Double { top + plotH - m / mibMax * plotH }
        func yRate(_ r: Double) -> Double { top + plotH - r / rateMax * plotH }
        func line(_ points: [(Double, Double)], _ color: String) -> String {
            let d = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(d)\"/>"
        }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(Int(left))\" y=\"20\" font-size=\"14\">\(title)</text>\n"
        for k in 0...4 {
            let f = Double(k) / 4, y = top + plotH - f * plotH
            out += String(format: "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y, left + plotW, y)
            out += String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%.0f</text>\n", left - 6, y + 4, mibMax * f)
            out += String(format: "<text x=\"%.0f\" y=\"%.1f\" fill=\"#d62728\">%.0f</text>\n", left + plotW + 6, y + 4, rateMax * f)
            out += String(format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f s</text>\n", left + f * plotW, top + plotH + 18, tMax * f)
        }
        out += line(samples.map { (x($0.t), yMem(Double($0.rssKiB) / 1024)) }, "#1f77b4") + "\n"
        out += line(samples.map { (x($0.t), yMem(Double($0.anonKiB) / 1024)) }, "#2ca02c") + "\n"
        out += line(samples.map { (x($0.t), yRate($0.eventsPerSecond)) }, "#d62728") + "\n"
        out += "<text x=\"\(Int(left))\" y=\"\(Int(height - 6))\" fill=\"#1f77b4\">resident memory, MiB (left)</text>\n"
        out += "<text x=\"\(Int(left + 200))\" y=\"\(Int(height - 6))\" fill=\"#2ca02c\">anonymous (heap) part</text>\n"
        out += "<text x=\"\(Int(left + plotW))\" y=\"\(Int(height - 6))\" text-anchor=\"end\" fill=\"#d62728\">events/s appended (right)</text>\n"
        return out + "</svg>\n"
    }

    /// 1, 2 or 5 times a power of ten, at least `v`.
    static func niceCeiling(_ v: Double) -> Double {
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 2, 5, 10] where m * p >= v { return m * p }
        return 10 * p
    }
}
