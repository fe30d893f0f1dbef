import ArgumentParser
import Foundation
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

            A checkpoint is saved after every epoch. Ctrl-C stops at the next step and saves where \
            it got to; `sae train --resume DIR` continues an interrupted or killed run from its \
            last checkpoint and ends with exactly the weights an uninterrupted run would have.
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

    @Option(help: ArgumentHelp("Continue the interrupted run in this directory, with the settings in its config.json.", valueName: "dir"))
    var resume: String?

    /// Options that --resume takes from config.json instead.
    static let settingFlags = ["--penalty", "--l1", "--rho", "--beta", "--hidden", "--code", "--code-activation", "--k", "--loss",
                               "--epochs", "--batch-size", "--learning-rate", "--seed", "--train-limit", "--out", "--force"]

    func validate() throws {
        if resume != nil, let clash = CommandLine.arguments.first(where: { arg in Self.settingFlags.contains { arg == $0 || arg.hasPrefix($0 + "=") } }) {
            throw ValidationError("--resume takes every setting from the run's config.json; drop \(clash)")
        }
    }

    func run() throws {
        if let resume {
            try resumeRun(resume)
            return
        }
        let config = RunConfig(model: try model.config(), training: try training.settings(),
                               data: DataSettings(trainLimit: dataOptions.trainLimit))
        try trainRun(config, dataOptions: dataOptions, out: out ?? "runs/\(model.penalty.rawValue)",
                     force: force, summary: summary)
    }

    private func resumeRun(_ path: String) throws {
        let run = RunDirectory(path: path)
        let config = try run.loadConfig()
        if let status = try? run.loadStatus() {
            if status.state == "finished" { throw SAEError("\(run.path) has already finished training; nothing to resume") }
            if status.state == "diverged" {
                throw SAEError("\(run.path) diverged (\(status.message ?? "non-finite loss")); resuming would diverge again: train anew with a lower --learning-rate")
            }
        }
        guard FileManager.default.fileExists(atPath: run.checkpointPath) else {
            throw SAEError("\(run.path) has no checkpoint.safetensors to resume from")
        }
        let directory = try dataOptions.data.map { try FashionMNIST.locate(directory: $0) }
            ?? config.data.directory.flatMap { try? FashionMNIST.locate(directory: $0) }
            ?? FashionMNIST.locate(directory: nil, log: { printError($0) })
        let (train, test) = try FashionMNIST.load(directory: directory)
        print("Resuming \(run.path) (\(config.model.penalty.summaryText), \(config.training.epochs) epochs)")
        try runTraining(config, train: train, test: test, directory: run, resume: true)
    }
}

/// Loads the data, trains, writes the run; shared by `train` and `demo`.
@discardableResult
func trainRun(_ config: RunConfig, dataOptions: DataOptions, out: String, force: Bool, summary: Bool,
              data: (train: Dataset, test: Dataset, directory: String)? = nil) throws -> RunMetrics {
    let (train, test, dataDirectory) = try data ?? dataOptions.load()
    let directory = try RunDirectory.create(out, force: force)
    var config = config
    config.data.directory = dataDirectory
    if summary { print(config.model.summary) }
    print("Training \(config.model.penalty.summaryText) on \(min(train.count, config.data.trainLimit ?? .max)) images "
          + "(validating on \(test.count)) into \(directory.path)")
    return try runTraining(config, train: train, test: test, directory: directory, resume: false)
}

/// Trains with Keras-style progress, stopping cleanly on Ctrl-C (exit status 130).
func runTraining(_ config: RunConfig, train: Dataset, test: Dataset, directory: RunDirectory,
                         resume: Bool) throws -> RunMetrics {
    Interrupt.install()
    let printer = ProgressPrinter()
    do {
        let metrics = try TrainingRun.run(config, train: train, test: test, into: directory, resume: resume,
                                          shouldStop: { Interrupt.requested }, progress: printer.handle)
        print("Wrote \(directory.path): test MSE \(String(format: "%.4f", metrics.testMse)), "
              + "mean code activation \(String(format: "%.4g", metrics.meanActivation)), "
              + "\(metrics.deadUnits) dead units")
        return metrics
    } catch let interrupted as TrainingRun.Interrupted {
        print("")
        printError(interrupted.description)
        throw ExitCode(130)
    }
}
