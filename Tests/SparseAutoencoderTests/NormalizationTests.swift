import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Activation normalisation (SAELens's "expected_average_only_in"): the factor, the scaled view
/// of the data, the fold into the weights, and the tool's runs with it.
final class NormalizationTests: XCTestCase {
    func testTheFactorBringsTheMeanNormToTheSquareRootOfTheWidth() {
        let (n, d) = (50, 8), values = randomFloats(n * d, seed: 4, in: -30...30)
        let data = Dataset(vectors: values, count: n, features: d)
        let norms = (0..<n).map { r in Double((0..<d).reduce(Float(0)) { $0 + values[r * d + $1] * values[r * d + $1] }).squareRoot() }
        let s = try! XCTUnwrap(data.normalizingScale())
        XCTAssertEqual(Double(s), Double(d).squareRoot() / (norms.reduce(0, +) / Double(n)), accuracy: 1e-6 * Double(s))
        // Read scaled through both paths, and kept through subsets and prefixes.
        let scaled = data.normalized(inputScale: s)
        XCTAssertEqual(scaled.floats(3..<5), values[(3 * d)..<(5 * d)].map { $0 * s })
        var gathered = [Float](repeating: 0, count: 2 * d)
        [7, 2].withUnsafeBufferPointer { rows in gathered.withUnsafeMutableBufferPointer { scaled.gather(rows, into: $0.baseAddress!) } }
        XCTAssertEqual(gathered, (values[(7 * d)..<(8 * d)] + values[(2 * d)..<(3 * d)]).map { $0 * s })
        XCTAssertEqual(scaled.subset([7, 2]).floats(0..<2), gathered)
        XCTAssertEqual(scaled.prefix(3).floats(0..<3), values[0..<(3 * d)].map { $0 * s })
        XCTAssertNil(Dataset(vectors: [Float](repeating: 0, count: 12), count: 3, features: 4).normalizingScale())
    }

    /// The folded model reads x as stored and gives the code the trained one gives s_x x, and
    /// y / s_y for its y: a TopK SAE, a JumpReLU one and a transcoder.
    func testFoldingKeepsEveryCodeAndScalesTheOutput() throws {
        var topk = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20, topK: 4)
        topk.unitNormDecoder = true
        var jumprelu = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20, unitNormDecoder: false)
        jumprelu.architecture = .jumprelu
        jumprelu.jumpReLU = JumpReLUSettings(bandwidth: 0.05, coefficient: 0.5, targetL0: 3)
        var transcoder = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20, topK: 4)
        transcoder.outputSize = 9
        for config in [topk, jumprelu, transcoder] {
            let (sx, sy): (Float, Float) = (0.37, config.isTranscoder ? 2.5 : 0.37)
            let trained = try Autoencoder(config: config, seed: 8)
            if let thresholds = (trained.selection as? JumpReLU)?.thresholds { for j in 0..<20 { thresholds[j] = Float(j % 4) * 0.05 } }
            let folded = try Autoencoder(config: config, seed: 8)
            folded.parameterValues = trained.parameterValues
            if let thresholds = (folded.selection as? JumpReLU)?.thresholds { for j in 0..<20 { thresholds[j] = Float(j % 4) * 0.05 } }
            folded.foldNormalization(inputScale: sx, targetScale: sy)
            let x = randomFloats(11 * 6, seed: 5, in: -3...3)
            let (codes, foldedCodes) = (trained.encode(x.map { $0 * sx }), folded.encode(x))
            XCTAssertGreaterThan(foldedCodes.filter { $0 != 0 }.count, 11)
            for (a, b) in zip(codes, foldedCodes) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a)), "\(config.architecture)") }
            let (output, foldedOutput) = (trained.reconstruct(x.map { $0 * sx }), folded.reconstruct(x))
            for (a, b) in zip(output, foldedOutput) { XCTAssertEqual(a / sy, b, accuracy: 1e-4 * max(1, abs(a / sy)), "\(config.architecture)") }
        }
    }

    /// `--normalize-activations` on vectors far from unit scale: the factor recorded, an
    /// interrupted run resumed to the uninterrupted weights, the saved model's codes those of the
    /// checkpoint's model on the scaled vectors; refusals leave nothing behind.
    func testTheToolTrainsResumesAndSavesANormalizedRun() throws {
        let dir = temporaryDirectory(self), (n, d) = (400, 6)
        let values = randomFloats(n * d, seed: 13, in: -1...1).map { $0 * 50 + 20 }
        try NPY.write(values, rows: n, cols: d, to: dir + "/x.npy")
        let common = ["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "3", "--epochs", "3", "--batch-size", "32", "--normalize-activations"]
        XCTAssertEqual(try runSAE(common + ["--out", dir + "/reference"]).status, 0)
        let interrupted = try runSAE(common + ["--out", dir + "/run"], environment: ["SAE_FAULT": "step@14:interrupt"])
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        let resumed = try runSAE(["train", "--resume", dir + "/run"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let run = RunDirectory(path: dir + "/run"), config = try run.loadConfig()
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/run/model.safetensors"), FileManager.default.contents(atPath: dir + "/reference/model.safetensors"))
        // The factor: sqrt(d) over the mean norm of the training rows (all of them, under 65,536).
        let train = try config.data.load(fashionMNIST: nil, log: { _ in }).train
        XCTAssertEqual(config.data.inputScale, train.normalizingScale())
        let s = try XCTUnwrap(config.data.inputScale)
        XCTAssertLessThan(s, 0.1)
        // The saved model reads vectors as stored; the checkpoint's reads them scaled.
        let (_, saved) = try run.loadModel()
        let checkpoint = try Trainer(model: try Autoencoder(config: config.model), settings: config.training)
        try checkpoint.restoreCheckpoint(from: run.checkpointPath)
        let x = Array(values[0..<(20 * d)])
        for (a, b) in zip(checkpoint.model.encode(x.map { $0 * s }), saved.encode(x)) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(a))) }
        // Refusals before anything is written.
        assertCommandFails(try runSAE(["train", "--data", fashionMini, "--normalize-activations", "--out", dir + "/fm"]),
                           mentioning: "--normalize-activations scales your vectors: give --data-npy")
        try NPY.write([Float](repeating: 0, count: 40), rows: 10, cols: 4, to: dir + "/zero.npy")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/zero.npy", "--code", "8", "--normalize-activations", "--out", dir + "/zero"]),
                           mentioning: "cannot normalise the activations: the training vectors sampled are all zero")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/x.npy", "--architecture", "mirrored", "--normalize-activations", "--out", dir + "/mirrored"]),
                           mentioning: "--normalize-activations: is for a dictionary SAE's vectors")
        for name in ["fm", "zero", "mirrored"] { XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/" + name), name) }
    }
}
