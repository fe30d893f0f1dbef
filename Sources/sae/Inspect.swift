import Foundation
import ArgumentParser
import SparseAutoencoder
import SparseAutoencoderToolkit

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's layers, output shapes and parameter counts, like Keras's summary().",
        discussion: """
            Give a run directory to summarise its model, or model options to see a model before training:
              sae summary runs/l1
              sae summary --penalty kl --code 32
            """)

    @Argument(help: "A run directory (optional).") var runDirectory: String?
    @OptionGroup(title: "Model") var model: ModelOptions

    func run() throws {
        let config = try runDirectory.map { try RunDirectory(path: $0).loadConfig().model } ?? model.config()
        print(config.summary)
    }
}

enum Split: String, ExpressibleByArgument, CaseIterable { case test, train }

/// The help of the commands' --tensor, beside their --npy.
let tensorHelp = ArgumentHelp("The tensor of the --npy .safetensors file(s) to read, when a file holds several.", valueName: "name")

/// The vectors a command reads for a run: those of `npy` (its tensor `tensor` if a .safetensors
/// file holds several; streamed with `streamed`), or the run's own validation (`split` test) or
/// training data, refused unless the model takes their width.
func runVectors(for config: RunConfig, run: String, npy: String?, tensor: String?, split: Split, fashionMNIST: String?,
             streamed: Bool = false) throws -> Dataset {
    let vectors: Dataset
    if let npy {
        vectors = try Dataset(npy: [npy], loading: streamed ? .streamed : .automatic, tensor: tensor)
    } else {
        if tensor != nil { throw SAEError("--tensor names a tensor of the --npy file: give --npy (the run's own data use the tensor it trained on)") }
        var settings = config.data
        settings.trainLimit = nil
        let sets = try settings.load(fashionMNIST: fashionMNIST, log: { printError($0) })
        vectors = split == .test ? sets.test : sets.train
    }
    guard vectors.featureCount == config.model.inputSize else {
        throw SAEError("the vectors have \(vectors.featureCount) values each but the model in \(run) expects \(config.model.inputSize)")
    }
    return vectors
}

/// Options shared by `encode` and `reconstruct`.
struct ExportOptions: ParsableArguments {
    @Argument(help: "The run directory.") var run: String
    @Option(help: ArgumentHelp("The .npy file to write (or a pipe or device such as /dev/stdout).", valueName: "file")) var out: String
    @Flag(help: "Replace output files that exist (never a run's own files; a symlink's target, not the link; pipes and devices are written to).")
    var force = false
    @Option(help: "Which split to process: test (the validation data) or train.") var split: Split = .test
    @Option(help: ArgumentHelp("Directory holding Fashion-MNIST (default: as for training).", valueName: "dir")) var data: String?
    @Option(help: ArgumentHelp("Process the vectors in this .npy or .safetensors file (or directory of shards) instead of the run's data.", valueName: "path")) var npy: String?
    @Option(help: tensorHelp) var tensor: String?

    /// What the command reads: the run's files and the --npy file or shards.
    var inputFiles: [String] {
        var files = RunDirectory(path: run).ownFilePaths
        guard let npy else { return files }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: npy, isDirectory: &isDirectory), isDirectory.boolValue {
            files += ((try? FileManager.default.contentsOfDirectory(atPath: npy)) ?? []).map { npy + "/" + $0 }
        } else {
            files.append(npy)
        }
        return files
    }

    /// Loads the run and the samples, and writes the outputs of layer `layer` (N, its width) as
    /// .npy, batch by batch: the codes of a dataset streamed from disk never sit in memory whole.
    func export(_ what: String, layer: (Autoencoder) -> Int) throws {
        let (config, model) = try RunDirectory(path: run).loadModel()
        let images = try runVectors(for: config, run: run, npy: npy, tensor: tensor, split: split, fashionMNIST: data)
        // Refuse a bad --out before the (possibly long) computation, and one that is an input.
        try UserOutput.check(out, force: force, reading: inputFiles)
        let last = layer(model), columns = model.layers[last].outputSize
        try UserOutput.write(to: out, force: force) { sink in
            try sink.write(NPY.header(rows: images.count, cols: columns))
            try model.forEachOutputBatch(of: images, through: last) { batch, _ in
                // A shard that cannot be read fails the file rather than filling it with zeros.
                if let failure = images.readFailure { throw failure }
                try sink.write(UnsafeRawBufferPointer(batch))
            }
            if let failure = images.readFailure { throw failure }
        }
        printError("Wrote \(out): \(images.count) x \(columns) \(what) (float32)")
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's codes of the test (or training) set as a float32 .npy file (N, code).",
        discussion: "Example:\n  sae encode runs/kl --out codes.npy   # np.load gives (10000, 64)")

    @OptionGroup var options: ExportOptions

    func run() throws {
        try options.export("codes") { $0.config.codeLayerIndex }
    }
}

struct Reconstruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's reconstructions (a transcoder's predictions) of the test (or training) set as a float32 .npy file (N, output size).",
        discussion: "Example (values in (0, 1) for the tutorial's sigmoid output):\n  sae reconstruct runs/l1 --out recon.npy")

    @OptionGroup var options: ExportOptions

    func run() throws {
        try options.export("reconstructions") { $0.layers.count - 1 }
    }
}

struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the metrics of one or more runs side by side.",
        discussion: "Example:\n  sae metrics runs/demo/l1 runs/demo/kl")

    @Argument(help: "Run directories.") var runs: [String]

    func validate() throws {
        if runs.isEmpty { throw ValidationError("give at least one run directory") }
    }

    func run() throws {
        var configs: [RunConfig] = []
        let table = try runs.map { path -> (name: String, metrics: RunMetrics) in
            let run = RunDirectory(path: path)
            configs.append(try run.loadConfig())
            return ((run.path as NSString).lastPathComponent, try run.loadMetrics())
        }
        print(MetricsTable.render(table, wording: RunWording(configs)))
    }
}
