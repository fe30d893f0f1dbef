import Foundation
import SparseAutoencoder

/// One self-contained `report.html` for one or more runs: settings, metrics with what each one
/// means, training curves, sparsity figures, reconstructions and unit images. Charts are inline
/// SVG and images are base64 PNG, so it opens offline and needs no JavaScript.
///
///     let path = try HTMLReport.write(runs: [l1, kl], to: "runs/demo")
package enum HTMLReport {
    @discardableResult
    /// An existing report.html is replaced only with `force` (see `UserOutput`).
    package static func write(runs: [RunAnalysis], to directory: String, force: Bool = false) throws -> String {
        let html = try render(runs: runs)
        try UserOutput.write([("report.html", Data(html.utf8))], into: directory, force: force)
        return directory + "/report.html"
    }

    package static func render(runs: [RunAnalysis]) throws -> String {
        let comparison = try Comparison(runs: runs)
        let names = runs.map(\.name).joined(separator: ", ")
        var body = "<h1>Sparse autoencoders: \(escape(names))</h1>\n"
        body += "<p class=\"lead\">" + lead(runs, comparison.wording) + "</p>\n"
        body += "<nav><a href=\"#metrics\">Metrics</a>" + (runs.count > 1 ? " · <a href=\"#comparison\">Comparison</a>" : "")
            + runs.enumerated().map { " · <a href=\"#run-\($0.offset)\">\(escape($0.element.name))</a>" }.joined() + "</nav>\n"

        body += "<h2 id=\"metrics\">Metrics</h2>\n<table><tr><th>metric</th>" + runs.map { "<th>\(escape($0.name))</th>" }.joined() + "<th>what it means</th></tr>\n"
        for metric in MetricsTable.rows(for: runs.map(\.metrics), wording: comparison.wording) {
            body += "<tr><td>\(escape(metric.label))</td>" + runs.map { "<td class=\"num\">\(escape(metric.value($0.metrics)))</td>" }.joined()
                + "<td class=\"why\">\(escape(metric.explanation))</td></tr>\n"
        }
        body += "</table>\n<p class=\"note\">A code value counts as active above \(runs[0].metrics.codes.threshold).</p>\n"

        if runs.count > 1 {
            body += "<h2 id=\"comparison\">Comparison</h2>\n" + comparison.figures.map(figure).joined()
        }
        for (i, run) in runs.enumerated() {
            body += "<h2 id=\"run-\(i)\">\(escape(run.name))</h2>\n" + settings(run) + evaluation(run)
            body += run.figures.map(figure).joined()
            body += classTable(run)
        }
        let footer = "<footer>Written by sae on \(ISO8601DateFormatter().string(from: Date())).</footer>"
        return HTMLPage.render(title: "sae report: " + names, body: body + "\n" + footer)
    }

    /// What the runs are and what the numbers are measured on, in the runs' own words.
    private static func lead(_ runs: [RunAnalysis], _ w: RunWording) -> String {
        func sizes(_ size: (RunAnalysis) -> Int) -> String {
            var seen: [Int] = []
            for run in runs where !seen.contains(size(run)) { seen.append(size(run)) }
            return seen.map(String.init).joined(separator: "/")
        }
        let sparse = runs.allSatisfy { !$0.config.model.hasSparsityPenalty } ? "a TopK selection keeps all but k of them at zero"
            : runs.allSatisfy({ $0.config.model.hasSparsityPenalty }) ? "a sparsity penalty keeps most of them near zero"
            : "a sparsity penalty or a TopK selection keeps most of them near zero"
        let decode = runs.allSatisfy { $0.config.model.isTranscoder } ? "predicts its target from it" : "decodes it back"
        return "Each model encodes a \(escape(sizes { $0.config.model.inputSize }))-value \(w.sample) into \(escape(sizes { $0.config.model.codeSize })) code \(w.units) "
            + "and \(decode); \(sparse) for any one \(w.sample). All numbers below are measured on each run's \(w.evaluationSet) \(w.samples) after training."
    }

    private static func settings(_ run: RunAnalysis) -> String {
        let m = run.config.model, t = run.config.training
        var rows: [(String, String)] = [
            ("run directory", run.directory.path),
            ("model", m.kindText),
            ("layers", ([m.inputSize] + m.hiddenSizes + [m.codeSize] + m.hiddenSizes.reversed() + [m.targetSize]).map(String.init).joined(separator: " → ")),
            ("code activation", m.codeActivation.rawValue + (m.topK.map { ", k \($0)" } ?? "")),
            ("sparsity penalty", m.hasSparsityPenalty ? m.penaltyDescription : "none (sparse by selection)"),
            ("reconstruction loss", m.loss.rawValue),
        ]
        if let auxK = m.auxK { rows.append(("AuxK", "k_aux \(auxK.k), coefficient \(auxK.coefficient)")) }
        if m.isDictionary { rows.append(("unit-norm decoder", m.unitNormDecoder ? "yes" : "no")) }
        rows += [
            ("epochs × batch size", "\(t.epochs) × \(t.batchSize)"),
            ("processes", t.ranks.map { "\($0) MPI ranks, " + (t.shardLatents == true ? "each holding 1/\($0) of the latents and every batch" : "each holding the model and 1/\($0) of every batch") } ?? "one"),
            ("optimizer", "Adam, learning rate \(t.optimizer.learningRate)"),
            ("schedule", t.schedule?.summaryText ?? "constant"),
            ("gradient clipping", t.maxGradientNorm.map { "to L2 norm \($0) (--max-grad-norm)" } ?? "none"),
            ("seed", String(t.seed)),
            ("training data", run.config.data.summaryText + (run.config.data.trainLimit.map { ", first \($0) samples" } ?? "")),
        ]
        if let scale = run.config.data.inputScale {
            rows.append(("activation normalisation", "inputs × \(scale)" + (run.config.data.targetScale.map { ", targets × \($0)" } ?? "")
                + " in training (mean norm √width); folded into the saved weights"))
        }
        if let window = run.history.last?.deadWindow { rows.append(("dead after", "\(window) training samples without firing")) }
        return "<table class=\"settings\">" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined() + "</table>\n"
    }

    /// The run's eval.json (`sae eval`), if it has one: its measures and the feature-density
    /// histogram.
    private static func evaluation(_ run: RunAnalysis) -> String {
        let path = run.directory.path + "/" + ModelFreeEvaluation.fileName
        guard FileManager.default.fileExists(atPath: path), let eval = try? JSONFile.read(ModelFreeEvaluation.self, from: path) else { return "" }
        let lines = eval.lines.map { line -> String in
            let label = String(line.prefix(21)).trimmingCharacters(in: .whitespaces), value = String(line.dropFirst(21))
            return "<tr><th>\(escape(label))</th><td>\(escape(value))</td></tr>"
        }
        var chart = SVGChart(title: "Feature density (sae eval)", x: .init(label: "log10 firing frequency", range: eval.densityEdges.first!...eval.densityEdges.last!),
                             y: .init(label: "latents", range: 0...Double(max(eval.densityCounts.max() ?? 1, 1)) * 1.1), height: 300)
        chart.histogram(edges: eval.densityEdges, counts: eval.densityCounts.map(Double.init), series: 0)
        return "<h3>Evaluation (sae eval)</h3>\n<table class=\"settings\">" + lines.joined() + "</table>\n"
            + figure(Figure(file: "feature_density.svg", title: "Feature density",
                            caption: "Live latents by log10 of the fraction of vectors they fire on (SAE-Vis's view); \(Int((eval.deadFraction * 100).rounded()))% of latents fire on none.",
                            content: .svg(chart.svg)))
    }

    private static func classTable(_ run: RunAnalysis) -> String {
        guard !run.metrics.testMseByClass.isEmpty else { return "" }
        let names = run.classNames
        var out = "<h3>Reconstruction error per class</h3>\n<table><tr><th>class</th><th>images</th><th>BCE</th><th>MSE</th></tr>\n"
        for i in run.metrics.testMseByClass.indices {
            let bce = run.metrics.testBceByClass.indices.contains(i) ? String(format: "%.4f", run.metrics.testBceByClass[i]) : "-"
            out += String(format: "<tr><td>%@</td><td class=\"num\">%d</td><td class=\"num\">%@</td><td class=\"num\">%.4f</td></tr>\n",
                          escape(names[i]), run.evaluation.classCounts[i], bce, run.metrics.testMseByClass[i])
        }
        return out + "</table>\n"
    }

    private static func figure(_ f: Figure) -> String {
        let content: String
        switch f.content {
        case .svg(let svg): content = svg
        case .png(let bytes): content = "<img alt=\"\(escape(f.title))\" src=\"data:image/png;base64,\(Data(bytes).base64EncodedString())\">"
        }
        return "<figure><h3>\(escape(f.title))</h3>\n\(content)\n<figcaption>\(escape(f.caption))</figcaption></figure>\n"
    }

    private static func escape(_ s: String) -> String { HTMLPage.escape(s) }
}
