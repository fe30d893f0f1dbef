import Foundation
import SparseAutoencoder

/// The figures of one run: how sparse its code is, how it learned, what it reconstructs and
/// what each unit stands for. Charts are SVG, image grids PNG.
package enum RunFigures {
    /// Bar chart of each unit's mean test activation; for a KL run, a dashed line at rho.
    package static func unitActivations(_ means: [Double], penalty: ActivityPenalty, title: String = "Mean activation per code unit") -> String {
        let top = max(means.max() ?? 0, Double(penalty.rho ?? 0)) * 1.1
        var chart = SVGChart(title: title, x: .init(label: "code unit", range: -0.5...(Double(means.count) - 0.5)),
                             y: .init(label: "mean activation on the test set", range: 0...max(top, 1e-6)))
        chart.xTickLabels = unitTicks(means.count)
        chart.bars(means.indices.map(Double.init), means, width: 0.8, series: 0)
        if let rho = penalty.rho { chart.horizontalLine(at: Double(rho), label: "target ρ = \(SVGChart.format(Double(rho)))", series: 1) }
        return chart.svg
    }

    /// Histogram of code values, counts on a log scale (`codeHistograms` with one unnamed run).
    package static func codeHistogram(_ histogram: Histogram, title: String = "Distribution of code values (test set)") -> String {
        codeHistograms([(nil, histogram)], title: title)
    }

    /// The range code histograms share: from 0 (or below) to the largest value of any run.
    package static func codeRange(_ ranges: [ClosedRange<Float>]) -> ClosedRange<Double> {
        let lo = Double(min(ranges.map(\.lowerBound).min() ?? 0, 0)), hi = Double(ranges.map(\.upperBound).max() ?? 1)
        return lo...max(hi, lo + 1e-6)
    }

    /// Overlaid histograms with shared bins (a named one gets a legend entry), log-scale counts.
    package static func codeHistograms(_ runs: [(name: String?, histogram: Histogram)], title: String) -> String {
        let histograms = runs.map(\.histogram)
        let peak = Double(histograms.flatMap(\.counts).max() ?? 1)
        var chart = SVGChart(title: title, x: .init(label: "code value", range: histograms[0].edges.first!...histograms[0].edges.last!),
                             y: .init(label: "count (log scale)", range: 0.8...max(peak * 1.5, 10), logarithmic: true))
        for (i, (run, h)) in zip(runs, histograms).enumerated() {
            chart.histogram(edges: h.edges, counts: h.counts.map(Double.init), series: i, label: run.name)
        }
        return chart.svg
    }

    /// loss and val_loss per epoch.
    package static func trainingCurves(_ history: [EpochRecord], title: String = "Training curves") -> String {
        let epochs = history.map { Double($0.epoch) }
        let values = history.map(\.loss) + history.compactMap(\.valLoss)
        let lo = values.min() ?? 0, hi = values.max() ?? 1, pad = max((hi - lo) * 0.08, 1e-4)
        var chart = SVGChart(title: title, x: .init(label: "epoch", range: (epochs.first ?? 1)...max(epochs.last ?? 1, (epochs.first ?? 1) + 1)),
                             y: .init(label: "loss (reconstruction + penalty)", range: (lo - pad)...(hi + pad)))
        chart.line(epochs, history.map(\.loss), series: 0, label: "loss (training)", markers: history.count < 40)
        if history.contains(where: { $0.valLoss != nil }) {
            chart.line(epochs, history.map { $0.valLoss ?? .nan }, series: 1, label: "val_loss (test set)", dashed: true, markers: history.count < 40)
        }
        return chart.svg
    }

    /// Originals above their reconstructions, one column per image; rows come in pairs.
    package static func reconstructionGrid(originals: [[Float]], reconstructions: [[[Float]]], side: Int) -> [UInt8] {
        let tile = { (v: [Float]) in GreyImage(width: side, height: side, values: v[...]) }
        let rows = [originals.map(tile)] + reconstructions.map { $0.map(tile) }
        return PNG.encode(ImageGrid.compose(rows, scale: 3, gap: 2))
    }

    /// The decoder's image for each code unit switched on alone (at `levels[j]`), in rows of 8 or 16.
    package static func unitImages(_ model: Autoencoder, levels: [Float], side: Int) -> [UInt8] {
        let c = model.config.codeSize
        var codes = [Float](repeating: 0, count: c * c)
        for j in 0..<c { codes[j * c + j] = levels[j] }
        let images = model.decode(codes)
        let d = model.config.inputSize
        let tiles = (0..<c).map { GreyImage(width: side, height: side, values: images[(($0 * d))..<(($0 + 1) * d)]) }
        return PNG.encode(ImageGrid.compose(tiles, columns: c > 64 ? 16 : 8, scale: 2))
    }

    /// UFLDL-style tiles of the first layer: each hidden unit's incoming weights, normalised to
    /// unit length (the input of unit norm that drives the unit hardest), then stretched to the
    /// full grey range per tile.
    package static func firstLayerTiles(_ model: Autoencoder, side: Int) -> [UInt8] {
        let layer = model.layers[0], p = model.parameterValues
        let tiles = (0..<layer.outputSize).map { unit -> GreyImage in
            var w = (0..<layer.inputSize).map { p[layer.kernelIndex(input: $0, output: unit)] }
            let norm = max(w.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
            w = w.map { $0 / norm }
            let lo = w.min() ?? 0, hi = w.max() ?? 1
            return GreyImage(width: side, height: side, values: w[...], range: lo...max(hi, lo + 1e-12))
        }
        return PNG.encode(ImageGrid.compose(tiles, columns: 16, scale: 2))
    }

    /// At most about 16 labelled units, on a power-of-two step (1, 8, 16, 32, ...).
    private static func unitTicks(_ n: Int) -> [(Double, String)] {
        var step = n <= 16 ? 1 : 8
        while n / step > 16 { step *= 2 }
        return stride(from: 0, to: n, by: step).map { (Double($0), String($0)) }
    }
}
