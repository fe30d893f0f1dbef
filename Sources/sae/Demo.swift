import ArgumentParser
import SparseAutoencoder
import SparseAutoencoderToolkit

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the tutorial's two models (L1 and KL), compare them and write a report.",
        discussion: """
            Writes OUT/l1 and OUT/kl (replacing earlier demo runs there, and only sae's files in \
            them) with their figures, the comparison in OUT/compare, and OUT/report.html; prints \
            the metrics side by side. Files of other origin in the way are refused without --force.
            """)

    @Option(help: ArgumentHelp("Directory for the two runs.", valueName: "dir"))
    var out = "runs/demo"

    @Flag(help: "Replace report.html and compare/ files in OUT even when OUT holds no earlier demo.")
    var force = false

    @OptionGroup(title: "Training") var rate: LearningRateOption
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions

    func run() throws {
        guard dataOptions.dataNpy.isEmpty else { throw ValidationError("the demo trains the tutorial's Fashion-MNIST models; use `sae train --data-npy` for vectors") }
        let data = try dataOptions.load()
        let settings = try training.settings(learningRate: rate.learningRate)
        // An earlier demo's report and comparison are its own to replace.
        let replaces = force || (try? RunDirectory(path: out + "/l1").loadConfig()) != nil
        var analyses: [RunAnalysis] = []
        for (name, penalty) in [("l1", ActivityPenalty.l1(lambda: 1e-5)), ("kl", .kl(rho: 0.05, beta: 3))] {
            let config = RunConfig(model: .tutorial(penalty), training: settings,
                                   data: DataSettings(trainLimit: dataOptions.trainLimit))
            try reportingInterruption {
                try Run.train(config, data: data, out: out + "/" + name, force: true, shouldStop: stopRequested, events: RunPrinter(summary: name == "l1").handle)
            }
            let analysis = try RunAnalysis(run: RunDirectory(path: out + "/" + name), test: data.test)
            try analysis.write()
            analyses.append(analysis)
        }
        let comparison = try Comparison(runs: analyses)
        try comparison.write(to: out + "/compare", force: replaces)
        let report = try HTMLReport.write(runs: analyses, to: out, force: replaces)
        print("\n" + comparison.table)
        print("\nFigures: \(out)/l1/figures, \(out)/kl/figures, \(out)/compare")
        print("Report: \(report)")
    }
}
