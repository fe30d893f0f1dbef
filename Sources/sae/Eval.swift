import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// `sae eval RUN`: SAEBench's model-free measures (`ModelFreeEvaluation`) into RUN/eval.json.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run as SAEBench does without a language model, into RUN/eval.json.",
        discussion: """
            Over the run's validation vectors (Fashion-MNIST's test set for the tutorial's runs), \
            or --npy vectors: L0, FVU and explained variance (against the variance about the mean \
            vector), the fractions of dead latents (firing on none) and dense ones (on over 10%), \
            the feature-density histogram, shrinkage (mean |x^| / |x|) and cosine(x, x^); on \
            labelled data, feature-class purity and sparse probing (each class against the rest, \
            a logistic probe on the k latents whose means differ most, k = 1, 2, 5, 10, 20, next to \
            the probe on all latents and on the raw inputs); with --true-directions (the \
            directions that generated the vectors, e.g. bench/make_vectors.py's dictionary.npy), \
            feature recovery: each direction matched one to one to a decoder row (Hungarian \
            method on |cos|), the mean matched |cos| and how many exceed 0.9. `sae report` shows \
            eval.json when a run has one.
            Examples:
              sae eval runs/l1
              sae eval runs/acts --true-directions data/dictionary.npy
            """)

    @Argument(help: "The run directory.") var runDirectory: String
    @Option(help: ArgumentHelp("Evaluate on these vectors (a .npy or .safetensors file, or a directory of shards) instead of the run's validation data.", valueName: "path"))
    var npy: String?
    @Option(help: tensorHelp) var tensor: String?
    @Option(help: ArgumentHelp("Directory holding Fashion-MNIST (default: as for training).", valueName: "dir")) var data: String?
    @Option(help: ArgumentHelp("The true directions, (directions, width) in a .npy file: adds feature recovery.", valueName: "file"))
    var trueDirections: String?
    @Flag(inversion: .prefixedNo, help: "Run sparse probing on labelled data (Fashion-MNIST's ten classes: about a second).")
    var probe = true

    func validate() throws {
        if npy != nil && data != nil { throw ValidationError("--data names the run's Fashion-MNIST; with --npy give only the vectors") }
    }

    func run() throws {
        let run = RunDirectory(path: runDirectory)
        _ = try run.loadConfig()   // not a run: said so before anything (the lock file) is made
        try run.lock()
        let (config, model) = try run.loadModel()
        let vectors = try runVectors(for: config, run: runDirectory, npy: npy, tensor: tensor, split: .test, fashionMNIST: data, streamed: true)
        let truth = try trueDirections.map { path -> NPY.Matrix in
            let m = try NPY.read(path: path)
            guard m.cols == config.model.targetSize else {
                throw SAEError.badFile(path, "holds directions of width \(m.cols), but the decoder's rows have \(config.model.targetSize)")
            }
            return m
        }
        print("Evaluating \(run.path) on \(vectors.count) vectors...")
        var eval = try ModelFreeEvaluation(model: model, vectors: vectors, batchSize: config.training.batchSize)
        if probe, vectors.isLabelled, npy == nil {
            print("Sparse probing (\(Int(vectors.labels.max()!) + 1) classes)...")
            var settings = config.data
            settings.trainLimit = nil
            let train = try settings.load(fashionMNIST: data, log: { printError($0) }).train
            eval.sparseProbing = try SparseProbing.run(model: model, train: train, test: vectors)
        }
        if let truth {
            let decoder = model.layers[config.model.codeLayerIndex + 1]
            let rows = Array(model.parameterValues[decoder.kernelOffset..<(decoder.kernelOffset + config.model.codeSize * decoder.outputSize)])
            eval.featureRecovery = try FeatureRecovery.match(decoderRows: rows, latents: config.model.codeSize, directions: truth.values,
                                                             count: truth.rows, width: truth.cols)
        }
        try JSONFile.write(eval, to: run.path + "/" + ModelFreeEvaluation.fileName)
        print(eval.lines.joined(separator: "\n"))
        print("Wrote \(run.path)/\(ModelFreeEvaluation.fileName)")
    }
}
