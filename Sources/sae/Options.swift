import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

enum PenaltyKind: String, ExpressibleByArgument, CaseIterable { case l1, kl, none }
extension Activation: ExpressibleByArgument {}
extension ReconstructionLoss: ExpressibleByArgument {}
extension AutoencoderConfig.Architecture: ExpressibleByArgument {}
extension Schedule.Decay: ExpressibleByArgument {}

/// The model's shape and penalty.
struct ModelOptions: ParsableArguments {
    @Option(help: ArgumentHelp(AutoencoderConfig.Architecture.help + ". Default: dictionary for --data-npy, else mirrored.", valueName: "kind"))
    var architecture: AutoencoderConfig.Architecture?

    @Option(help: "Sparsity penalty on the code: l1, kl or none. Default: l1 (none for a topk code).")
    var penalty: PenaltyKind?

    @Option(name: .customLong("l1"), parsing: .unconditional, help: "L1 strength lambda (penalty = lambda * sum|h| / batch).")
    var lambda: Float = 1e-5

    @Option(parsing: .unconditional, help: "KL target mean activation rho, in (0, 1).")
    var rho: Float = 0.05

    @Option(parsing: .unconditional, help: "KL weight beta.")
    var beta: Float = 3

    @Option(help: ArgumentHelp("Hidden layer sizes between input and code, comma-separated ('none' for no hidden layer); the decoder mirrors them. Default: 128 (none for a dictionary).", valueName: "sizes"))
    var hidden: String?

    @Option(parsing: .unconditional, help: "Code (bottleneck) size: the number of latents.")
    var code: Int = 64

    @Option(help: "Code activation: relu, sigmoid, linear or topk (keep each sample's k largest units, then relu). Default: topk when --k is given, sigmoid for kl, else relu.")
    var codeActivation: Activation?

    @Option(parsing: .unconditional, help: "Units each sample keeps with a topk code.")
    var k: Int?

    @Option(help: "Reconstruction loss: bce (binary cross-entropy) or mse. Default: bce (mse for a dictionary, whose output is linear).")
    var loss: ReconstructionLoss?

    @Flag(inversion: .prefixedNo, help: "Keep each latent's decoder row at unit length, removing the gradient's component along it. Default: on for a dictionary, off otherwise.")
    var unitNormDecoder: Bool?

    @Option(name: .customLong("auxk"), parsing: .unconditional, help: ArgumentHelp("AuxK: revive dead latents of a topk dictionary by training the k_aux largest of them on the residual (Gao et al. 2024). Typical: half the input size.", valueName: "k_aux"))
    var auxK: Int?

    @Option(name: .customLong("auxk-coefficient"), parsing: .unconditional, help: "Weight of the AuxK loss.")
    var auxKCoefficient: Float = 1.0 / 32

    // Each architecture's own options, in its file (Architectures/).
    @OptionGroup var jumpReLU: JumpReLUOptions
    @OptionGroup var matryoshka: MatryoshkaOptions
    @OptionGroup var gated: GatedOptions

    var penaltyKind: PenaltyKind {
        penalty ?? (architecture?.selectsItsCode == true || codeActivation == .topk || (codeActivation == nil && k != nil) ? .none : .l1)
    }

