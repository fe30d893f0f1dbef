import Foundation
import SparseAutoencoder

/// Several runs side by side: per-unit mean activations (the tutorial's L1-vs-KL figure),
/// code histograms (one panel per run, each over its own range), reconstructions of the same
/// test images, and a metrics table.
///
///     let comparison = try Comparison(runs: [l1, kl])
///     try comparison.write(to: "runs/compare")
package struct Comparison {
    package let runs: [RunAnalysis]

    package init(runs: [RunAnalysis]) throws {
        guard !runs.isEmpty else { throw SAEError("nothing to compare: give at least one run directory") }
        let names = runs.map(\.name)
        guard Set(names).count == names.count else {
            throw SAEError("two runs have the same name (\(names.joined(separator: ", "))); give runs in differently named directories")
        }
        self.runs = runs
    }

    /// The metrics table, one column per run.
    package var table: String { MetricsTable.render(runs.map { ($0.name, $0.metrics) }, wording: wording) }

    /// What each run is and how it was trained, one line per run: the model with every setting
    /// of its architecture, the training and its schedule, the data.
    package var settings: String {
        runs.map { run in
            let (m, t) = (run.config.model, run.config.training)
            return "\(run.name): \(m.kindText); \(t.epochs) epochs x \(t.batchSize), Adam lr \(t.optimizer.learningRate)"
                + (t.schedule.map { " (\($0.summaryText))" } ?? "") + "; " + run.config.data.summaryText
        }.joined(separator: "\n")
    }

    /// The words the runs' numbers are told in (see `RunWording`).
    package var wording: RunWording { RunWording(runs.map(\.config)) }

    package var figures: [Figure] {
        var out = [
            Figure(file: "unit_activation_comparison.svg", title: "Mean activation per code unit, run by run",
                   caption: "One panel per run, each with its own scale: how evenly (or not) each run spreads activity over its code units.",
                   content: .svg(stackedUnitActivations())),
            Figure(file: "code_histograms.svg", title: "Code value distributions",
                   caption: "One panel per run: its test code values in 50 bins over its own range (from 0 to its largest value; "
                       + "the panel's title gives the bin width), counts on a log scale that all panels share. "
                       + "The x axes differ, so compare shapes, not positions.",
                   content: .svg(codeHistograms())),
        ]
        let first = runs[0]
        if runs.allSatisfy({ $0.side * $0.side == $0.config.model.inputSize && $0.config.model.inputSize == first.config.model.inputSize }) {
            let examples = RunAnalysis.exampleIndices(first.test)
            let originals = examples.map { first.test.floats($0..<($0 + 1)) }
            out.append(Figure(file: "reconstructions.png", title: "The same test images reconstructed by each run",
                              caption: "Top row: one test image per class; then one row per run, in the order "
                                  + runs.map(\.name).joined(separator: ", ") + ".",
                              content: .png(RunFigures.reconstructionGrid(originals: originals,
                                                                          reconstructions: runs.map { run in originals.map(run.model.reconstruct) },
                                                                          side: first.side))))
        }
        return out
    }

    /// Writes the figures and `comparison.md` (metrics and per-class errors) into `directory`.
    @discardableResult
    /// Existing files of these names are replaced only with `force` (see `UserOutput`).
    package func write(to directory: String, force: Bool = false) throws -> [String] {
        let markdown = "# Comparison of " + runs.map(\.name).joined(separator: ", ") + "\n\n" + settings.split(separator: "\n").map { "- " + $0 }.joined(separator: "\n")
            + "\n\n```\n" + table
            + "\n```\n\nReconstruction error per class (\(wording.theSet)):\n\n```\n"
            + MetricsTable.renderByClass(runs.map { ($0.name, $0.metrics) }, classNames: runs[0].classNames) + "\n```\n"
        let files = figures.map { ($0.file, $0.bytes) } + [("comparison.md", Data(markdown.utf8))]
        try UserOutput.write(files, into: directory, force: force)
        return files.map { directory + "/" + $0.0 }
    }

    /// Every run's test code values in 50 bins over its own range.
    private func codeHistograms() -> String {
        RunFigures.codeHistogramPanels(runs.map { ($0.name, $0.codeHistogram(range: RunFigures.codeRange($0.codeRange))) })
    }

    private func stackedUnitActivations() -> String {
        let panels = runs.map { run in
            RunFigures.unitActivations(run.metrics.codes.unitMeans, penalty: run.config.model.penalty,
                                       title: "\(run.name): mean activation per code unit, penalty \(run.config.model.penalty.summaryText)")
        }
        return SVGChart.stack(panels, width: 760, panelHeight: 380)
    }
}
