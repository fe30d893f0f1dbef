import ArgumentParser
import Foundation
import SparseAutoencoder

enum PenaltyKind: String, ExpressibleByArgument, CaseIterable { case l1, kl, none }
extension Activation: ExpressibleByArgument {}
extension ReconstructionLoss: ExpressibleByArgument {}

/// The model's shape and penalty.
struct ModelOptions: ParsableArguments {
    @Option(help: "Sparsity penalty on the code: l1, kl or none.")
    var penalty: PenaltyKind = .l1

    @Option(name: .customLong("l1"), help: "L1 strength lambda (penalty = lambda * sum|h| / batch).")
    var lambda: Float = 1e-5

    @Option(help: "KL target mean activation rho, in (0, 1).")
    var rho: Float = 0.05

    @Option(help: "KL weight beta.")
    var beta: Float = 3

    @Option(help: ArgumentHelp("Hidden layer sizes between input and code, comma-separated ('none' for no hidden layer); the decoder mirrors them.", valueName: "sizes"))
    var hidden: String = "128"

    @Option(help: "Code (bottleneck) size.")
    var code: Int = 64

    @Option(help: "Code activation: relu, sigmoid, linear or topk (keep each sample's k largest units, then relu). Default: relu for l1/none, sigmoid for kl.")
    var codeActivation: Activation?

    @Option(help: "Units each sample keeps with --code-activation topk.")
    var k: Int?

    @Option(help: "Reconstruction loss: bce (binary cross-entropy) or mse.")
    var loss: ReconstructionLoss = .bce

    func config(inputSize: Int = 784) throws -> AutoencoderConfig {
        let penalty: ActivityPenalty
        switch self.penalty {
        case .none: penalty = .none
        case .l1: penalty = .l1(lambda: lambda)
        case .kl: penalty = .kl(rho: rho, beta: beta)
        }
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
        let config = AutoencoderConfig(
            inputSize: inputSize, hiddenSizes: hiddenSizes, codeSize: code,
            codeActivation: codeActivation ?? AutoencoderConfig.defaultCodeActivation(for: penalty),
            topK: k, penalty: penalty, loss: loss)
        try config.validate()
        return config
    }
}

/// How to train.
struct TrainingOptions: ParsableArguments {
    @Option(help: "Epochs to train.")
    var epochs: Int = 30

    @Option(help: "Samples per batch (also the validation batch size).")
    var batchSize: Int = 256

    @Option(help: "Adam's learning rate.")
    var learningRate: Float = 1e-3

    @Option(help: "Seed for the initial weights and the shuffles.")
    var seed: UInt64 = 1

    func settings() throws -> TrainingSettings {
        let s = TrainingSettings(epochs: epochs, batchSize: batchSize,
                                 optimizer: AdamSettings(learningRate: learningRate), seed: seed)
        try s.validate()
        return s
    }
}

/// Where the data comes from.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Directory holding the four Fashion-MNIST IDX files (raw or .gz).", valueName: "dir"))
    var data: String?

    @Option(help: ArgumentHelp("Train on the first N training images only (quick runs).", valueName: "N"))
    var trainLimit: Int?

    func load() throws -> (train: Dataset, test: Dataset, directory: String) {
        if let n = trainLimit, n <= 0 { throw ValidationError("--train-limit must be > 0, got \(n)") }
        let directory = try FashionMNIST.locate(directory: data, log: { printError($0) })
        let (train, test) = try FashionMNIST.load(directory: directory)
        return (train, test, directory)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
