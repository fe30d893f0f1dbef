import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

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
              sae train --architecture dictionary --code 256 --k 16 --auxk 392 \\
                --out runs/fm-topk
            Export it for SAELens with `sae export`.

            Data larger than memory: a directory of .npy shards, several files (--data-npy a.npy \
            b.npy) or a file over 1 GiB is streamed from disk, batch by batch; memory stays at the \
            model, Adam's state, the workspace and a few batches however large the data. Such data \
            need a --val-npy validation set:
              sae train --data-npy shards/ --val-npy val.npy --code 4096 --k 32 \\
                --auxk 256 --out runs/big

            A transcoder encodes each row of --data-npy and predicts its row of --target-npy \
            (another vector, e.g. an MLP's output for its input), with any architecture:
              sae train --data-npy mlp_in.npy --target-npy mlp_out.npy --code 4096 \\
                --k 32 --out runs/tc

            A checkpoint is saved after every epoch. Ctrl-C stops at the next step and saves where \
            it got to; `sae train --resume DIR` continues an interrupted or killed run from its \
            last checkpoint and ends with exactly the weights an uninterrupted run would have.
            """)

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Training") var rate: LearningRateOption
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions

    @Option(help: ArgumentHelp("Run directory to write (default: runs/<what it is>: runs/topk, runs/batchtopk, runs/jumprelu-transcoder, ...; the tutorial's runs/l1, runs/kl).", valueName: "dir"))
    var out: String?

    @Flag(help: "Replace an existing run in --out.")
    var force = false

    @Flag(help: "Print the model summary before training.")
    var summary = false

    @Option(help: ArgumentHelp("Continue the interrupted run in this directory, with the settings in its config.json.", valueName: "dir"))
    var resume: String?

    @Flag(help: "Under mpirun: give each rank a slice of the latents (their encoder and decoder rows and Adam's state) instead of the whole model, every rank reading the whole batch; for dictionaries too large for one process. A TopK, BatchTopK or Matryoshka dictionary (with AuxK, or a transcoder); the run directory must be on a file system every rank sees.")
    var shardLatents = false

    @Flag(help: "With --resume: continue although the training .npy files differ from those the checkpoint was trained on (by default refused, naming the file: the run would no longer be the uninterrupted one).")
    var acceptChangedData = false

    /// The options --resume goes with; every other one is a setting, which it takes from the
    /// run's config.json (so an option added to training is refused here without being listed).
    static let resumeOptions: Set<String> = ["--resume", "--epochs", "--accept-changed-data", "--data", "--summary", "--help", "--version"]

    func validate() throws {
        guard resume != nil else { return }
        let options = CommandLine.arguments.dropFirst().filter { $0.hasPrefix("--") && $0 != "--" }
        if let clash = options.first(where: { !Self.resumeOptions.contains(String($0.prefix { $0 != "=" })) }) {
            throw ValidationError("--resume takes every setting from the run's config.json; drop \(clash.prefix { $0 != "=" })")
        }
    }

    func run() throws {
        // Under mpirun or srun: data-parallel over the ranks (TrainOnRanks.swift).
        let communicator = try Communicator.launch()
        if communicator.usesMPI {
            try runOnRanks(communicator)
            return
        }
        try reportingInterruption {
            if let resume {
                try Run.resume(RunDirectory(path: resume), extendingTo: training.epochs, acceptingChangedData: acceptChangedData, loadData: { try $0.data.load(fashionMNIST: dataOptions.data, log: { printError($0) }) },
                               shouldStop: stopRequested, events: RunPrinter().handle)
                return
            }
            if shardLatents { throw SAEError.badSetting("--shard-latents", "splits the latents over MPI ranks: run under mpirun -np N (N at least 2)") }
            let dataSettings = try dataOptions.settings()
            // Check the model's options before loading (or downloading) anything.
            let architecture = try model.config(inputSize: dataOptions.dataNpy.isEmpty ? 784 : 1, defaultArchitecture: dataOptions.defaultArchitecture).architecture
            let training = try self.training.settings(for: architecture, learningRate: rate.learningRate)
            let data = try dataSettings.load(fashionMNIST: dataOptions.data, log: { printError($0) })
            let config = self.training.withDefaultClipping(RunConfig(
                model: try model.config(inputSize: data.train.featureCount, outputSize: data.train.targets?.featureCount, defaultArchitecture: dataOptions.defaultArchitecture),
                training: training, data: dataSettings))
            if let warning = Self.auxKWarning(config.model) { printError(warning) }
            try Run.train(config, data: data, out: out ?? "runs/\(config.model.runName)", force: force,
                          shouldStop: stopRequested, events: RunPrinter(summary: summary).handle)
        }
    }

    /// A warning, one line, when --auxk is above the width of what AuxK reconstructs (the input's;
    /// a transcoder's target's), known only once the data are loaded: k_aux dead latents fit the
    /// residual, a vector of that width, and Gao et al. (2024) take half of it ("typically half
    /// the input size"); more is legal and trains, but is most likely a mistake (a k_aux meant for
    /// a wider model's activations).
    static func auxKWarning(_ model: AutoencoderConfig) -> String? {
        guard let k = model.auxK?.k, k > model.targetSize else { return nil }
        let width = model.isTranscoder ? "the targets' width" : "the input width"
        return "Warning: --auxk \(k) is above \(width) (\(model.targetSize) features): AuxK reconstructs a residual of that width, and k_aux is typically half of it (\(max(1, model.targetSize / 2)), Gao et al. 2024); training goes on"
    }
}
