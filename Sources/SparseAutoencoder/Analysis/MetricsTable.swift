import Foundation

/// A side-by-side table of runs' headline metrics, one column per run:
///
///                          l1          kl
///     final loss           0.2699      0.2790
///     ...
public enum MetricsTable {
    public static func render(_ runs: [(name: String, metrics: RunMetrics)]) -> String {
        let rows: [(String, (RunMetrics) -> String)] = [
            ("final loss", { f4($0.finalLoss) }),
            ("final val_loss", { $0.finalValLoss.map(f4) ?? "-" }),
            ("test BCE", { f4($0.testBce) }),
            ("test MSE", { f4($0.testMse) }),
            ("mean code activation", { String(format: "%.4g", $0.meanActivation) }),
            ("dead units (< 1e-3)", { "\($0.deadUnits) / \($0.unitMeanActivations.count)" }),
            ("epochs", { "\($0.epochs)" }),
            ("seconds per epoch", { String(format: "%.2f", $0.secondsPerEpoch) }),
        ]
        let labelWidth = rows.map(\.0.count).max()! + 2
        let columnWidth = max(12, runs.map(\.name.count).max() ?? 0) + 2
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, n - s.count))
            return left ? fill + s : s + fill
        }
        var lines = [pad("", labelWidth) + runs.map { pad($0.name, columnWidth, left: true) }.joined()]
        for (label, value) in rows {
            lines.append(pad(label, labelWidth) + runs.map { pad(value($0.metrics), columnWidth, left: true) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    private static func f4(_ x: Double) -> String { String(format: "%.4f", x) }
}
