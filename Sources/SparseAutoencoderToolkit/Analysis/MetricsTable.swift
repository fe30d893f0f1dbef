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
    /// Every metric, in the words of the runs it describes (`RunWording`).
    package static func catalogue(_ w: RunWording) -> [MetricDescription] {
        let set = w.evaluationSet, objective = w.hasPenalty ? "reconstruction loss + sparsity penalty" : "reconstruction loss"
        return [
            .init(label: "final loss", explanation: "Training objective (\(objective)) averaged over the last epoch.", value: { f4($0.finalLoss) }),
            .init(label: "final val_loss", explanation: "The same objective on \(w.theSet) after the last epoch\(w.isTutorial ? ", as Keras reports it" : "").",
                  value: { $0.finalValLoss.map(f4) ?? "-" }),
            .init(label: "\(set) BCE", explanation: "Binary cross-entropy between \(set) \(w.samples) and their reconstructions, per \(w.element) (lower is better).",
                  value: { $0.testBce.map(f4) ?? "-" }),
            .init(label: "\(set) MSE", explanation: "Mean squared error between \(set) \(w.samples) and their reconstructions, per \(w.element) (lower is better).",
                  value: { f4($0.testMse) }),
            .init(label: "\(set) FVU", explanation: "Fraction of variance unexplained: squared error over \(w.theSet)'s variance about its mean \(w.sample) (0 = perfect, 1 = no better than the mean).",
                  value: { $0.testFvu.map(f4) ?? "-" }),
            .init(label: "mean code activation", explanation: "Mean of all \(set) code values" + (w.isTutorial ? "; the tutorial's headline sparsity number." : "."),
                  value: { g4($0.codes.meanActivation) }),
            .init(label: "L0 (active \(w.units) / \(w.sample))", explanation: "How many \(w.units) are above the activity threshold for a typical \(set) \(w.sample).",
                  value: { f2($0.codes.l0) }),
            .init(label: "L0 at 0.01 / 0.1", explanation: "The same count with stricter thresholds: how many \(w.units) are clearly on.", value: {
                "\(f2($0.codes.l0ByThreshold["0.01"] ?? .nan)) / \(f2($0.codes.l0ByThreshold["0.1"] ?? .nan))" }),
            .init(label: "near-zero fraction", explanation: "Fraction of all \(set) code values at or below the activity threshold.", value: { f3($0.codes.nearZeroFraction) }),
            .init(label: "Hoyer sparsity", explanation: "Per \(w.sample), 0 when all \(w.units) are equally active and 1 when one \(w.unit) carries the code; averaged over \(w.samples).",
                  value: { f3($0.codes.hoyerSparsity) }),
            .init(label: "lifetime sparsity", explanation: "Per \(w.unit), 0 when it responds equally to every \(w.sample) and 1 when it responds to very few (Treves-Rolls); averaged over \(w.units).",
                  value: { f3($0.codes.lifetimeSparsity) }),
            .init(label: "dead \(w.units)", explanation: "\(w.Units) that fired on none of the last N training samples (N: --dead-after, default one epoch's worth): "
                    + "n/a until N samples have been trained. AuxK trains them.", value: deadLatents),
            .init(label: "quiet \(w.units) (mean < 1e-3)", explanation: "\(w.Units) whose mean \(set) activation is below 1e-3: nearly unused, though they may still fire.",
                  value: { "\($0.quietUnits) / \($0.codes.unitMeans.count)" }),
            .init(label: "never active on \(set)", explanation: "\(w.Units) above the activity threshold on no \(set) \(w.sample).",
                  value: { "\($0.codes.neverActiveUnits) / \($0.codes.unitMeans.count)" }),
            .init(label: "linear probe accuracy", explanation: "\(set.prefix(1).uppercased() + set.dropFirst()) accuracy of logistic regression from the codes to the labels: how much of the class a linear reader finds in the code.",
                  value: { $0.probeAccuracy.map(pct) ?? "-" }),
            .init(label: "  same probe on \(w.element)s", explanation: "The same probe on the raw \(w.element)s: the baseline a code should match or beat.",
                  value: { $0.pixelProbeAccuracy.map(pct) ?? "-" }),
            .init(label: "epochs", explanation: "Epochs trained.", value: { "\($0.epochs)" }),
            .init(label: "seconds per epoch", explanation: "Wall-clock time per epoch, training and validation.", value: { String(format: "%.2f", $0.secondsPerEpoch) }),
        ]
    }

    /// "3 / 64 (window 60000 samples)", "n/a (window of 60000 samples not yet trained)", or "-"
    /// where nothing was tracked.
    package static func deadLatents(_ m: RunMetrics) -> String {
        let total = m.codes.unitMeans.count
        let window = m.deadWindow.map { " (window \($0) samples)" } ?? ""
        if let dead = m.deadLatents { return "\(dead) / \(total)" + window }
        return m.deadWindow.map { "n/a (fewer than \($0) samples trained)" } ?? "-"
    }

    /// The catalogue without the metrics that none of `runs` has (e.g. the probe before
    /// `sae analyze` ran it).
    package static func rows(for runs: [RunMetrics], wording: RunWording) -> [MetricDescription] {
        catalogue(wording).filter { metric in runs.contains { metric.value($0) != "-" } }
    }

    /// One column per run, one row per metric.
    package static func render(_ runs: [(name: String, metrics: RunMetrics)], wording: RunWording) -> String {
        let catalogue = rows(for: runs.map(\.metrics), wording: wording)
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
    package static func describe(_ metrics: RunMetrics, wording: RunWording) -> String {
        let catalogue = rows(for: [metrics], wording: wording)
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
