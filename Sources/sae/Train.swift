import ArgumentParser
import SparseAutoencoder

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one sparse autoencoder on Fashion-MNIST and write its run directory.",
        discussion: """
            Defaults are the tutorial's: 784-128-64-128-784, Adam (lr 1e-3), 30 epochs, batches of \
            256, validation on the test set after every epoch. Examples:
              sae train --penalty l1 --out runs/l1
              sae train --penalty kl --rho 0.05 --beta 3 --out runs/kl
              sae train --penalty none --epochs 5 --train-limit 10000 --out runs/quick
            """)

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions

    @Option(help: ArgumentHelp("Run directory to write (default: runs/<penalty>).", valueName: "dir"))
    var out: String?

    @Flag(help: "Replace an existing run in --out.")
    var force = false

    @Flag(help: "Print the model summary before training.")
    var summary = false

    func run() throws {
        let config = RunConfig(model: try model.config(), training: try training.settings(),
                               data: DataSettings(trainLimit: dataOptions.trainLimit))
        try trainRun(config, dataOptions: dataOptions, out: out ?? "runs/\(model.penalty.rawValue)",
                     force: force, summary: summary)
    }
}

/// Loads the data, trains, writes the run; shared by `train` and `demo`.
@discardableResult
func trainRun(_ config: RunConfig, dataOptions: DataOptions, out: String, force: Bool, summary: Bool,
              data: (train: ImageSet, test: ImageSet, directory: String)? = nil) throws -> RunMetrics {
    let (train, test, dataDirectory) = try data ?? dataOptions.load()
    let directory = try RunDirectory.create(out, force: force)
    var config = config
    config.data.directory = dataDirectory
    if summary { print(config.model.summary) }
    print("Training \(config.model.penalty.summaryText) on \(min(train.count, config.data.trainLimit ?? .max)) images "
          + "(validating on \(test.count)) into \(directory.path)")
    let printer = ProgressPrinter()
    let metrics = try TrainingRun.run(config, train: train, test: test, into: directory, progress: printer.handle)
    print("Wrote \(directory.path): test MSE \(String(format: "%.4f", metrics.testMse)), "
          + "mean code activation \(String(format: "%.4g", metrics.meanActivation)), "
          + "\(metrics.deadUnits) dead units")
    return metrics
}
