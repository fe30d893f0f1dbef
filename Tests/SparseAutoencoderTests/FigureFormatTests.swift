import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import CZlib
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// PNG files are checked chunk by chunk (signature, lengths, CRCs, zlib data) and SVG files
/// are parsed as XML.
final class FigureFormatTests: XCTestCase {
    /// Walks a PNG's chunks, checking each CRC, and returns (type, data) pairs.
    func chunks(_ png: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [(String, [UInt8])] {
        XCTAssertEqual(Array(png.prefix(8)), PNG.signature, file: file, line: line)
        var out: [(String, [UInt8])] = []
        var i = 8
        while i + 12 <= png.count {
            let length = Int(png[i]) << 24 | Int(png[i + 1]) << 16 | Int(png[i + 2]) << 8 | Int(png[i + 3])
            let body = Array(png[(i + 4)..<(i + 8 + length)])
            let stored = UInt32(png[i + 8 + length]) << 24 | UInt32(png[i + 9 + length]) << 16
                | UInt32(png[i + 10 + length]) << 8 | UInt32(png[i + 11 + length])
            let crc = UInt32(body.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
            XCTAssertEqual(stored, crc, "bad CRC", file: file, line: line)
            out.append((String(decoding: body.prefix(4), as: UTF8.self), Array(body.dropFirst(4))))
            i += 12 + length
        }
        XCTAssertEqual(i, png.count, "trailing bytes", file: file, line: line)
        XCTAssertEqual(out.first?.0, "IHDR", file: file, line: line)
        XCTAssertEqual(out.last?.0, "IEND", file: file, line: line)
        return out
    }

    func inflate(_ data: [UInt8], expected: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: expected)
        var length = uLong(expected)
        return uncompress(&out, &length, data, uLong(data.count)) == Z_OK && Int(length) == expected ? out : nil
    }

    func testGreyPNGDecodesToItsPixels() {
        let pixels: [UInt8] = [0, 64, 128, 255, 1, 2]
        let png = PNG.encode(GreyImage(width: 3, height: 2, pixels: pixels))
        let parts = chunks(png)
        XCTAssertEqual(parts[0].1, [0, 0, 0, 3, 0, 0, 0, 2, 8, 0, 0, 0, 0])
        let idat = parts.filter { $0.0 == "IDAT" }.flatMap(\.1)
        XCTAssertEqual(inflate(idat, expected: 8), [0, 0, 64, 128, 0, 255, 1, 2])
    }

    func testRGBGridIsAValidPNG() {
        let tile = GreyImage(width: 2, height: 2, values: [0, 0.5, 1, 0.25][...])
        let grid = ImageGrid.compose([[tile, tile], [tile]], scale: 3, gap: 1)
        XCTAssertEqual(grid.width, 1 + 2 * (6 + 1))
        let parts = chunks(PNG.encode(grid))
        let idat = parts.filter { $0.0 == "IDAT" }.flatMap(\.1)
        XCTAssertNotNil(inflate(idat, expected: grid.height * (1 + 3 * grid.width)))
    }

    func assertWellFormedXML(_ text: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let parser = XMLParser(data: Data(text.utf8))
        XCTAssertTrue(parser.parse(), "\(name) is not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")", file: file, line: line)
        XCTAssertTrue(text.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""), name, file: file, line: line)
    }

    func testChartsAreWellFormedSVGWithTitlesAndLabels() {
        let history = (1...5).map { EpochRecord(epoch: $0, loss: 1 / Double($0), valLoss: 1.1 / Double($0), seconds: 1) }
        let charts = [
            ("bars", RunFigures.unitActivations([0.1, 0.02, 0, 0.3], penalty: .kl(rho: 0.05, beta: 3), title: "A <&> title")),
            ("histogram", RunFigures.codeHistogram(Histogram([0, 0, 0, 0.5, 1, 1, 3]))),
            ("panels", RunFigures.codeHistogramPanels([("l1", Histogram([0, 1, 2], range: 0...2)), ("kl", Histogram([0.1, 0.2], range: 0...0.2))])),
            ("curves", RunFigures.trainingCurves(history)),
        ]
        for (name, svg) in charts { assertWellFormedXML(svg, name) }
        XCTAssertTrue(charts[0].1.contains("target ρ = 0.05") && charts[0].1.contains("stroke-dasharray"), "KL line")
        XCTAssertTrue(charts[0].1.contains("A &lt;&amp;&gt; title"))
        XCTAssertTrue(charts[1].1.contains("count (log scale)"))
        XCTAssertTrue(charts[3].1.contains("val_loss (test set)") && charts[3].1.contains(">epoch<"))
    }