    /// The model these options describe, for inputs of `inputSize` features (and, for a
    /// transcoder, targets of `outputSize`).
    func config(inputSize: Int = 784, outputSize: Int? = nil, defaultArchitecture: AutoencoderConfig.Architecture = .mirrored) throws -> AutoencoderConfig {
        let penalty: ActivityPenalty
        switch penaltyKind {
        case .none: penalty = .none
        case .l1: penalty = .l1(lambda: lambda)
        case .kl: penalty = .kl(rho: rho, beta: beta)
        }
        let architecture = self.architecture ?? defaultArchitecture
        let dictionary = architecture != .mirrored
        let hidden = self.hidden ?? (dictionary ? "none" : "128")
        let hiddenSizes: [Int]
        if hidden == "none" || hidden.isEmpty {
            hiddenSizes = []
        } else {
            hiddenSizes = try hidden.split(separator: ",").map { part in
                guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n > 0 else {
                    throw ValidationError("--hidden takes positive sizes separated by commas (e.g. 128 or 256,128) or 'none', got '\(hidden)'")
                }
                return n
            }
        }
        let activation = codeActivation
            ?? (architecture.selectsItsCode ? .relu : k != nil ? .topk : AutoencoderConfig.defaultCodeActivation(for: penalty))
        var config = AutoencoderConfig(
            architecture: architecture, inputSize: inputSize, hiddenSizes: hiddenSizes, codeSize: code,
            codeActivation: activation, topK: k, penalty: penalty, loss: loss ?? (dictionary ? .mse : .bce),
            unitNormDecoder: unitNormDecoder ?? dictionary, auxK: auxK.map { AuxK(k: $0, coefficient: auxKCoefficient) },
            outputSize: outputSize)
        try jumpReLU.apply(to: &config)
        try matryoshka.apply(to: &config)
        try gated.apply(to: &config)
        try config.validate()
        return config
    }
}

/// Adam's learning rate, for the commands that train one run (`sae sweep` takes a list of them
/// instead, so the option lives apart from `TrainingOptions`, which the sweep shares).
struct LearningRateOption: ParsableArguments {
    @Option(parsing: .unconditional, help: "Adam's learning rate.")
    var learningRate: Float = TrainingOptions.defaultLearningRate
}

/// How to train (the learning rate aside: `LearningRateOption`).
struct TrainingOptions: ParsableArguments {
    static let defaultLearningRate: Float = 1e-3

    @Option(parsing: .unconditional, help: "Epochs to train (default: 30). With --resume: extend the run to this many epochs (finished or not).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Samples per batch (also the validation batch size).")
    var batchSize: Int = 256

    @Option(parsing: .unconditional, help: ArgumentHelp("Adam's epsilon, added to sqrt(v) after the bias correction (Keras's placement). Default: 1e-7 (Keras's) for the tutorial's models, 1e-8 for a dictionary: its per-element MSE is small, so its gradients are, and 1e-7 would damp every step (sparsify, whose loss is the FVU, uses PyTorch's 1e-8).", valueName: "eps"))
    var adamEpsilon: Float?

    @Option(name: .customLong("adam-beta1"), parsing: .unconditional, help: ArgumentHelp("Adam's first-moment decay (Keras's and PyTorch's 0.9; the JumpReLU paper's 0).", valueName: "beta1"))
    var adamBeta1: Float = 0.9

    @Option(name: .customLong("adam-beta2"), parsing: .unconditional, help: ArgumentHelp("Adam's second-moment decay.", valueName: "beta2"))
    var adamBeta2: Float = 0.999

