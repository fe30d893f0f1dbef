import Foundation
import SparseAutoencoder

/// The metrics a person reads about a run: a label, how to format the value, and one sentence
/// saying what it means. Used by the tables `sae` prints and by the HTML report.
package struct MetricDescription: Sendable {
    package let label: String
    package let explanation: String
    package let value: @Sendable (RunMetrics) -> String
}

package enum MetricsTable {
    package static let catalogue: [MetricDescription] = [
        .init(label: "final loss", explanation: "Training objective (reconstruction loss + sparsity penalty) averaged over the last epoch.", value: { f4($0.finalLoss) }),
        .init(label: "final val_loss", explanation: "The same objective on the test set after the last epoch, as Keras reports it.", value: { $0.finalValLoss.map(f4) ?? "-" }),
        .init(label: "test BCE", explanation: "Binary cross-entropy between test samples and their reconstructions, per pixel (lower is better).", value: { $0.testBce.map(f4) ?? "-" }),
        .init(label: "test MSE", explanation: "Mean squared error between test samples and their reconstructions, per pixel (lower is better).", value: { f4($0.testMse) }),
        .init(label: "test FVU", explanation: "Fraction of variance unexplained: squared error over the test set's variance about its mean sample (0 = perfect, 1 = no better than the mean).", value: { $0.testFvu.map(f4) ?? "-" }),
        .init(label: "mean code activation", explanation: "Mean of all test code values; the tutorial's headline sparsity number.", value: { g4($0.codes.meanActivation) }),
        .init(label: "L0 (active units / image)", explanation: "How many code units are above the activity threshold for a typical test sample.", value: { f2($0.codes.l0) }),
        .init(label: "L0 at 0.01 / 0.1", explanation: "The same count with stricter thresholds: how many units are clearly on.", value: {
            "\(f2($0.codes.l0ByThreshold["0.01"] ?? .nan)) / \(f2($0.codes.l0ByThreshold["0.1"] ?? .nan))" }),
        .init(label: "near-zero fraction", explanation: "Fraction of all test code values at or below the activity threshold.", value: { f3($0.codes.nearZeroFraction) }),
        .init(label: "Hoyer sparsity", explanation: "Per image, 0 when all units are equally active and 1 when one unit carries the code; averaged over images.", value: { f3($0.codes.hoyerSparsity) }),
        .init(label: "lifetime sparsity", explanation: "Per unit, 0 when it responds equally to every image and 1 when it responds to very few (Treves-Rolls); averaged over units.", value: { f3($0.codes.lifetimeSparsity) }),
        .init(label: "dead units (mean < 1e-3)", explanation: "Units whose mean test activation is below 1e-3: effectively unused.", value: { "\($0.deadUnits) / \($0.codes.unitMeans.count)" }),
        .init(label: "dead latents (training)", explanation: "Units that fired on none of the last epoch's training samples (tracked during training; AuxK trains them).", value: { m in m.trainingDeadLatents.map { "\($0) / \(m.codes.unitMeans.count)" } ?? "-" }),
        .init(label: "never-active units", explanation: "Units that are not above the activity threshold on any test sample.", value: { "\($0.codes.neverActiveUnits) / \($0.codes.unitMeans.count)" }),
        .init(label: "linear probe accuracy", explanation: "Test accuracy of logistic regression from the codes to the labels: how much of the class a linear reader finds in the code.", value: { $0.probeAccuracy.map(pct) ?? "-" }),
        .init(label: "  same probe on pixels", explanation: "The same probe on the raw pixels: the baseline a code should match or beat.", value: { $0.pixelProbeAccuracy.map(pct) ?? "-" }),
        .init(label: "epochs", explanation: "Epochs trained.", value: { "\($0.epochs)" }),
        .init(label: "seconds per epoch", explanation: "Wall-clock time per epoch, training and validation.", value: { String(format: "%.2f", $0.secondsPerEpoch) }),
    ]

    /// The catalogue without the metrics that none of `runs` has (e.g. the probe before
    /// `sae analyze` ran it).
    package static func rows(for runs: [RunMetrics]) -> [MetricDescription] {
        catalogue.filter { metric in runs.contains { metric.value($0) != "-" } }
    }

    /// One column per run, one row per metric.
    package static func render(_ runs: [(name: String, metrics: RunMetrics)]) -> String {
        let catalogue = rows(for: runs.map(\.metrics))
        let labelWidth = catalogue.map(\.label.count).max()! + 2
        let values = catalogue.map { metric in runs.map { metric.value($0.metrics) } }
        let columnWidth = max(values.flatMap { $0 }.map(\.count).max() ?? 0, runs.map(\.name.count).max() ?? 0, 10) + 3
        var lines = [pad("", labelWidth) + runs.map { pad($0.name, columnWidth, left: true) }.joined()]
        for (metric, row) in zip(catalogue, values) {
            lines.append(pad(metric.label, labelWidth) + row.map { pad($0, columnWidth, left: true) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// One run's metrics with what each means.
    package static func describe(_ metrics: RunMetrics) -> String {
        let catalogue = rows(for: [metrics])
        let labelWidth = catalogue.map(\.label.count).max()! + 2
        let values = catalogue.map { $0.value(metrics) }
        let valueWidth = values.map(\.count).max()! + 3
        return zip(catalogue, values).map { metric, value in
            pad(metric.label, labelWidth) + pad(value, valueWidth) + metric.explanation
        }.joined(separator: "\n")
    }

    /// Per-class reconstruction errors of several runs, one column per run.
    package static func renderByClass(_ runs: [(name: String, metrics: RunMetrics)], classNames: [String]) -> String {
        let labelWidth = max(classNames.map(\.count).max() ?? 0, 10) + 2
        let columnWidth = max(17, (runs.map(\.name.count).max() ?? 0) + 12) + 2
        var lines = [pad("class", labelWidth) + runs.map { pad($0.name + " BCE / MSE", columnWidth, left: true) }.joined()]
        for (i, name) in classNames.enumerated() {
            lines.append(pad(name, labelWidth) + runs.map { run in
                let bce = run.metrics.testBceByClass.indices.contains(i) ? f4(run.metrics.testBceByClass[i]) : "-"
                let mse = run.metrics.testMseByClass.indices.contains(i) ? f4(run.metrics.testMseByClass[i]) : "-"
                return pad("\(bce) / \(mse)", columnWidth, left: true)
            }.joined())
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return left ? fill + s : s + fill
    }

    private static func f2(_ x: Double) -> String { String(format: "%.2f", x) }
    private static func f3(_ x: Double) -> String { String(format: "%.3f", x) }
    private static func f4(_ x: Double) -> String { String(format: "%.4f", x) }
    private static func g4(_ x: Double) -> String { String(format: "%.4g", x) }
    private static func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
}
