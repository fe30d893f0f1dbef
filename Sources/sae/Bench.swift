import ArgumentParser
import SparseAutoencoder
import SparseAutoencoderToolkit

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training per phase and compare it with sgemm alone on the model's shapes.",
        discussion: """
            Trains the model (the tutorial's on Fashion-MNIST, or a dictionary SAE on --data-npy vectors) \
            for one warm-up epoch and --epochs timed ones, \
            then times OpenBLAS's sgemm alone on every matrix product of a step. Prints seconds \
            per epoch (median), the time per phase (data, forward, loss, backward, optimizer, \
            validation), the floor that sgemm alone would allow, and the achieved GFLOP/s.
            For the side-by-side comparison with Keras, run `make bench`.
            Examples:
              sae bench --penalty kl --epochs 3
              sae bench --data-npy train.npy --val-npy val.npy --code 4096 --k 32 \\
                --auxk 256 --batch-size 1024
            """)

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions

    @Option(parsing: .unconditional, help: "Timed epochs (after one warm-up epoch).") var epochs = 3
    @Option(parsing: .unconditional, help: "Samples per batch.") var batchSize = 256
    @Option(parsing: .unconditional, help: "Adam's learning rate.") var learningRate: Float = 1e-3

    func run() throws {
        guard epochs > 0 else { throw ValidationError("--epochs must be > 0") }
        let data = try dataOptions.load()
        let train = dataOptions.trainLimit.map { data.train.prefix($0) } ?? data.train
        let config = try model.config(inputSize: train.featureCount, outputSize: train.targets?.featureCount, defaultArchitecture: dataOptions.defaultArchitecture)
        let report = try Benchmark.run(config, train: train, test: data.test, epochs: epochs,
                                       settings: TrainingSettings(batchSize: batchSize, optimizer: AdamSettings(
                                           learningRate: learningRate, epsilon: AdamSettings.defaultEpsilon(for: config.architecture))))
        print(report.table)
    }
}
