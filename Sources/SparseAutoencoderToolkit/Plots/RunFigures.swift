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

    /// Histogram of code values over its own bins, counts on a log scale up to `peak` (default:
    /// its largest count).
    package static func codeHistogram(_ histogram: Histogram, title: String = "Distribution of code values (test set)",
                                      peak: Int? = nil, height: Int = 380) -> String {
        let top = Double(peak ?? histogram.counts.max() ?? 1)
        var chart = SVGChart(title: title, x: .init(label: "code value", range: histogram.edges.first!...histogram.edges.last!),
                             y: .init(label: "count (log scale)", range: 0.8...max(top * 1.5, 10), logarithmic: true), height: height)
        chart.histogram(edges: histogram.edges, counts: histogram.counts.map(Double.init), series: 0)
        return chart.svg
    }

    /// The range a run's code histogram spans: from 0 (or below) to its largest value.
    package static func codeRange(_ range: ClosedRange<Float>) -> ClosedRange<Double> {
        let lo = Double(min(range.lowerBound, 0)), hi = Double(range.upperBound)
        return lo...max(hi, lo + 1e-6)
    }

    /// One histogram panel per run, each over its own bins: runs' ranges differ by an order of
    /// magnitude (a KL run's sigmoid codes in 0..1, an L1 run's ReLU codes in 0..15), and shared
    /// bins would squeeze the narrow one into a few bins. The count axes are the same, so panels
    /// compare by height; each title gives its run's bin width.
    package static func codeHistogramPanels(_ runs: [(name: String, histogram: Histogram)]) -> String {
        let peak = runs.flatMap(\.histogram.counts).max() ?? 1, height = 280
        let panels = runs.map { run in
            codeHistogram(run.histogram, title: "\(run.name): " + binsText(run.histogram), peak: peak, height: height)
        }
        return SVGChart.stack(panels, width: 760, panelHeight: height)
    }

    /// "50 bins of 0.0175 from 0 to 0.874": how a histogram counted (to 3 significant digits).
    package static func binsText(_ histogram: Histogram) -> String {
        let edges = histogram.edges
        return String(format: "%ld bins of %.3g from %.3g to %.3g", histogram.counts.count, edges[1] - edges[0], edges[0], edges.last!)
    }

    /// loss and val_loss per epoch.
    package static func trainingCurves(_ history: [EpochRecord], title: String = "Training curves") -> String {
        let epochs = history.map { Double($0.epoch) }
        let values = history.map(\.loss) + history.compactMap(\.valLoss)
        let lo = values.min() ?? 0, hi = values.max() ?? 1, pad = max((hi - lo) * 0.08, 1e-4)
        var chart = SVGChart(title: title, x: .init(label: "epoch", range: (epochs.first ?? 1)...max(epochs.last ?? 1, (epochs.first ?? 1) + 1),
                                                     wholeNumbers: true),
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
