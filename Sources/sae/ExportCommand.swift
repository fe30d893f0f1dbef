import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

extension SAEExport.Format: ExpressibleByArgument {}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dictionary SAE run in the layout SAELens (or sparsify) loads.",
        discussion: """
            --format saelens (the default): OUT/cfg.json + OUT/sae_weights.safetensors with W_enc \
            (d_in, d_sae), b_enc, W_dec (d_sae, d_in), b_dec; load with \
            sae_lens.SAE.load_from_disk(OUT).
            --format sparsify: OUT/cfg.json + OUT/sae.safetensors with encoder.weight (d_sae, \
            d_in), encoder.bias, W_dec, b_dec (TopK runs only); load with \
            sparsify.SparseCoder.load_from_disk(OUT). On a CPU, set SPARSIFY_DISABLE_TRITON=1 \
            before sparsify is imported: with Triton installed (torch brings it), sparsify decodes \
            with Triton's GPU kernels.
            Both encode z = act((x - b_dec) W_enc + b_enc) exactly as `sae encode` does.
            Examples:
              sae export runs/acts --out export/acts --hook-name blocks.8.hook_resid_pre
              sae export runs/acts --out export/acts-sparsify --format sparsify
            """)

    @Argument(help: "The run directory (a dictionary SAE).") var runDirectory: String
    @Option(help: ArgumentHelp("Directory to write the files into.", valueName: "dir")) var out: String
    @Option(help: "saelens or sparsify.") var format: SAEExport.Format = .saelens
    @Flag(help: "Replace output files that exist (never a run's own files; a symlink's target, not the link; pipes and devices are written to).")
    var force = false
    @Option(help: "Name of the model the activations came from (recorded in cfg.json).") var modelName = ""
    @Option(help: "Hook point the activations came from (recorded in cfg.json).") var hookName = ""

    func run() throws {
        let run = RunDirectory(path: runDirectory)
        let (_, model) = try run.loadModel()
        // None of the files written may be one of the run's own under another name (a hard link).
        for file in format.files { try UserOutput.refuseSameFile(out + "/" + file, as: run.ownFilePaths) }
        let files = try SAEExport.write(model, format: format, to: out, source: .init(modelName: modelName, hookName: hookName), force: force)
        print("Wrote " + files.joined(separator: ", "))
    }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read an SAE trained in SAELens or sparsify into a run directory.",
        discussion: """
            Reads DIR/cfg.json with sae_weights.safetensors (SAELens 6: standard, topk, jumprelu, \
            gated, transcoder, jumprelu_transcoder) or sae.safetensors (sparsify: TopK SAEs and \
            transcoders) into a run directory, so that encode, reconstruct, analyze, features, \
            report and export work on it; its codes are those of the package's own encode. \
            --data-npy (and --val-npy, --target-npy for a transcoder) names the vectors the SAE \
            reads, recorded for analyze and features (an SAE of 784 inputs defaults to \
            Fashion-MNIST). An imported run cannot be trained further (it has no optimiser state).
            Example:
              sae import downloads/res-jb-l8 --data-npy acts.npy --out runs/res-jb-l8
            """)

    @Argument(help: "The directory holding cfg.json and the weights.") var directory: String
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @Option(help: ArgumentHelp("The run directory to write.", valueName: "dir")) var out: String
    @Flag(help: "Replace the run in --out (only a directory holding an sae run).") var force = false

    func run() throws {
        let imported = try SAEImport.read(directory)
        let model = imported.model, config = model.config
        var data = try dataOptions.settings()
        if data.dataset == .npy {
            // Check the vectors' widths against the model now (headers only), not at the first analysis.
            for (paths, width, tensor, what) in [(data.trainPaths, config.inputSize, data.tensor, "--data-npy"),
                                                 (data.validationPaths, config.inputSize, data.tensor, "--val-npy"),
                                                 (data.targetFiles, config.targetSize, data.targetTensor, "--target-npy"),
                                                 (data.validationTargetFiles, config.targetSize, data.targetTensor, "--val-target-npy")] {
                guard let paths, !paths.isEmpty else { continue }
                let vectors = try Dataset(npy: paths, loading: .streamed, tensor: tensor)
                guard vectors.featureCount == width else {
                    throw SAEError("\(what) has \(vectors.featureCount) features per row but the SAE \(what.contains("target") ? "predicts" : "reads") \(width)")
                }
            }
        } else if config.inputSize != 784 || config.isTranscoder {
            throw ValidationError("give --data-npy: the vectors this SAE reads (\(config.inputSize) features), recorded for analyze and features")
        }
        data.trainLimit = nil
        try data.checkTargets(transcoder: config.isTranscoder)
        let runConfig = RunConfig(model: config, training: TrainingSettings(epochs: 1), data: data)
        let run = try RunDirectory.create(out, force: force)
        try model.save(to: run.modelPath)
        try run.save(config: runConfig)
        try run.save(history: [])
        let source = (directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory)
        try run.save(status: RunStatus(state: .finished, message: "imported from \(source): \(imported.summary)"))
        print("Imported \(imported.summary) into \(run.path); read it with `sae features \(run.path)`")
    }
}
