import Foundation
import SparseAutoencoder

/// A grid of penalty settings trained one run each, and how to choose among them: the runs
/// that no other run beats on both reconstruction (test BCE) and sparsity (the Pareto front),
/// drawn as charts, and a recommended setting.
///
///     let settings = Sweep.grid(lambdas: [1e-6, 1e-5, 1e-4, 1e-3])
///     // ... train each into OUT/<setting.name>, analyse ...
///     let sweep = Sweep(runs: analyses)
///     try sweep.write(to: "runs/sweep")
package struct Sweep {
    package struct Setting: Equatable, Sendable {
        /// A directory-safe name, e.g. "l1_1e-05" or "kl_rho0.05_beta3".
        package var name: String
        package var penalty: ActivityPenalty
        package var codeSize: Int
        /// A topk code keeping this many units (no penalty), or nil for the penalty's usual code.
        package var topK: Int? = nil
        /// A dictionary SAE's architecture and its setting (nil: the tutorial's model).
        package var dictionary: DictionarySetting? = nil
        /// Adam's learning rate for this setting (nil: the sweep's training settings').
        package var learningRate: Float? = nil
    }

    /// The code sizes of an architecture sweep: numbers of latents (`--code`), or expansion
    /// factors (`--expansion`, SAELens's expansion_factor: latents = factor x the input width).
    package enum CodeSizes: Equatable, Sendable {
        case latents([Int])
        case expansion([Int])
    }

    /// One dictionary SAE of an architecture sweep: which architecture (by its sweep name), and
    /// the one number swept.
    package struct DictionarySetting: Equatable, Sendable {
        package var architecture: String
        /// k (TopK, BatchTopK, Matryoshka), the target L0 (JumpReLU), λ (the gates' L1, an L1 dictionary's).
        package var value: Double
        /// The sweep's lists, which an architecture may read besides its value (Matryoshka's `groups`).
        package var lists: [String: [Double]] = [:]
    }

    /// The architectures an architecture sweep knows, by the names `sae sweep --architecture` takes.
    package static var sweptArchitectures: [String] { AutoencoderConfig.sweptArchitectures }

    /// Every architecture (by `sweptArchitectures` name) at every value of its list in `lists`
    /// (`ArchitectureSweep.list`: "k" for TopK, BatchTopK and Matryoshka, and as JumpReLU's target
    /// L0, "gate-l1" for Gated's gates, "l1" for the standard (L1) SAE, whose λ weighs the code's
    /// L1 per sample, as the tutorial's does: not divided by d as Gated's is); crossed with each
    /// code size (`codeSizes`, on inputs `inputSize` wide) and each of `learningRates` (none: the
    /// sweep's own). A name says the architecture's value, then the learning rate and the code size
    /// where more than one is swept: "topk_k32", "topk_k32_lr3e-4_x8", "gated_l10.3_code4096".
    package static func dictionaryGrid(architectures: [String], lists: [String: [Double]],
                                       codeSizes: CodeSizes, inputSize: Int, learningRates: [Float] = []) throws -> [Setting] {
        try architectures.forEach(checkArchitecture)
        let sizes: [(latents: Int, suffix: String)]
        switch codeSizes {
        case .latents(let counts):
            sizes = counts.map { ($0, counts.count > 1 ? "_code\($0)" : "") }
        case .expansion(let factors):
            sizes = try factors.map { factor in
                let (latents, overflow) = factor.multipliedReportingOverflow(by: inputSize)
                guard factor > 0, !overflow else { throw SAEError.badSetting("--expansion", "\(factor) x the input width (\(inputSize)) is no number of latents") }
                return (latents, factors.count > 1 ? "_x\(factor)" : "")
            }
        }
        let architectureSettings = architectures.flatMap { name -> [(name: String, setting: DictionarySetting, penalty: ActivityPenalty)] in
            // "standard" (checked above) is the relu dictionary with the L1 penalty.
            let sweep = AutoencoderConfig.sweep(of: name)
            let (list, label) = sweep.map { ($0.list, $0.label) } ?? ("l1", "l1")
            return (lists[list] ?? []).map { v in
                let shown = list == "k" ? "\(Int(v))" : "\(Float(v))"
                return ("\(name)_\(label)\(shown)", DictionarySetting(architecture: name, value: v, lists: lists),
                        sweep == nil ? .l1(lambda: Float(v)) : .none)
            }
        }
        return sizes.flatMap { size in
            learningRateAxis(learningRates).flatMap { rate in
                architectureSettings.map { a in
                    Setting(name: a.name + rate.suffix + size.suffix, penalty: a.penalty, codeSize: size.latents,
                            dictionary: a.setting, learningRate: rate.rate)
                }
            }
        }
    }

    /// Refuses a name that is not one of `sweptArchitectures` (before any data is read).
    package static func checkArchitecture(_ name: String) throws {
        guard sweptArchitectures.contains(name) else {
            throw SAEError.badSetting("--architecture", "an architecture sweep takes \(sweptArchitectures.joined(separator: ", ")), got '\(name)'")
        }
    }

    /// Every combination: L1 strengths, (rho, beta) pairs and TopK k's, plus a run without
    /// penalty as the baseline, at each of `learningRates` (none: the sweep's own) and code size.
    /// The learning rate and the code size join the name only when more than one is swept, so a
    /// sweep without them keeps its names (and finds its runs again): "topk_k8",
    /// "topk_k8_lr3e-4_code32".
    package static func grid(lambdas: [Float] = [], rhos: [Float] = [], betas: [Float] = [], ks: [Int] = [],
                            codeSizes: [Int] = [64], learningRates: [Float] = []) -> [Setting] {
        var bottlenecks: [(name: String, penalty: ActivityPenalty, k: Int?)] = lambdas.map { ("l1_\($0)", .l1(lambda: $0), nil) }
        for rho in rhos { for beta in betas { bottlenecks.append(("kl_rho\(rho)_beta\(beta)", .kl(rho: rho, beta: beta), nil)) } }
        bottlenecks += ks.map { ("topk_k\($0)", .none, $0) }
        bottlenecks.append(("none", .none, nil))
        return codeSizes.flatMap { code in
            learningRateAxis(learningRates).flatMap { rate in
                bottlenecks.map { b in
                    Setting(name: b.name + rate.suffix + (codeSizes.count > 1 ? "_code\(code)" : ""), penalty: b.penalty, codeSize: code,
                            topK: b.k, learningRate: rate.rate)
                }
            }
        }
    }

    /// The learning rates a grid trains at, each with its part of a setting's name: "_lr3e-4"
    /// when several are swept, nothing for one; no rates: the sweep's own (nil), unnamed.
    private static func learningRateAxis(_ rates: [Float]) -> [(rate: Float?, suffix: String)] {
        rates.isEmpty ? [(nil, "")] : rates.map { ($0, rates.count > 1 ? "_lr" + compact($0) : "") }
    }

    /// A number as a setting's name says it: the shortest "3e-4" (mantissa e exponent) that reads
    /// back as the same Float, so that two different rates never share a name.
    package static func compact(_ value: Float) -> String {
        var text = ""
        for digits in 0...8 {
            text = String(format: "%.\(digits)e", Double(value))
            if Float(text) == value { break }
        }
        // printf's "3e-04" or "1e+00": the exponent without its sign's "+" and leading zeros.
        let parts = text.split(separator: "e")
        guard parts.count == 2, let exponent = Int(parts[1]) else { return text }
        return "\(parts[0])e\(exponent)"
    }

    package let runs: [RunAnalysis]

    package init(runs: [RunAnalysis]) { self.runs = runs }

    /// Indices of the points that no other point beats on both coordinates (both minimised).
    package static func paretoFront(_ points: [(x: Double, y: Double)]) -> [Int] {
        points.indices.filter { i in
            !points.indices.contains { j in
                j != i && points[j].x <= points[i].x && points[j].y <= points[i].y
                    && (points[j].x < points[i].x || points[j].y < points[i].y)
            }
        }.sorted { points[$0].x < points[$1].x }
    }

    /// Whether a run of the sweep is sparse by construction (a penalty, a TopK code or an
    /// architecture that selects its code): the runs a recommendation chooses among. The others
    /// are the no-penalty baselines, there to compare with.
    static func isSparse(_ model: AutoencoderConfig) -> Bool {
        model.penalty != .none || model.codeActivation == .topk || model.architecture.selectsItsCode
    }

    /// The rule a sweep recommends by, on each run's (whether it is sparse, L0, test error): among
    /// the sparse runs, the one with the fewest active units (L0; a tie goes to the lower error)
    /// whose error is within `tolerance` (relative) of the lowest error of all the runs, the
    /// no-penalty baseline's included; nil if none is (or there is no sparse run). The baseline
    /// sets the bar because it is what sparsity costs against: measured among the sparse runs
    /// alone, "within 2%" would be within 2% of whichever setting happened to be the weakest
    /// tried, and a sweep of settings all too strong would still recommend one. A sweep without a
    /// baseline (an architecture sweep) is measured against its best sparse run.
    package static func pick(_ runs: [(sparse: Bool, l0: Double, error: Double)], tolerance: Double) -> Int? {
        guard let best = runs.map(\.error).min() else { return nil }
        return runs.indices.filter { runs[$0].sparse && runs[$0].error <= best * (1 + tolerance) }
            .min { (runs[$0].l0, runs[$0].error) < (runs[$1].l0, runs[$1].error) }
    }

    /// The recommended setting (`pick`; nil when none qualifies) and why, in a sentence: the
    /// bar it met and, against the baseline, what it costs; or why there is none.
    package func recommendation(tolerance: Double = 0.02) -> (index: Int?, reason: String) {
        guard !runs.isEmpty else { return (nil, "No recommendation: the sweep is empty.") }
        let sparse = runs.map { Self.isSparse($0.config.model) }
        guard sparse.contains(true) else { return (nil, "No recommendation: the sweep has no sparse setting, only the baseline without penalty.") }
        let l0 = { (i: Int) in self.runs[i].metrics.codes.l0 }, error = { (i: Int) in self.runs[i].metrics.reconstructionError }
        let unit = { (i: Int) in self.runs[i].config.model.isDictionary ? "latents per vector" : "units per image" }
        let bestIndex = runs.indices.min { error($0) < error($1) }!
        let bar = String(format: "the sweep's best, %@ (%.4f)", runs[bestIndex].name, error(bestIndex))
        guard let pick = Self.pick(runs.indices.map { (sparse[$0], l0($0), error($0)) }, tolerance: tolerance) else {
            let closest = runs.indices.filter { sparse[$0] }.min { error($0) < error($1) }!
            return (nil, String(format: "No recommendation: no sparse setting's test %@ is within %.0f%% of %@; the closest, %@ (%.1f active %@), is %+.1f%%: weaker settings may get within %.0f%%.",
                                errorName, tolerance * 100, bar, runs[closest].name, l0(closest), unit(closest),
                                100 * (error(closest) / error(bestIndex) - 1), tolerance * 100))
        }
        var reason = String(format: "%@ is the sparsest setting (%.1f active %@, mean activation %.3g) whose test %@ (%.4f) is within %.0f%% of %@: sparser settings cost more reconstruction than that.",
                            runs[pick].name, l0(pick), unit(pick), runs[pick].metrics.codes.meanActivation, errorName, error(pick),
                            tolerance * 100, bar)
        // The baseline of the pick's code size and learning rate (a sweep over either has one per value).
        let baselines = runs.indices.filter { !sparse[$0] }
        let sameSize = { (i: Int) in self.runs[i].config.model.codeSize == self.runs[pick].config.model.codeSize }
        let sameRate = { (i: Int) in self.runs[i].config.training.optimizer.learningRate == self.runs[pick].config.training.optimizer.learningRate }
        if let baseline = baselines.first(where: { sameSize($0) && sameRate($0) }) ?? baselines.first(where: sameSize) ?? baselines.first {
            reason += String(format: " Against no penalty (%.1f active units, test %@ %.4f) it costs %+.1f%% %@.",
                             l0(baseline), errorName, error(baseline), 100 * (error(pick) / error(baseline) - 1), errorName)
        }
        return (pick, reason)
    }

    /// The recommendation as sweep.md, sweep.html and `sae sweep` print it.
    package var advice: String {
        let (index, reason) = recommendation()
        return index == nil ? reason : "Recommended: " + reason
    }

    /// BCE, or MSE for dictionary SAEs (whose outputs are not probabilities).
    var errorName: String { runs.first?.metrics.reconstructionErrorName ?? "BCE" }

    /// Test BCE (or MSE) against a sparsity measure, each point labelled, the Pareto front joined.
    package func paretoChart(sparsity: KeyPath<RunMetrics, Double>, label: String, title: String) -> String {
        let points = runs.map { (x: $0.metrics[keyPath: sparsity], y: $0.metrics.reconstructionError) }
        let xs = points.map(\.x), ys = points.map(\.y)
        let xPad = max((xs.max()! - xs.min()!) * 0.1, 1e-3), yPad = max((ys.max()! - ys.min()!) * 0.15, 1e-4)
        var chart = SVGChart(title: title, x: .init(label: label, range: (xs.min()! - xPad)...(xs.max()! + xPad)),
                             y: .init(label: "\(RunWording(runs.map(\.config)).evaluationSet) \(errorName) (lower is better)", range: (ys.min()! - yPad)...(ys.max()! + yPad)))
        let families = runs.map { Self.family($0.config.model) }
        if Set(families).count > 1 {
            // An architecture sweep: one line per architecture through its settings, as SAE papers
            // compare them, in the architecture's colour; where learning rates or code sizes are
            // swept, one such line per rate and size, labelled at its last point ("lr 3e-4 x8").
            var seen: [String] = []
            for family in families where !seen.contains(family) { seen.append(family) }
            let swept = runs.indices.map { sweptValues(of: $0).joined(separator: " ") }
            for (series, family) in seen.enumerated() {
                var lines: [String] = []
                for i in runs.indices where families[i] == family && !lines.contains(swept[i]) { lines.append(swept[i]) }
                for (n, values) in lines.enumerated() {
                    let mine = runs.indices.filter { families[$0] == family && swept[$0] == values }.sorted { xs[$0] < xs[$1] }
                    chart.line(mine.map { xs[$0] }, mine.map { ys[$0] }, series: series, label: n == 0 ? family : nil, markers: true)
                    if !values.isEmpty, let last = mine.last { chart.points([xs[last]], [ys[last]], labels: [values], series: series) }
                }
            }
            return chart.svg
        }
        let front = Self.paretoFront(points)
        chart.line(front.map { xs[$0] }, front.map { ys[$0] }, series: 1, label: "Pareto front", dashed: true)
        chart.points(xs, ys, labels: runs.map(\.name), series: 0)
        return chart.svg
    }

    /// A list of each run's figures (what `RunAnalysis.write` put in RUN/figures), linked by
    /// paths relative to the sweep's directory so the page still works when the sweep is moved
    /// or copied whole. Only files that exist are linked.
    func figureLinks(from directory: String) -> String {
        let items = runs.map { run -> String in
            let folder = run.directory.path + "/figures"
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
            let base = Self.relativePath(of: folder, from: directory)
            let links = files.map { file -> String in
                let href = (base + "/" + file).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? file
                return "<a href=\"\(HTMLPage.escape(href))\">\(HTMLPage.escape(file))</a>"
            }
            return "<li>\(HTMLPage.escape(run.name)): " + (links.isEmpty ? "no figures" : links.joined(separator: ", ")) + "</li>"
        }
        return "<h2>Each run's figures</h2>\n<ul>\n" + items.joined(separator: "\n") + "\n</ul>"
    }

    /// `path` relative to the directory `base` ("l1_1e-05/figures", or "../other/figures").
    static func relativePath(of path: String, from base: String) -> String {
        let target = URL(fileURLWithPath: path).standardizedFileURL.pathComponents
        let start = URL(fileURLWithPath: base).standardizedFileURL.pathComponents
        var shared = 0
        while shared < min(target.count, start.count) && target[shared] == start[shared] { shared += 1 }
        let parts = Array(repeating: "..", count: start.count - shared) + target[shared...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }

    /// The architecture a run belongs to, as an architecture sweep names it.
    static func family(_ model: AutoencoderConfig) -> String {
        model.isDictionary ? model.architectureName : "autoencoder"
    }

    /// Whether the runs were trained at more than one learning rate, and at more than one code size.
    var sweepsLearningRate: Bool { Set(runs.map(\.config.training.optimizer.learningRate)).count > 1 }
    var sweepsCodeSize: Bool { Set(runs.map(\.config.model.codeSize)).count > 1 }

    /// A dictionary's expansion factor (latents / input width) when it is a whole one; nil for
    /// the tutorial's models, whose code sits behind hidden layers.
    static func expansion(_ model: AutoencoderConfig) -> Int? {
        model.isDictionary && model.codeSize % model.inputSize == 0 ? model.codeSize / model.inputSize : nil
    }

    /// Run `i`'s learning rate and code size as labels say them ("lr 3e-4", "x8", or "code 4096"
    /// for a size that is no whole expansion factor), each only when the sweep varies it.
    func sweptValues(of i: Int) -> [String] {
        let config = runs[i].config
        return (sweepsLearningRate ? ["lr " + Self.compact(config.training.optimizer.learningRate)] : [])
            + (sweepsCodeSize ? [Self.expansion(config.model).map { "x\($0)" } ?? "code \(config.model.codeSize)"] : [])
    }

    /// The table: one row per run, with its learning rate and code size (and expansion factor,
    /// when every run has a whole one) where the sweep varies them.
    package var table: String {
        let front = Set(Self.paretoFront(runs.map { (x: $0.metrics.codes.l0, y: $0.metrics.reconstructionError) }))
        let set = RunWording(runs.map(\.config)).evaluationSet
        let showsExpansion = sweepsCodeSize && runs.allSatisfy { Self.expansion($0.config.model) != nil }
        let axes = (sweepsLearningRate ? ["learning rate"] : []) + (sweepsCodeSize ? ["code"] : []) + (showsExpansion ? ["expansion"] : [])
        let header = ["setting"] + axes + ["\(set) BCE", "\(set) MSE", "\(set) FVU", "L0", "mean act.", "Hoyer", "dead", "probe acc.", "on front"]
        let rows = runs.enumerated().map { i, run -> [String] in
            let m = run.metrics, model = run.config.model
            let values = (sweepsLearningRate ? [Self.compact(run.config.training.optimizer.learningRate)] : [])
                + (sweepsCodeSize ? ["\(model.codeSize)"] : []) + (showsExpansion ? ["x\(Self.expansion(model)!)"] : [])
            return [run.name] + values + [m.testBce.map { String(format: "%.4f", $0) } ?? "-", String(format: "%.4f", m.testMse),
                    m.testFvu.map { String(format: "%.4f", $0) } ?? "-", String(format: "%.2f", m.codes.l0),
                    String(format: "%.4g", m.codes.meanActivation), String(format: "%.3f", m.codes.hoyerSparsity), m.deadLatents.map(String.init) ?? "n/a",
                    m.probeAccuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "-", front.contains(i) ? "yes" : ""]
        }
        let widths = header.indices.map { c in max(header[c].count, rows.map { $0[c].count }.max() ?? 0) + 2 }
        return ([header] + rows).map { row in
            row.enumerated().map { c, v in c == 0 ? MetricsTable.pad(v, widths[c]) : MetricsTable.pad(v, widths[c], left: true) }.joined()
        }.joined(separator: "\n")
    }

    /// The report's files, and the marker that says a sweep wrote them (so a rerun may replace them).
    package static let reportFiles = ["pareto_l0.svg", "pareto_mean_activation.svg", "sweep.md", "sweep.html"]
    package static let marker = ".sae-sweep"

    /// Before a sweep trains anything: refuses a directory holding files of the report's names
    /// that no sweep wrote (a user's own), unless `force`; then makes the directory and locks it
    /// for the sweep (one sweep per directory at a time).
    package static func prepare(_ directory: String, force: Bool) throws {
        let fm = FileManager.default
        if !force && !fm.fileExists(atPath: directory + "/" + marker) {
            if let theirs = reportFiles.first(where: { fm.fileExists(atPath: directory + "/" + $0) }) {
                throw SAEError("\(directory)/\(theirs) exists and was not written by a sweep; pass --force to replace it, or choose another --out")
            }
        }
        try UserOutput.makeDirectory(directory)
        try DirectoryLock(directory: directory).lock()
    }

    /// Writes pareto_l0.svg, pareto_mean_activation.svg, sweep.md and sweep.html into `directory`
    /// (after `prepare`), and the marker.
    @discardableResult
    package func write(to directory: String) throws -> [String] {
        try UserOutput.makeDirectory(directory)
        try DirectoryLock(directory: directory).lock()
        try AtomicFile.write("written by sae sweep: \(Self.reportFiles.joined(separator: ", "))\n", to: directory + "/" + Self.marker)
        let charts = [
            ("pareto_l0.svg", paretoChart(sparsity: \.codes.l0, label: runs.first?.config.model.isDictionary == true
                                            ? "L0: active latents per validation vector (fewer = sparser)" : "L0: active units per test image (fewer = sparser)",
                                          title: "Reconstruction against sparsity (L0)")),
            ("pareto_mean_activation.svg", paretoChart(sparsity: \.codes.meanActivation, label: "mean code activation", title: "Reconstruction against mean activation")),
        ]
        for (file, svg) in charts { try AtomicFile.write(svg, to: directory + "/" + file) }
        let advice = self.advice
        let baseline = runs.compactMap(\.metrics.pixelProbeAccuracy).first.map { String(format: "The same linear probe on raw pixels scores %.1f%%.", $0 * 100) } ?? ""
        let markdown = "# Sweep\n\n```\n\(table)\n```\n\n\(advice)\n\n\(baseline)\n\nCharts: pareto_l0.svg, pareto_mean_activation.svg. "
            + "A run is on the Pareto front when no other run has both a lower test \(errorName) and a lower L0.\n"
        try AtomicFile.write(markdown, to: directory + "/sweep.md")
        let html = HTMLPage.render(title: "sae sweep", body: """
            <h1>Sweep: \(runs.count) runs</h1><p>\(HTMLPage.escape(advice))</p><p>\(HTMLPage.escape(baseline))</p>
            <pre>\(HTMLPage.escape(table))</pre>
            <p>A run is on the Pareto front when no other run has both a lower test \(errorName) and a lower L0 (active units per image).</p>
            \(charts.map { $0.1 }.joined(separator: "\n"))
            \(figureLinks(from: directory))
            """)
        try AtomicFile.write(html, to: directory + "/sweep.html")
        return charts.map { directory + "/" + $0.0 } + [directory + "/sweep.md", directory + "/sweep.html"]
    }
}