    @Option(parsing: .unconditional, help: "Seed for the initial weights and the shuffles.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("A latent is dead once it has not fired on this many training samples in a row (default: one epoch's worth); AuxK trains the dead ones.", valueName: "samples"))
    var deadAfter: Int?

    @Option(name: .customLong("lr-warmup-steps"), parsing: .unconditional, help: ArgumentHelp("Raise the learning rate linearly over the first N steps (step t at (t + 1) / N of it), as SAELens's lr_warm_up_steps.", valueName: "N"))
    var lrWarmupSteps: Int?

    @Option(name: .customLong("lr-decay"), help: ArgumentHelp("Decay the learning rate to --lr-end over the steps from --lr-decay-start to the last: linear (dictionary_learning's) or cosine (SAELens's cosineannealing). Default: none.", valueName: "kind"))
    var lrDecay: Schedule.Decay?

    @Option(name: .customLong("lr-decay-start"), parsing: .unconditional, help: ArgumentHelp("The step the decay starts at (default: the end of the warm-up, else the first step).", valueName: "step"))
    var lrDecayStart: Int?

    @Option(name: .customLong("lr-end"), parsing: .unconditional, help: ArgumentHelp("The learning rate at the end of the decay, as a fraction of --learning-rate (default 0).", valueName: "fraction"))
    var lrEnd: Double?

    @Option(name: .customLong("sparsity-warmup-steps"), parsing: .unconditional, help: ArgumentHelp("Raise the sparsity coefficient (--l1, KL's --beta, JumpReLU's --l0-coefficient, Gated's --gate-l1) linearly over the first N steps, as SAELens's l1_warm_up_steps and dictionary_learning's sparsity_warmup_steps.", valueName: "N"))
    var sparsityWarmupSteps: Int?

    @Option(name: .customLong("max-grad-norm"), parsing: .unconditional, help: ArgumentHelp("Scale each step's gradient down to this global L2 norm when above it, before Adam (torch's clip_grad_norm_), or 'none'. dictionary_learning clips at 1.0 on a loss summed over the d output features, sae's averages over them: its clipping is 1/d here (0.00195 for d 512). Default: 1/d for jumprelu and gated (their thresholds and gates learn several times faster so), none for the others.", valueName: "norm|none"))
    var maxGradNorm: GradientNormLimit?

    /// `--max-grad-norm`'s value: a limit, or none.
    enum GradientNormLimit: ExpressibleByArgument {
        case limit(Float), none
        init?(argument: String) {
            if argument == "none" { self = .none } else if let value = Float(argument) { self = .limit(value) } else { return nil }
        }
    }

    /// The run with the architecture's default gradient clipping (`defaultMaxGradientNorm`) when
    /// --max-grad-norm is not given.
    func withDefaultClipping(_ config: RunConfig) -> RunConfig {
        guard maxGradNorm == nil else { return config }
        var config = config
        config.training.maxGradientNorm = config.model.defaultMaxGradientNorm
        return config
    }

    /// The schedule these options ask for (nil: a constant learning rate and coefficient).
    var schedule: Schedule? {
        guard lrWarmupSteps != nil || lrDecay != nil || lrDecayStart != nil || lrEnd != nil || sparsityWarmupSteps != nil else { return nil }
        return Schedule(warmupSteps: lrWarmupSteps ?? 0, decay: lrDecay ?? .none, decayStart: lrDecayStart, endFactor: lrEnd ?? 0,
                        sparsityWarmupSteps: sparsityWarmupSteps ?? 0)
    }

    /// The settings for a model of `architecture` (which picks Adam's default epsilon).
    func settings(for architecture: AutoencoderConfig.Architecture = .mirrored, learningRate: Float) throws -> TrainingSettings {
        let epsilon = adamEpsilon ?? AdamSettings.defaultEpsilon(for: architecture)
        let s = TrainingSettings(epochs: epochs ?? 30, batchSize: batchSize,
                                 optimizer: AdamSettings(learningRate: learningRate, beta1: adamBeta1, beta2: adamBeta2, epsilon: epsilon),
                                 seed: seed, deadAfter: deadAfter, schedule: schedule, maxGradientNorm: maxGradNorm.flatMap {
                                     if case .limit(let value) = $0 { value } else { nil }
                                 })
        try s.validate()
        return s
    }
}

/// Where the data comes from.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Directory holding the four Fashion-MNIST IDX files (raw or .gz). Default: $SAE_DATA, the cache, Debian's dataset-fashion-mnist, else download.", valueName: "dir"))
    var data: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Train on these vectors instead: one .npy or .safetensors file, a directory (its *.npy or *.safetensors shards in name order), or several files "
            + "(--data-npy a.npy b.npy, or the option repeated), concatenated. float32, float64, float16 or (safetensors) bfloat16, converted to float32 as rows are read; (samples, features) or (batch, seq, ..., features) with the leading axes flattened into samples, C order, "
            + "one width and one dtype; a .safetensors file's only tensor, or --tensor's. A directory, several files or a file over 1 GiB (or a quarter of the memory, if less) are streamed "
            + "from disk batch by batch (memory does not grow with the data; the shuffle is then a computed permutation); "
            + "smaller files are read into memory.", valueName: "path"))
    var dataNpy: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Validate on these vectors (a file, a directory or several files, as --data-npy). Default with --data-npy: a fixed "
            + "random 10% of its rows, held out, which is refused for streamed training data: give --val-npy then.", valueName: "path"))
    var valNpy: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp(
        "Train a transcoder: encode each --data-npy row and decode to this row instead of reconstructing it (e.g. an MLP's "
            + "input and its output). A file, a directory or several files, as --data-npy, with one row per training row in the "
            + "same order; any width. FVU is then against these targets. With --val-npy, give --val-target-npy too.", valueName: "path"))
    var targetNpy: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("A transcoder's validation targets: one row per --val-npy row.", valueName: "path"))
    var valTargetNpy: [String] = []

    @Option(help: ArgumentHelp("The tensor to read from each .safetensors file of --data-npy and --val-npy (needed when a file holds several, e.g. the activations of two layers); default: each file's only tensor.", valueName: "name"))
    var tensor: String?

    @Option(help: ArgumentHelp("The tensor to read from each .safetensors file of --target-npy and --val-target-npy (it may be another tensor of the same files as --tensor's, e.g. an MLP's output beside its input).", valueName: "name"))
    var targetTensor: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Train on the first N training samples only (quick runs).", valueName: "N"))
    var trainLimit: Int?

    @Flag(help: ArgumentHelp("Scale the vectors (and a transcoder's targets) so that their mean norm is sqrt(width), as SAELens's normalize_activations \"expected_average_only_in\": one factor, measured on up to 65,536 training rows and recorded in config.json. Losses during training are in the scaled space; the saved model has the factor folded into its weights, so it reads, encodes, reconstructs and exports vectors as stored."))
    var normalizeActivations = false

    /// What to record in config.json (paths made absolute, so the run can be resumed from anywhere).
    /// (Errors here are one line, as every refusal: found in `run`, where a ValidationError would
    /// add the usage lines.)
    func settings() throws -> DataSettings {
        if let n = trainLimit, n <= 0 { throw SAEError("--train-limit must be > 0, got \(n)") }
        if !valNpy.isEmpty && dataNpy.isEmpty { throw SAEError("--val-npy needs --data-npy (the training vectors)") }
        if !targetNpy.isEmpty && dataNpy.isEmpty { throw SAEError("--target-npy needs --data-npy (the vectors a transcoder reads)") }
        if !valTargetNpy.isEmpty && (targetNpy.isEmpty || valNpy.isEmpty) {
            throw SAEError("--val-target-npy needs --target-npy and --val-npy (the validation rows it is the targets of)")
        }
        if !targetNpy.isEmpty && !valNpy.isEmpty && valTargetNpy.isEmpty {
            throw SAEError("a transcoder's --val-npy needs its targets: give --val-target-npy (or drop --val-npy to hold out 10% of the rows with their targets)")
        }
        if tensor != nil && dataNpy.isEmpty { throw SAEError("--tensor names a tensor of --data-npy's .safetensors files: give --data-npy") }
        if targetTensor != nil && targetNpy.isEmpty { throw SAEError("--target-tensor names a tensor of --target-npy's .safetensors files: give --target-npy") }
        if normalizeActivations && dataNpy.isEmpty { throw SAEError("--normalize-activations scales your vectors: give --data-npy") }
        guard !dataNpy.isEmpty else { return DataSettings(trainLimit: trainLimit) }
        if data != nil { throw SAEError("give either --data (Fashion-MNIST) or --data-npy (vectors), not both") }
        var settings = DataSettings.npy(train: dataNpy.map(Self.absolute), validation: valNpy.map(Self.absolute), trainLimit: trainLimit)
        if !targetNpy.isEmpty { settings.targetFiles = targetNpy.map(Self.absolute) }
        if !valTargetNpy.isEmpty { settings.validationTargetFiles = valTargetNpy.map(Self.absolute) }
        if normalizeActivations { settings.normalizeActivations = true }
        settings.tensor = tensor
        settings.targetTensor = targetTensor
        return settings
    }

    func load() throws -> RunData {
        try settings().load(fashionMNIST: data, log: { printError($0) })
    }

    /// The architecture a model gets unless --architecture says otherwise: vectors are not
    /// images in [0, 1], so they get the dictionary's linear output.
    var defaultArchitecture: AutoencoderConfig.Architecture { dataNpy.isEmpty ? .mirrored : .dictionary }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
