import SparseAutoencoder

/// Lays greyscale tiles out in rows on a light background, each pixel drawn as a scale x scale
/// block, with a gap between tiles.
package enum ImageGrid {
    package static func compose(_ rows: [[GreyImage]], scale: Int = 2, gap: Int = 2) -> RGBImage {
        let tileW = (rows.flatMap { $0 }.map(\.width).max() ?? 1) * scale
        let tileH = (rows.flatMap { $0 }.map(\.height).max() ?? 1) * scale
        let columns = rows.map(\.count).max() ?? 1
        var canvas = RGBImage(width: gap + columns * (tileW + gap), height: gap + rows.count * (tileH + gap),
                              fill: (238, 238, 238))
        for (r, row) in rows.enumerated() {
            let y = gap + r * (tileH + gap)
            for (c, tile) in row.enumerated() { canvas.draw(tile, x: gap + c * (tileW + gap), y: y, scale: scale) }
        }
        return canvas
    }

    /// `tiles` in rows of `columns`.
    package static func compose(_ tiles: [GreyImage], columns: Int, scale: Int = 2, gap: Int = 2) -> RGBImage {
        compose(stride(from: 0, to: tiles.count, by: columns).map { Array(tiles[$0..<min($0 + columns, tiles.count)]) },
                scale: scale, gap: gap)
    }
}

/// Counts of values in equal-width bins over a range (the last bin includes its upper edge).
package struct Histogram: Equatable, Sendable {
    package var edges: [Double]
    package var counts: [Int]
    /// The range and the bins' width, as the counting uses them.
    private let lo: Double, hi: Double, width: Double

    package init(_ values: [Float], bins: Int = 50, range: ClosedRange<Double>? = nil) {
        self.init(bins: bins, range: range ?? Double(values.min() ?? 0)...Double(values.max() ?? 1))
        values.withUnsafeBufferPointer { add($0) }
    }

    /// Empty bins over `range`, to be filled batch by batch with `add`.
    package init(bins: Int = 50, range: ClosedRange<Double>) {
        let lo = range.lowerBound, hi = range.upperBound > lo ? range.upperBound : lo + 1
        edges = (0...bins).map { lo + (hi - lo) * Double($0) / Double(bins) }
        counts = [Int](repeating: 0, count: bins)
        (self.lo, self.hi, width) = (lo, hi, (hi - lo) / Double(bins))
    }

    /// Counts `values` (those outside the range are left out).
    package mutating func add(_ values: UnsafeBufferPointer<Float>) {
        let bins = counts.count
        for v in values {
            let d = Double(v)
            guard d >= lo, d <= hi else { continue }
            counts[min(Int((d - lo) / width), bins - 1)] += 1
        }
    }
}
