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
        /// Ticks at whole numbers only (epochs: there is no epoch 1.5).
        package var wholeNumbers: Bool

        package init(label: String, range: ClosedRange<Double>, logarithmic: Bool = false, wholeNumbers: Bool = false) {
            self.label = label
            self.range = range.lowerBound < range.upperBound ? range : range.lowerBound...(range.lowerBound + 1)
            self.logarithmic = logarithmic
            self.wholeNumbers = wholeNumbers
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
    /// The segments of the lines drawn so far, in plot coordinates: point labels keep off them.
    private var segments: [Segment] = []
    /// The points labelled so far and their labels' boxes and leaders: a later `points` call's
    /// labels keep off them too.
    private var labelled: (centres: [(Double, Double)], boxes: [Box], leaders: [Segment]) = ([], [], [])
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
        let pixels = points.map { (px($0.0), py($0.1)) }
        segments += zip(pixels, pixels.dropFirst()).map { Segment(from: $0, to: $1) }
        let path = pixels.map { String(format: "%.2f,%.2f", $0.0, $0.1) }.joined(separator: " ")
        marks.append("<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>")
        if markers {
            for p in points { marks.append(String(format: "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%@\"/>", px(p.0), py(p.1), color)) }
        }
        if let label { legend.append((label, color, dashed)) }
    }

    /// Labelled points: circles, each with its label beside it (see `labelSpot`), joined to it by
    /// a thin leader line when the label had to move further out. Points with the most
    /// neighbours are labelled first, while the space around them is free.
    package mutating func points(_ xs: [Double], _ ys: [Double], labels: [String], series: Int) {
        let color = Self.color(series)
        let centres = zip(xs, ys).map { (px($0), py($1)) }
        let neighbours = centres.map { c in centres.filter { hypot($0.0 - c.0, $0.1 - c.1) < 30 }.count }
        var spots = [(box: Box, leader: Segment?)?](repeating: nil, count: centres.count)
        for i in centres.indices.sorted(by: { neighbours[$0] > neighbours[$1] || (neighbours[$0] == neighbours[$1] && $0 < $1) }) {
            let others = labelled.centres + centres.indices.filter { $0 != i }.map { centres[$0] }
            spots[i] = labelSpot(of: centres[i], width: 6.2 * Double(labels[i].count), others: others,
                                 placed: labelled.boxes + spots.compactMap { $0?.box }, leaders: labelled.leaders + spots.compactMap { $0?.leader })
        }
        labelled.centres += centres
        labelled.boxes += spots.compactMap { $0?.box }
        labelled.leaders += spots.compactMap { $0?.leader }
        // Drawn in the points' order: circle i, then label i.
        for c in centres { marks.append(String(format: "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%@\"/>", c.0, c.1, color)) }
        for (spot, label) in zip(spots.compactMap { $0 }, labels) {
            if let leader = spot.leader {
                marks.append(String(format: "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#999999\" stroke-width=\"1\"/>",
                                    leader.from.0, leader.from.1, leader.to.0, leader.to.1))
            }
            marks.append(String(format: "<text x=\"%.2f\" y=\"%.2f\" font-size=\"11\" fill=\"%@\" %@>%@</text>",
                                spot.box.x0, spot.box.y1 - 3, Style.ink, Style.font, Self.escape(label)))
        }
    }

    /// Where a point's label goes: the first spot around the point (right, left, the diagonals,
    /// above, below, the directions between; then the same further out, with a leader line) that
    /// stays inside the plot, crosses no line (so no label sits on the Pareto front) and no
    /// leader, overlaps no label or point, and is nearer its own point than any other (so it
    /// cannot be read as a neighbour's). Points too close for that (runs with nearly equal
    /// numbers) get the first such spot with a leader line, which says whose label it is; if
    /// there is none either, the first spot.
    private func labelSpot(of centre: (Double, Double), width: Double, others: [(Double, Double)], placed: [Box],
                           leaders: [Segment]) -> (box: Box, leader: Segment?) {
        let plot = Box(x0: left + 3, y0: top + 3, x1: Double(self.width) - right - 3, y1: Double(height) - bottom - 3)
        let compass: [(Double, Double)] = [(1, 0), (-1, 0), (1, -1), (1, 1), (-1, -1), (-1, 1), (0, -1), (0, 1),
                                           (2, -1), (2, 1), (-2, -1), (-2, 1), (1, -2), (-1, -2), (1, 2), (-1, 2)]
        let candidates = [4.0, 14, 26, 40, 56, 74, 96, 120].flatMap { gap in
            compass.map { d in (gap, Box(beside: centre, direction: (d.0 / hypot(d.0, d.1), d.1 / hypot(d.0, d.1)), gap: gap, width: width, height: 12)) }
        }
        for nearest in [true, false] {
            for (gap, box) in candidates where nearest || gap > 4 {
                let leader = gap > 4 ? Segment(from: centre, towards: box) : nil
                let own = box.distance(to: centre)
                guard plot.contains(box), own > 5, others.allSatisfy({ box.distance(to: $0) > (nearest ? own : 5) }),
                      !placed.contains(where: { $0.overlaps(box) || leader.map($0.crossedBy) == true }),
                      !(segments + leaders).contains(where: box.crossedBy),
                      !leaders.contains(where: { leader?.crosses($0) == true }) else { continue }
                return (box, leader)
            }
        }
        return (candidates[0].1, nil)
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
        for (value, text) in xTickLabels ?? Self.linearTicks(x.range, wholeNumbers: x.wholeNumbers) {
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
        guard y.logarithmic else { return Self.linearTicks(y.range, wholeNumbers: y.wholeNumbers) }
        let lo = Int(floor(log10(y.range.lowerBound))), hi = Int(ceil(log10(y.range.upperBound)))
        return (lo...hi).map { pow(10, Double($0)) }.filter { y.range.contains($0) }.map { v in
            (v, v >= 1e6 ? "\(Int(v / 1e6))M" : v >= 1e4 ? "\(Int(v / 1e3))k" : Self.format(v))
        }
    }

    /// Five to nine ticks at 1, 2 or 5 times a power of ten; with `wholeNumbers`, a step of at
    /// least 1 (fewer ticks on a short range rather than fractions).
    static func linearTicks(_ range: ClosedRange<Double>, wholeNumbers: Bool = false) -> [(Double, String)] {
        let span = range.upperBound - range.lowerBound
        let raw = span / 5, magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.6 } ?? 10 * magnitude
        if wholeNumbers { step = max(step, 1) }
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

    /// Stacks charts (whole SVG documents) into one figure, one panel under another.
    package static func stack(_ panels: [String], width: Int, panelHeight: Int) -> String {
        let height = panelHeight * panels.count
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n"
        for (i, panel) in panels.enumerated() {
            out += "<g transform=\"translate(0 \(i * panelHeight))\">\n" + panel + "</g>\n"
        }
        return out + "</svg>\n"
    }

    static func color(_ series: Int) -> String { Style.palette[series % Style.palette.count] }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

/// A rectangle in plot coordinates (y down): a label's extent, or the plot area.
private struct Box {
    var x0, y0, x1, y1: Double

    init(x0: Double, y0: Double, x1: Double, y1: Double) { (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1) }

    /// A width x height box `gap` beyond a point's circle (radius 5) in the unit `direction`:
    /// its corner or edge nearest the point there, the box extending away from the point
    /// (centred on the direction when that is near vertical or horizontal).
    init(beside c: (Double, Double), direction d: (Double, Double), gap: Double, width: Double, height: Double) {
        let (ax, ay) = (c.0 + (5 + gap) * d.0, c.1 + (5 + gap) * d.1)
        let x0 = d.0 > 0.35 ? ax : d.0 < -0.35 ? ax - width : ax - width / 2
        let y0 = d.1 > 0.35 ? ay : d.1 < -0.35 ? ay - height : ay - height / 2
        self.init(x0: x0, y0: y0, x1: x0 + width, y1: y0 + height)
    }

    func contains(_ b: Box) -> Bool { x0 <= b.x0 && b.x1 <= x1 && y0 <= b.y0 && b.y1 <= y1 }

    /// Whether the boxes overlap or come within 2 of each other.
    func overlaps(_ b: Box) -> Bool { x0 - 2 < b.x1 && b.x0 < x1 + 2 && y0 - 2 < b.y1 && b.y0 < y1 + 2 }

    func distance(to p: (Double, Double)) -> Double { hypot(max(x0 - p.0, 0, p.0 - x1), max(y0 - p.1, 0, p.1 - y1)) }

    /// The point of the box nearest to `p`.
    func nearest(to p: (Double, Double)) -> (Double, Double) { (min(max(p.0, x0), x1), min(max(p.1, y0), y1)) }

    /// Whether the segment passes through the box grown by 2 (Liang-Barsky clipping).
    func crossedBy(_ s: Segment) -> Bool {
        var t0 = 0.0, t1 = 1.0
        let dx = s.to.0 - s.from.0, dy = s.to.1 - s.from.1
        for (p, q) in [(-dx, s.from.0 - (x0 - 2)), (dx, x1 + 2 - s.from.0), (-dy, s.from.1 - (y0 - 2)), (dy, y1 + 2 - s.from.1)] {
            if p == 0 { if q < 0 { return false }; continue }
            if p < 0 { t0 = max(t0, q / p) } else { t1 = min(t1, q / p) }
            if t0 > t1 { return false }
        }
        return true
    }
}

/// A straight piece of a line, in plot coordinates.
private struct Segment {
    var from, to: (Double, Double)

    init(from: (Double, Double), to: (Double, Double)) { (self.from, self.to) = (from, to) }

    /// Whether the two segments cross (touching ends aside).
    func crosses(_ o: Segment) -> Bool {
        func side(_ a: (Double, Double), _ b: (Double, Double), _ p: (Double, Double)) -> Double {
            (b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0)
        }
        return side(from, to, o.from) * side(from, to, o.to) < 0 && side(o.from, o.to, from) * side(o.from, o.to, to) < 0
    }

    /// A leader line from the edge of a point's circle to the nearest edge of its label.
    init(from centre: (Double, Double), towards box: Box) {
        let end = box.nearest(to: centre), length = max(hypot(end.0 - centre.0, end.1 - centre.1), 1e-9)
        let start = (centre.0 + 6 * (end.0 - centre.0) / length, centre.1 + 6 * (end.1 - centre.1) / length)
        self.init(from: start, to: end)
    }
}
