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
            ("overlay", RunFigures.codeHistograms([("l1", Histogram([0, 1, 2], range: 0...2)), ("kl", Histogram([0.1, 0.2], range: 0...2))], title: "t")),
            ("curves", RunFigures.trainingCurves(history)),
        ]
        for (name, svg) in charts { assertWellFormedXML(svg, name) }
        XCTAssertTrue(charts[0].1.contains("target ρ = 0.05") && charts[0].1.contains("stroke-dasharray"), "KL line")
        XCTAssertTrue(charts[0].1.contains("A &lt;&amp;&gt; title"))
        XCTAssertTrue(charts[1].1.contains("count (log scale)"))
        XCTAssertTrue(charts[3].1.contains("val_loss (test set)") && charts[3].1.contains(">epoch<"))
    }

    func testLinearTicksAreRoundNumbers() {
        XCTAssertEqual(SVGChart.linearTicks(0...1).map(\.1), ["0", "0.2", "0.4", "0.6", "0.8", "1"])
        XCTAssertEqual(SVGChart.linearTicks(0.26...0.41).map(\.1), ["0.26", "0.28", "0.3", "0.32", "0.34", "0.36", "0.38", "0.4"])
    }
}
