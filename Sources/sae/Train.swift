import ArgumentParser
import Foundation
import SparseAutoencoder

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one sparse autoencoder on Fashion-MNIST or on your own vectors and write its run directory.",
        discussion: """
            Defaults are the tutorial's: 784-128-64-128-784, Adam (lr 1e-3), 30 epochs, batches of \
            256, validation on the test set after every epoch. Examples:
              sae train --penalty l1 --out runs/l1
              sae train --penalty kl --rho 0.05 --beta 3 --out runs/kl
              sae train --penalty none --epochs 5 --train-limit 10000 --out runs/quick

            A dictionary SAE (one layer, linear output, MSE, unit-norm decoder rows) with a TopK \
            code and AuxK for dead latents, on vectors from a .npy file (N, d):
              sae train --data-npy acts.npy --code 1024 --k 32 --auxk 256 --out runs/acts
              sae train --architecture dictionary --code 256 --k 16 --auxk 392 --out runs/fm-topk
            Export it for SAELens with `sae export`.

            Data larger than memory: a directory of .npy shards, several files (--data-npy a.npy \
            b.npy) or a file over 1 GiB is streamed from disk, batch by batch; memory stays at the \
            model, Adam's state, the workspace and a few batches however large the data. Such data \
            need a --val-npy validation set:
              sae train --data-npy shards/ --val-npy val.npy --code 4096 --k 32 --auxk 256 --out runs/big

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
    static let settingFlags = ["--architecture", "--penalty", "--l1", "--rho", "--beta", "--hidden", "--code", "--code-activation", "--k", "--loss",
                               "--unit-norm-decoder", "--no-unit-norm-decoder", "--auxk", "--auxk-coefficient", "--dead-after",
                               "--epochs", "--batch-size", "--learning-rate", "--adam-epsilon", "--seed", "--train-limit", "--data-npy", "--val-npy", "--out", "--force"]

    func validate() throws {
        if resume != nil, let clash = CommandLine.arguments.first(where: { arg in Self.settingFlags.contains { arg == $0 || arg.hasPrefix($0 + "=") } }) {
            throw ValidationError("--resume takes every setting from the run's config.json; drop \(clash)")
        }
    }

    func run() throws {
        // Under mpirun or srun: data-parallel over the ranks (TrainOnRanks.swift).
        let communicator = try Communicator.launch()
        if communicator.usesMPI {
            try runOnRanks(communicator)
            return
        }
        if let resume {
            try resumeRun(resume)
            return
        }
        let dataSettings = try dataOptions.settings()
        // Check the model's options before loading (or downloading) anything.
        let architecture = try model.config(defaultArchitecture: dataOptions.defaultArchitecture).architecture
        let training = try self.training.settings(for: architecture)
        let data = try dataSettings.load(fashionMNIST: dataOptions.data, log: { printError($0) })
        let config = RunConfig(model: try model.config(inputSize: data.train.featureCount, defaultArchitecture: dataOptions.defaultArchitecture),
                               training: training, data: dataSettings)
        try trainRun(config, data: data, out: out ?? "runs/\(model.penaltyKind.rawValue)", force: force, summary: summary)
    }

    private func resumeRun(_ path: String) throws {
        let run = RunDirectory(path: path)
        let config = try Self.resumableConfig(run)
        let data = try config.data.load(fashionMNIST: dataOptions.data, log: { printError($0) })
        print("Resuming \(run.path) (\(config.model.penalty.summaryText), \(config.training.epochs) epochs)")
        try runTraining(config, data: data, directory: run, resume: true)
    }

    /// The config of the run in `run`, if it can be resumed.
    static func resumableConfig(_ run: RunDirectory) throws -> RunConfig {
        let config = try run.loadConfig()
        if let status = try? run.loadStatus() {
            if status.state == .finished { throw SAEError("\(run.path) has already finished training; nothing to resume") }
            if status.state == .diverged {
                throw SAEError("\(run.path) diverged (\(status.message ?? "non-finite loss")); resuming would diverge again: train anew with a lower --learning-rate")
            }
        }
        guard FileManager.default.fileExists(atPath: run.checkpointPath) else {
            throw SAEError("\(run.path) has no checkpoint.safetensors to resume from")
        }
        return config
    }
}

/// Trains on loaded data and writes the run; shared by `train`, `demo` and `sweep`.
@discardableResult
func trainRun(_ config: RunConfig, data: RunData, out: String, force: Bool, summary: Bool) throws -> RunMetrics {
    // Before the run directory is made: a model too large for this machine leaves nothing behind.
    try MemoryBudget.check(config.model, batchSize: config.training.batchSize, validationSamples: data.test.count)
    let directory = try RunDirectory.create(out, force: force)
    var config = config
    config.data.directory = data.directory
    if summary { print(config.model.summary) }
    let what = config.model.architecture == .dictionary ? "a dictionary SAE (\(config.model.codeSize) latents)" : config.model.penalty.summaryText
    print("Training \(what) on \(min(data.train.count, config.data.trainLimit ?? .max)) samples of \(config.data.summaryText) "
          + "(validating on \(data.test.count)) into \(directory.path)")
    return try runTraining(config, data: data, directory: directory, resume: false)
}

/// Trains with Keras-style progress, stopping cleanly on Ctrl-C, SIGTERM or SIGHUP (exit status
/// 128 + the signal: 130, 143, 129).
func runTraining(_ config: RunConfig, data: RunData, directory: RunDirectory, resume: Bool) throws -> RunMetrics {
    Interrupt.install()
    let printer = ProgressPrinter()
    do {
        let metrics = try TrainingRun.run(config, train: data.train, test: data.test, into: directory, resume: resume,
                                          shouldStop: { Interrupt.requested }, progress: printer.handle)
        print("Wrote \(directory.path): test MSE \(String(format: "%.4f", metrics.testMse)), FVU \(String(format: "%.4f", metrics.testFvu ?? .nan)), "
              + "mean code activation \(String(format: "%.4g", metrics.meanActivation)), "
              + "\(metrics.deadUnits) dead units")
        return metrics
    } catch let interrupted as TrainingRun.Interrupted {
        print("")
        printError("\(Interrupt.signalName): " + interrupted.description)
        throw ExitCode(Interrupt.exitStatus)
    }
}
