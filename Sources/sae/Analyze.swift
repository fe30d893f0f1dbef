import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// Options shared by the commands that evaluate runs on the test set.
struct AnalysisOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Directory holding Fashion-MNIST (default: as for training).", valueName: "dir"))
    var data: String?

    @Option(help: "A code value counts as active when its magnitude exceeds this.")
    var threshold: Double = CodeStatistics.defaultThreshold

    @Flag(inversion: .prefixedNo, help: "Train a linear probe (logistic regression) on the codes and on raw pixels (labelled data only).")
    var probe = true

    /// Each run is evaluated on the data its config.json names (runs on the same data share one load).
    func analyses(_ paths: [String]) throws -> [RunAnalysis] {
        var loaded: [DataSettings: (data: RunData, pixelAccuracy: Double?)] = [:]
        return try paths.map { path in
            let run = RunDirectory(path: path)
            var settings = try run.loadConfig().data
            settings.trainLimit = nil
            if loaded[settings] == nil {
                let data = try settings.load(fashionMNIST: data, log: { printError($0) })
                let pixels = probe && data.train.isLabelled ? try LinearProbe.pixelAccuracy(train: data.train, test: data.test) : nil
                loaded[settings] = (data, pixels)
            }
            let (data, pixels) = loaded[settings]!
            return try RunAnalysis(run: run, test: data.test, threshold: threshold, probe: pixels.map { (data.train, $0) })
        }
    }
}

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure how sparse a run's code is, print the numbers and write its figures.",
        discussion: """
            On the test set: mean activation (overall and per unit), L0 (active units per image, \
            at the threshold and at 0.01 and 0.1), near-zero fraction, Hoyer and lifetime \
            sparsity, quiet and never-active units (and the dead latents training counted), and reconstruction BCE/MSE per class. They are \
            added to RUN/metrics.json; the figures go to RUN/figures/:
              unit_activation.svg      mean activation per unit (KL: dashed line at rho)
              code_histogram.svg       all code values, 50 bins, log-scale counts
              training_curves.svg      loss and val_loss per epoch
              reconstructions.png      one test image per class above its reconstruction
              unit_images.png          the decoder's image for each unit switched on alone
              first_layer_weights.png  first-layer weights as images (UFLDL-style tiles)
            Example:
              sae analyze runs/kl
            """)

    @Argument(help: "The run directory.") var runDirectory: String
    @OptionGroup var options: AnalysisOptions

    func run() throws {
        // Analyze writes into the run: it holds the run's lock from its first read to its last
        // write, so no training replaces the run (and no other analyze writes) in between.
        let run = RunDirectory(path: runDirectory), lockFile = run.path + "/" + DirectoryLock.fileName
        let hadLockFile = FileManager.default.fileExists(atPath: lockFile)
        if FileManager.default.fileExists(atPath: run.configPath) { try run.lock() }
        let analysis: RunAnalysis
        do {
            analysis = try options.analyses([runDirectory])[0]
        } catch {
            // A refused analysis leaves the directory as it was (a run made by hand has no lock file).
            if !hadLockFile { try? FileManager.default.removeItem(atPath: lockFile) }
            throw error
        }
        let files = try analysis.write()
        print(MetricsTable.describe(analysis.metrics, wording: analysis.wording))
        if analysis.test.isLabelled {
            print("\nReconstruction error per class:\n" + MetricsTable.renderByClass([(analysis.name, analysis.metrics)], classNames: analysis.classNames))
        }
        print("\nWrote \(analysis.directory.metricsPath) and \(files.count) figures in \(analysis.directory.path)/figures")
    }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare runs: per-unit activations, code histograms, reconstructions and metrics side by side.",
        discussion: """
            Writes into --out: unit_activation_comparison.svg (one panel per run), \
            code_histograms.svg (one panel per run, each over its own range), reconstructions.png (the same test images, one row per \
            run) and comparison.md (the metrics table and per-class errors), and prints the table.
            Example:
              sae compare runs/demo/l1 runs/demo/kl --out runs/demo/compare
            """)

    @Argument(help: "Run directories (two or more).") var runs: [String]
    @Option(help: ArgumentHelp("Directory to write the comparison into.", valueName: "dir")) var out: String
    @Flag(help: "Replace output files that exist (never a run's own files; a symlink's target, not the link; pipes and devices are written to).")
    var force = false
    @OptionGroup var options: AnalysisOptions

    func validate() throws {
        if runs.count < 2 { throw ValidationError("give at least two run directories to compare") }
    }

    func run() throws {
        let comparison = try Comparison(runs: options.analyses(runs))
        let files = try comparison.write(to: out, force: force)
        print(comparison.settings + "\n\n" + comparison.table)
        print("\nWrote \(files.count) files in \(out)")
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one self-contained report.html about one or more runs.",
        discussion: """
            The report holds each run's settings, metrics with a sentence on what each means, \
            training curves, sparsity figures, reconstructions and unit images, and (for several \
            runs) the comparison figures. Figures are embedded: it opens offline, without JavaScript.
            Example:
              sae report runs/demo/l1 runs/demo/kl --out runs/demo
            """)

    @Argument(help: "Run directories.") var runs: [String]
    @Option(help: ArgumentHelp("Directory to write report.html into.", valueName: "dir")) var out: String
    @Flag(help: "Replace output files that exist (never a run's own files; a symlink's target, not the link; pipes and devices are written to).")
    var force = false
    @OptionGroup var options: AnalysisOptions

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run directory") }
    }

    func run() throws {
        let path = try HTMLReport.write(runs: options.analyses(runs), to: out, force: force)
        print("Wrote \(path)")
    }
}
