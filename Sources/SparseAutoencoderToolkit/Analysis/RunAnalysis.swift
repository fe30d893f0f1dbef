import Foundation
import SparseAutoencoder

/// A figure ready to be written or embedded: an SVG chart or a PNG image.
package struct Figure: Sendable {
    package enum Content: Sendable {
        case svg(String)
        case png([UInt8])
    }

    /// File name inside a figures directory, e.g. "code_histogram.svg".
    package var file: String
    package var title: String
    /// One or two sentences saying what the figure shows and how to read it.
    package var caption: String
    package var content: Content

    package var bytes: Data {
        switch content {
        case .svg(let text): Data(text.utf8)
        case .png(let bytes): Data(bytes)
        }
    }
}

/// Everything known about a trained run on the test set: its model, history, metrics (with the
/// sparsity statistics) and figures. `sae analyze`, `compare` and `report` are built on it.
///
///     let analysis = try RunAnalysis(run: RunDirectory(path: "runs/kl"), test: test)
///     try analysis.write()                  // metrics.json + figures/*.svg, *.png
///     print(MetricsTable.describe(analysis.metrics))
package struct RunAnalysis {
    package let name: String
    package let directory: RunDirectory
    package let config: RunConfig
    package let model: Autoencoder
    package let history: [EpochRecord]
    /// The test set's evaluation, without its codes (`evaluation.codes` is empty): their
    /// statistics, range and per-unit peaks are gathered batch by batch, so memory does not grow
    /// with the test set.
    package let evaluation: Evaluation
    package private(set) var metrics: RunMetrics
    package let test: Dataset
    /// The smallest and largest test code value, and each unit's largest.
    package let codeRange: ClosedRange<Float>
    package let unitPeaks: [Float]

    /// - Parameters:
    ///   - probe: the training set and the pixel baseline's accuracy (see `LinearProbe`), to
    ///     measure how well a linear probe reads the labels from the codes.
    package init(run: RunDirectory, test: Dataset, threshold: Double = CodeStatistics.defaultThreshold, name: String? = nil,
                probe: (train: Dataset, pixelAccuracy: Double)? = nil) throws {
        guard threshold >= 0, threshold.isFinite else { throw SAEError.badSetting("--threshold", "must be >= 0, got \(threshold)") }
        (config, model) = try run.loadModel()
        guard test.featureCount == config.model.inputSize else {
            throw SAEError("the test set has \(test.featureCount) features per sample but \(run.path) expects \(config.model.inputSize)")
        }
        directory = run
        self.name = name ?? (run.path as NSString).lastPathComponent
        self.test = test
        history = try run.loadHistory()
        var statistics = CodeStatistics.Accumulator(cols: config.model.codeSize, threshold: threshold)
        evaluation = model.evaluate(test, batchSize: config.training.batchSize) { statistics.add($0, rows: $1) }
        if let failure = test.readFailure { throw failure }
        metrics = RunMetrics(history: history, test: evaluation, codes: statistics.statistics)
        (codeRange, unitPeaks) = (statistics.valueRange, statistics.unitMaxima)
        if let probe {
            metrics.probeAccuracy = try LinearProbe.accuracy(of: model, train: probe.train, test: test)
            metrics.pixelProbeAccuracy = probe.pixelAccuracy
        }
    }

    package var side: Int { Int(Double(config.model.inputSize).squareRoot()) }

    /// The words this run's numbers are told in (see `RunWording`).
    package var wording: RunWording { RunWording(config) }

    /// The test codes in `bins` bins over `range`, counted in a second pass over the test set
    /// (the codes again, batch by batch, as the evaluation computed them).
    package func codeHistogram(bins: Int = 50, range: ClosedRange<Double>) -> Histogram {
        var histogram = Histogram(bins: bins, range: range)
        model.forEachOutputBatch(of: test, through: config.model.codeLayerIndex, batchSize: config.training.batchSize) { batch, _ in
            histogram.add(batch)
        }
        return histogram
    }

    /// The name of each class (index = label) for the per-class tables: Fashion-MNIST's, else
    /// "class N" for each label the test set has.
    package var classNames: [String] {
        config.data.dataset == .fashionMNIST ? FashionMNIST.classNames : metrics.testMseByClass.indices.map { "class \($0)" }
    }
    private var isImage: Bool { test.isImage && side * side == config.model.inputSize }

    /// The first test image of each class (label order): the columns of reconstruction grids.
    package static func exampleIndices(_ test: Dataset) -> [Int] {
        var seen = Set<UInt8>(), indices: [Int] = []
        for (i, label) in test.labels.enumerated() where !seen.contains(label) {
            seen.insert(label)
            indices.append(i)
        }
        return indices.sorted { test.labels[$0] < test.labels[$1] }
    }

    package var figures: [Figure] {
        let w = wording
        let quiet = config.model.penalty.rho != nil ? "; the dashed line is the KL target ρ that the penalty pulls every unit towards."
            : w.hasPenalty ? ". Bars near zero are \(w.units) the penalty has (nearly) switched off."
            : ". Bars near zero are \(w.units) that rarely win a place in the code."
        let histogram = codeHistogram(range: RunFigures.codeRange(codeRange))
        var out = [
            Figure(file: "unit_activation.svg", title: "Mean activation per code \(w.unit)",
                   caption: "Each bar is one code \(w.unit)'s mean output over \(w.theSet)" + quiet,
                   content: .svg(RunFigures.unitActivations(metrics.codes.unitMeans, penalty: config.model.penalty))),
            Figure(file: "code_histogram.svg", title: "Distribution of code values",
                   caption: "All \(test.count * config.model.codeSize) \(w.evaluationSet) code values in \(RunFigures.binsText(histogram)); counts on a log scale. A sparse code piles up in the first bin (near zero) with a long thin tail.",
                   content: .svg(RunFigures.codeHistogram(histogram))),
            Figure(file: "training_curves.svg", title: "Training curves",
                   caption: "The loss (\(w.hasPenalty ? "reconstruction + penalty" : "reconstruction")) per epoch on the training set and on \(w.theSet) (val_loss). A widening gap would mean overfitting.",
                   content: .svg(RunFigures.trainingCurves(history))),
        ]
        guard isImage else { return out }
        let examples = Self.exampleIndices(test)
        let originals = examples.map { test.floats($0..<($0 + 1)) }
        out.append(Figure(file: "reconstructions.png", title: "Reconstructions",
                          caption: "Top row: one test image of each class; bottom row: the model's reconstruction of it.",
                          content: .png(RunFigures.reconstructionGrid(originals: originals, reconstructions: [originals.map(model.reconstruct)], side: side))))
        let levels = unitPeaks.map { $0 > 0 ? $0 : 1 }
        out.append(Figure(file: "unit_images.png", title: "What each code unit draws",
                          caption: "The decoder's output when one code unit is switched on alone (at its largest test-set activation) and all others are zero, units in order, 8 per row.",
                          content: .png(RunFigures.unitImages(model, levels: levels, side: side))))
        out.append(Figure(file: "first_layer_weights.png", title: "First-layer weights",
                          caption: "Each tile is one first-layer unit's incoming weights, normalised to unit length and stretched to the full grey range: the input pattern that drives the unit hardest.",
                          content: .png(RunFigures.firstLayerTiles(model, side: side))))
        return out
    }

    /// Writes `metrics.json` (with the sparsity statistics) and every figure into `figures/`.
    @discardableResult
    package func write() throws -> [String] {
        try directory.lock()
        try directory.save(metrics: metrics)
        let folder = directory.path + "/figures"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try figures.map { figure in
            let path = folder + "/" + figure.file
            try AtomicFile.write(figure.bytes, to: path)
            return path
        }
    }
}
