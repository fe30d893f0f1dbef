// The getting-started article's code, run as a program (the article is
// Sources/SparseAutoencoder/SparseAutoencoder.docc/GettingStarted.md):
//
//     swift run GettingStarted                                                 # the tutorial: real Fashion-MNIST, 30 epochs
//     swift run GettingStarted --data Tests/Fixtures/fashion-mini --epochs 3   # a few seconds
//
// Options: --data DIR (Fashion-MNIST's four files; default: where `sae train` looks), --epochs N
// (30), --vectors N (vectors drawn for the dictionary part, 4096), --out DIR (where the vectors
// and the SAELens export go, kept; default: a temporary directory, removed when the program ends).
//
// Each region between `// article: begin` and `// article: end` is one of the article's code
// blocks, character for character, in order: ExampleTests checks it, and CI runs this program on
// the test fixture, so the article's code compiles and runs.
import Foundation

// MARK: - Options (not in the article)

var data: String?
var epochs = 30
var vectorCount = 4096
var userOut: String?
var arguments = CommandLine.arguments.dropFirst()
while let option = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fatalError("\(option) needs a value") }
    switch option {
    case "--data": data = value
    case "--epochs": epochs = Int(value) ?? 0
    case "--vectors": vectorCount = Int(value) ?? 0
    case "--out": userOut = value
    default:
        FileHandle.standardError.write(Data("usage: GettingStarted [--data DIR] [--epochs N] [--vectors N] [--out DIR]\n".utf8))
        exit(2)
    }
}
guard epochs > 0, vectorCount >= 10 else { fatalError("--epochs must be > 0 and --vectors >= 10") }
// Without --out, the files go to a directory of this process's own that is removed at exit, so
// that runs leave nothing behind in /tmp. (A thrown error ends the program with Swift's trap,
// which runs no exit handler: that directory then stays, with what was written before the error.)
let temporaryOut = userOut == nil ? NSTemporaryDirectory() + "sae-getting-started-\(ProcessInfo.processInfo.processIdentifier)" : nil
let out = userOut ?? temporaryOut!
if temporaryOut != nil {
    atexit { if let temporaryOut { try? FileManager.default.removeItem(atPath: temporaryOut) } }
}

// MARK: - The tutorial's two models

// article: begin
import SparseAutoencoder

let (train, test) = try FashionMNIST.load(directory: data)   // data nil: Debian's package, the cache or a download
for penalty: ActivityPenalty in [.l1(lambda: 1e-5), .kl(rho: 0.05, beta: 3)] {
    let model = try Autoencoder(config: .tutorial(penalty), seed: 1)   // 784-128-64-128-784; relu code for L1, sigmoid for KL
    let history = try model.fit(train, validation: test, settings: TrainingSettings(epochs: epochs))
    let result = model.evaluate(test)
    print(penalty.name, "loss by epoch:", history.map(\.loss), "val_loss:", history.map { $0.valLoss ?? .nan })
    print(penalty.name, "test: bce", result.bce ?? .nan, "mse", result.mse, "mean activation", result.meanActivation,
          "quiet units", result.quietUnits, "of", model.config.codeSize)
}
// article: end

// MARK: - Vectors of your own (not in the article: a stand-in for a model's activations)

// Sparse sums of 256 random unit directions in 64 dimensions, 4 per vector, plus a little noise:
// data a dictionary of 512 latents can explain.
try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
let vectorsPath = out + "/acts.npy", exportDirectory = out + "/export"
var rng = SeededGenerator(seed: 7)
func gaussian(_ rng: inout SeededGenerator) -> Float {
    let u = max(rng.nextUnitFloat(), 1e-7), v = rng.nextUnitFloat()
    return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
}
let dimensions = 64
let directions: [[Float]] = (0..<256).map { _ in
    let d = (0..<dimensions).map { _ in gaussian(&rng) }
    let norm = d.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return d.map { $0 / norm }
}
var vectors = [Float](repeating: 0, count: vectorCount * dimensions)
for row in 0..<vectorCount {
    for _ in 0..<4 {
        let direction = directions[Int(rng.next() % 256)], scale = 0.5 + rng.nextUnitFloat()
        for i in 0..<dimensions { vectors[row * dimensions + i] += scale * direction[i] }
    }
    for i in 0..<dimensions { vectors[row * dimensions + i] += 0.01 * gaussian(&rng) }
}
try NPY.write(vectors, rows: vectorCount, cols: dimensions, to: vectorsPath)

// MARK: - A TopK dictionary on them

// article: begin
let acts = try Dataset(npy: vectorsPath)                          // (N, d) .npy or .safetensors, one vector a row
let (fitSet, heldOut) = acts.split(holdingOut: 0.1, seed: 1)
let config = AutoencoderConfig.dictionary(inputSize: acts.featureCount, codeSize: 8 * acts.featureCount,
                                          topK: 32, auxK: AuxK(k: acts.featureCount / 2))   // k_aux: half the width, as Gao et al.
let sae = try Autoencoder(config: config, seed: 1)
let fitted = try sae.fit(fitSet, validation: heldOut, settings: TrainingSettings(epochs: epochs))
let codes = sae.encode(heldOut)                                  // (heldOut.count, codeSize), row-major
let active = Double(codes.filter { $0 > 0 }.count) / Double(heldOut.count)
print("dictionary loss by epoch:", fitted.map(\.loss), "held-out fvu:", sae.evaluate(heldOut).fvu ?? .nan, "active latents per vector:", active)
let files = try SAEExport.write(sae, format: .saelens, to: exportDirectory)   // cfg.json + sae_weights.safetensors
print("exported for SAELens:", files.joined(separator: " "))
// article: end
