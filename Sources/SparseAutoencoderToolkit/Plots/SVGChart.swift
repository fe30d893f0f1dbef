import Foundation
import SparseAutoencoder

/// A small SVG chart: one plot area with labelled, ticked axes (linear or log), a title, and
/// bars, lines, step histograms and reference lines drawn in data coordinates. Every figure uses
/// the same fonts, sizes and `Style.palette`, so figures look alike.
///
///     var chart = SVGChart(title: "Loss", x: .init(label: "epoch", range: 1...30),
///                          y: .init(label: "loss", range: 0.26...0.4))
///     chart.line(xs, ys, series: 0, label: "loss")
///     try AtomicFile.write(chart.svg, to: "loss.svg")
package struct SVGChart {
    package struct Axis {
        package var label: String
        package var range: ClosedRange<Double>
        package var logarithmic: Bool

        package init(label: String, range: ClosedRange<Double>, logarithmic: Bool = false) {
            self.label = label
            self.range = range.lowerBound < range.upperBound ? range : range.lowerBound...(range.lowerBound + 1)
            self.logarithmic = logarithmic
        }
    }

    package enum Style {
        package static let palette = ["#3266a8", "#d1553b", "#3c9a5a", "#8f5bb0", "#c4912f", "#4aa5b5"]
        package static let font = "font-family=\"Helvetica, Arial, sans-serif\""
        package static let ink = "#333333"
        package static let grid = "#e4e4e4"
    }

    package var title: String
    package var x: Axis
    package var y: Axis
    package var width = 760
    package var height = 380
    /// Categorical x tick labels (used instead of numbers when set): (position, text).
    package var xTickLabels: [(Double, String)]?
    private var marks: [String] = []
    private var legend: [(String, String, Bool)] = []
    private let left = 72.0, right = 24.0, top = 60.0, bottom = 56.0

    package init(title: String, x: Axis, y: Axis, width: Int = 760, height: Int = 380) {
        self.title = title
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    // MARK: - Marks

    /// Vertical bars centred at `xs` with the given width (in data units), from the axis floor.
    package mutating func bars(_ xs: [Double], _ ys: [Double], width barWidth: Double, series: Int, label: String? = nil, opacity: Double = 1) {
        let color = Self.color(series)
        let floorY = py(y.logarithmic ? y.range.lowerBound : max(y.range.lowerBound, 0))
        for (xv, yv) in zip(xs, ys) {
            let x0 = px(xv - barWidth / 2), x1 = px(xv + barWidth / 2), top = py(yv)
            marks.append(String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%@\" fill-opacity=\"%.2f\"/>",
                                x0, min(top, floorY), max(x1 - x0, 0.5), abs(floorY - top), color, opacity))
        }
        if let label { legend.append((label, color, false)) }
    }

    /// A polyline through the points (non-finite or, on a log axis, non-positive points are skipped).
    package mutating func line(_ xs: [Double], _ ys: [Double], series: Int, label: String? = nil, dashed: Bool = false, markers: Bool = false) {
        let color = Self.color(series)
        let points = zip(xs, ys).filter { $0.1.isFinite && (!y.logarithmic || $0.1 > 0) }
        let path = points.map { String(format: "%.2f,%.2f", px($0.0), py($0.1)) }.joined(separator: " ")
        marks.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>")
        if markers {
            for p in points { marks.append(String(format: "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%@\"/>", px(p.0), py(p.1), color)) }
        }
        if let label { legend.append((label, color, dashed)) }
    }

    /// Labelled points: circles with their label beside, moved down past any label already
    /// placed that it would overlap, and to the left of points in the right quarter.
    package mutating func points(_ xs: [Double], _ ys: [Double], labels: [String], series: Int) {
        let color = Self.color(series)
        var placed: [(x0: Double, x1: Double, y: Double)] = []
        for i in xs.indices.sorted(by: { ys[$0] < ys[$1] }) {
            let cx = px(xs[i]), cy = py(ys[i])
            marks.append(String(format: "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%@\"/>", cx, cy, color))
            let right = cx > left + 0.75 * (Double(width) - left - self.right)
            let textWidth = 6.2 * Double(labels[i].count)
            let x0 = right ? cx - 8 - textWidth : cx + 8, x1 = x0 + textWidth
            var y = cy - 8
            while placed.contains(where: { $0.x0 < x1 && x0 < $0.x1 && abs($0.y - y) < 13 }) { y += 13 }
            placed.append((x0, x1, y))
            marks.append(String(format: "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" fill=\"%@\" %@>%@</text>",
                                x0, y, Style.ink, Style.font, Self.escape(labels[i])))
        }
    }

    /// A histogram as a step outline over `edges` (counts.count + 1 of them), optionally filled.
    package mutating func histogram(edges: [Double], counts: [Double], series: Int, label: String? = nil, fillOpacity: Double = 0.35) {
        let color = Self.color(series)
        let floor = y.logarithmic ? y.range.lowerBound : 0
        var d = String(format: "M%.2f,%.2f", px(edges[0]), py(floor))
        for (i, c) in counts.enumerated() {
            let v = c > 0 || !y.logarithmic ? c : floor
            d += String(format: " L%.2f,%.2f L%.2f,%.2f", px(edges[i]), py(v), px(edges[i + 1]), py(v))
        }
        d += String(format: " L%.2f,%.2f Z", px(edges.last!), py(floor))
        marks.append("<path d=\"\(d)\" fill=\"\(color)\" fill-opacity=\"\(fillOpacity)\" stroke=\"\(color)\" stroke-width=\"1.5\"/>")
        if let label { legend.append((label, color, false)) }
    }

    /// A horizontal reference line across the plot, named in the legend.
    package mutating func horizontalLine(at value: Double, label: String, series: Int, dashed: Bool = true) {
        let color = Self.color(series), yy = py(value)
        marks.append(String(format: "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%@\" stroke-width=\"2\"%@/>",
                            left, yy, Double(width) - right, yy, color, dashed ? " stroke-dasharray=\"6 4\"" : ""))
        legend.append((label, color, dashed))
    }

    // MARK: - Output

    package var svg: String {
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(width / 2)\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\" fill=\"\(Style.ink)\" \(Style.font)>\(Self.escape(title))</text>"]
        let plotRight = Double(width) - right, plotBottom = Double(height) - bottom
        for (value, text) in yTicks() {
            let yy = py(value)
            out.append(String(format: "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%@\"/>", left, yy, plotRight, yy, Style.grid))
            out.append(String(format: "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"12\" fill=\"%@\" %@>%@</text>", left - 6, yy + 4, Style.ink, Style.font, text))
        }
        for (value, text) in xTickLabels ?? Self.linearTicks(x.range) {
            let xx = px(value)
            out.append(String(format: "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%@\"/>", xx, plotBottom, xx, plotBottom + 5, Style.ink))
            out.append(String(format: "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"12\" fill=\"%@\" %@>%@</text>", xx, plotBottom + 19, Style.ink, Style.font, Self.escape(text)))
        }
        out += marks
        out.append(String(format: "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"%@\"/>", left, top, plotRight - left, plotBottom - top, Style.ink))
        out.append("<text x=\"\((left + plotRight) / 2)\" y=\"\(Double(height) - 12)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Style.ink)\" \(Style.font)>\(Self.escape(x.label))</text>")
        out.append("<text transform=\"translate(18 \((top + plotBottom) / 2)) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"\(Style.ink)\" \(Style.font)>\(Self.escape(y.label))</text>")
        // The legend sits in one row between the title and the plot, right-aligned, off the data.
        var lx = plotRight
        for entry in legend.reversed() {
            lx -= 36 + 7 * Double(entry.0.count)
            let ly = top - 9
            out.append(String(format: "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%@\" stroke-width=\"3\"%@/>",
                              lx, ly - 4, lx + 22, ly - 4, entry.1, entry.2 ? " stroke-dasharray=\"6 4\"" : ""))
            out.append(String(format: "<text x=\"%.2f\" y=\"%.2f\" font-size=\"12\" fill=\"%@\" %@>%@</text>", lx + 28, ly, Style.ink, Style.font, Self.escape(entry.0)))
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - Scales and ticks

    /// Plot coordinates; a non-finite value (NaN in the data or the axis) lands on the axis, so
    /// the SVG never holds "nan".
    private func px(_ v: Double) -> Double {
        let p = left + (v - x.range.lowerBound) / (x.range.upperBound - x.range.lowerBound) * (Double(width) - left - right)
        return p.isFinite ? p : left
    }

    private func py(_ v: Double) -> Double {
        let plotBottom = Double(height) - bottom
        let f: Double
        if y.logarithmic {
            let lo = log10(y.range.lowerBound), hi = log10(y.range.upperBound)
            f = (log10(max(v, y.range.lowerBound)) - lo) / (hi - lo)
        } else {
            f = (v - y.range.lowerBound) / (y.range.upperBound - y.range.lowerBound)
        }
        return plotBottom - (f.isFinite ? min(max(f, -0.02), 1.02) : 0) * (plotBottom - top)
    }

    private func yTicks() -> [(Double, String)] {
        guard y.logarithmic else { return Self.linearTicks(y.range) }
        let lo = Int(floor(log10(y.range.lowerBound))), hi = Int(ceil(log10(y.range.upperBound)))
        return (lo...hi).map { pow(10, Double($0)) }.filter { y.range.contains($0) }.map { v in
            (v, v >= 1e6 ? "\(Int(v / 1e6))M" : v >= 1e4 ? "\(Int(v / 1e3))k" : Self.format(v))
        }
    }

    /// Five to nine ticks at 1, 2 or 5 times a power of ten.
    static func linearTicks(_ range: ClosedRange<Double>) -> [(Double, String)] {
        let span = range.upperBound - range.lowerBound
        let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.6 } ?? 10 * magnitude
        var ticks: [(Double, String)] = []
        var v = ceil(range.lowerBound / step - 1e-9) * step
        while v <= range.upperBound + step * 1e-9 {
            ticks.append((v, format(abs(v) < step * 1e-9 ? 0 : v)))
            v += step
        }
        return ticks
    }

    static func format(_ v: Double) -> String {
        if !v.isFinite { return v.isNaN ? "n/a" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 { return String(format: "%.0e", v) }
        var s = String(format: "%.4f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    static func color(_ series: Int) -> String { Style.palette[series % Style.palette.count] }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