    /// The x, y (or other) numbers of every `attribute="..."` of the elements matching `pattern`.
    func numbers(_ svg: String, _ pattern: String) -> [[Double]] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).map { match in
            (1..<match.numberOfRanges).map { Double(svg[Range(match.range(at: $0), in: svg)!])! }
        }
    }

    /// Whether the segment (a, b) passes through the rectangle (Liang-Barsky clipping).
    func segment(_ a: (Double, Double), _ b: (Double, Double), crosses box: (x0: Double, y0: Double, x1: Double, y1: Double)) -> Bool {
        var t0 = 0.0, t1 = 1.0
        let dx = b.0 - a.0, dy = b.1 - a.1
        for (p, q) in [(-dx, a.0 - box.x0), (dx, box.x1 - a.0), (-dy, a.1 - box.y0), (dy, box.y1 - a.1)] {
            if p == 0 { if q < 0 { return false }; continue }
            if p < 0 { t0 = max(t0, q / p) } else { t1 = min(t1, q / p) }
            if t0 > t1 { return false }
        }
        return true
    }

    /// Each point label of a Pareto chart (font-size 11, drawn in the order of its circle) lies
    /// off every line, overlaps no other label or point, and is nearer its own point than any
    /// other, or joined to it by a leader line (grey, from the circle's edge to the label's).
    func assertLabelsClear(_ svg: String, _ labels: [String], file: StaticString = #filePath, line: UInt = #line) {
        let circles = numbers(svg, "<circle cx=\"([-0-9.]+)\" cy=\"([-0-9.]+)\" r=\"5\"")
        let texts = numbers(svg, "<text x=\"([-0-9.]+)\" y=\"([-0-9.]+)\" font-size=\"11\"")
        XCTAssertEqual(circles.count, labels.count, file: file, line: line)
        XCTAssertEqual(texts.count, labels.count, file: file, line: line)
        var segments: [((Double, Double), (Double, Double))] = []
        for polyline in try! NSRegularExpression(pattern: "<polyline points=\"([^\"]*)\"").matches(in: svg, range: NSRange(svg.startIndex..., in: svg)) {
            let points = svg[Range(polyline.range(at: 1), in: svg)!].split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").map { Double($0)! }
                return (xy[0], xy[1])
            }
            segments += zip(points, points.dropFirst()).map { ($0, $1) }
        }
        XCTAssertFalse(segments.isEmpty, file: file, line: line)
        let leaders = numbers(svg, "<line x1=\"([-0-9.]+)\" y1=\"([-0-9.]+)\" x2=\"([-0-9.]+)\" y2=\"([-0-9.]+)\" stroke=\"#999999\"")
        // The text's extent as the chart estimates it (generous for Helvetica at 11 px).
        let boxes = zip(texts, labels).map { t, label in (x0: t[0], y0: t[1] - 9, x1: t[0] + 6.2 * Double(label.count), y1: t[1] + 3) }
        func distance(_ box: (x0: Double, y0: Double, x1: Double, y1: Double), _ c: [Double]) -> Double {
            hypot(max(box.x0 - c[0], 0, c[0] - box.x1), max(box.y0 - c[1], 0, c[1] - box.y1))
        }
        for (i, box) in boxes.enumerated() {
            for (a, b) in segments {
                XCTAssertFalse(segment(a, b, crosses: box), "\(labels[i]) lies on the line \(a)-\(b)", file: file, line: line)
            }
            let distances = circles.map { distance(box, $0) }
            let led = leaders.contains { hypot($0[0] - circles[i][0], $0[1] - circles[i][1]) < 6.5 && distance(box, [$0[2], $0[3]]) < 0.01 }
            if !led {
                XCTAssertEqual(distances.indices.min { distances[$0] < distances[$1] }, i, "\(labels[i]) is nearer another point: \(distances)",
                               file: file, line: line)
            }
            XCTAssertGreaterThan(distances.min()!, 5, "\(labels[i]) covers a point", file: file, line: line)
            for (j, other) in boxes.enumerated() where j > i {
                XCTAssertFalse(box.x0 < other.x1 && other.x0 < box.x1 && box.y0 < other.y1 && other.y0 < box.y1,
                               "\(labels[i]) overlaps \(labels[j])", file: file, line: line)
            }
        }
    }

    /// A sweep's Pareto chart as `Sweep.paretoChart` draws it (the front dashed, then the labelled
    /// points): with the L1 sweep's numbers on fashion-mini, where a falling front ran through the
    /// labels and two close points' labels swapped sides; a crowded, bent front; and runs that
    /// nearly coincide.
    func testPointLabelsSitBesideTheirOwnPointsOffTheFront() {
        let sweep: [(String, Double, Double)] = [("l1_1e-05", 29.05, 0.6875), ("l1_0.0001", 26.90, 0.6881), ("l1_0.001", 20.12, 0.6905),
                                                 ("l1_0.01", 18.84, 0.6909), ("none", 29.38, 0.6874)]
        let crowded: [(String, Double, Double)] = (0..<9).map { i in
            let x = [2, 2.3, 3, 4, 4.2, 6, 9, 9.3, 14][i]
            return ("run_\(i)", x, 1 / x + (i == 4 ? 0.01 : 0))
        }
        // Five runs within a few pixels of each other (L1 sweeps' weakest settings and the baseline).
        let coincident = sweep + [("l1_1e-06", 29.35, 0.6874), ("l1_3e-06", 29.30, 0.6874), ("topk_k32", 28.91, 0.6875), ("topk_k8", 8, 0.6890)]
        for points in [sweep, crowded, coincident] {
            let xs = points.map(\.1), ys = points.map(\.2)
            let xPad = (xs.max()! - xs.min()!) * 0.1, yPad = (ys.max()! - ys.min()!) * 0.15
            var chart = SVGChart(title: "t", x: .init(label: "L0", range: (xs.min()! - xPad)...(xs.max()! + xPad)),
                                 y: .init(label: "BCE", range: (ys.min()! - yPad)...(ys.max()! + yPad)))
            let front = Sweep.paretoFront(points.map { (x: $0.1, y: $0.2) })
            chart.line(front.map { xs[$0] }, front.map { ys[$0] }, series: 1, label: "Pareto front", dashed: true)
            chart.points(xs, ys, labels: points.map(\.0), series: 0)
            assertLabelsClear(chart.svg, points.map(\.0))
        }
    }

    func testLinearTicksAreRoundNumbers() {
        XCTAssertEqual(SVGChart.linearTicks(0...1).map(\.1), ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        XCTAssertEqual(SVGChart.linearTicks(0.26...0.41).map(\.1), ["0.26", "0.28", "0.3", "0.32", "0.34", "0.36", "0.38", "0.4"])
        XCTAssertEqual(SVGChart.linearTicks(1...3, wholeNumbers: true).map(\.1), ["1", "2", "3"])
    }

    /// The training curves' epoch axis ticks whole epochs only, on an even step that keeps the
    /// ticks few: all of 1..3 (not 1.5, 2.5), every other one of 14, every fifth of 30.
    func testEpochAxisTicksWholeEpochs() {
        for (epochs, expected) in [(1, ["1", "2"]), (3, ["1", "2", "3"]), (14, ["2", "4", "6", "8", "10", "12", "14"]),
                                   (30, ["5", "10", "15", "20", "25", "30"]), (200, nil)] {
            let history = (1...epochs).map { EpochRecord(epoch: $0, loss: 1 / Double($0), valLoss: nil, seconds: 1) }
            let svg = RunFigures.trainingCurves(history)
            // The x axis's tick labels are the only centred 12 px texts.
            let ticks = numbers(svg, "text-anchor=\"middle\" font-size=\"12\" [^>]*>([-0-9.e]+)</text>").map { $0[0] }
            XCTAssertGreaterThanOrEqual(ticks.count, 2, "\(epochs) epochs")
            XCTAssertLessThanOrEqual(ticks.count, 10, "\(epochs) epochs")
            XCTAssertTrue(ticks.allSatisfy { $0 == $0.rounded() && $0 >= 1 && $0 <= Double(max(epochs, 2)) }, "\(epochs) epochs: \(ticks)")
            XCTAssertEqual(Set(zip(ticks, ticks.dropFirst()).map { $1 - $0 }).count, 1, "an even step: \(ticks)")
            if let expected { XCTAssertEqual(ticks.map { String(Int($0)) }, expected) }
        }
    }
}
