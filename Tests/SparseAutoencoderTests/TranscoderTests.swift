import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Transcoders: every architecture encoding x (d_in features) and decoding to another vector y
/// (d_out): gradients against finite differences, the sparse step against the dense one, pairs
/// kept together through subsets and batches, training that learns y, and exact resume.
final class TranscoderTests: XCTestCase {
    private let (dIn, dOut, c) = (5, 7, 12)

    private func config(_ architecture: AutoencoderConfig.Architecture, k: Int? = 3, penalty: ActivityPenalty = .none,
                        unitNormDecoder: Bool = false) -> AutoencoderConfig {
        var config = AutoencoderConfig.dictionary(inputSize: dIn, codeSize: c, topK: architecture == .dictionary ? k : nil,
                                                  penalty: penalty, unitNormDecoder: unitNormDecoder)
        (config.architecture, config.outputSize) = (architecture, dOut)
        if architecture.takesK { config.topK = k }
        if architecture == .matryoshka { config.groups = [4, 8] }
        return config
    }

    /// Biases away from zero, so that every term of the gradient is exercised.
    private func model(_ config: AutoencoderConfig) throws -> Autoencoder {
        let m = try Autoencoder(config: config, seed: 3)
        var p = m.parameterValues
        for layer in m.layers { for j in 0..<layer.outputSize { p[layer.biasOffset + j] = Float(j % 5) * 0.05 - 0.1 } }
        m.parameterValues = p
        return m
    }

    func testShapesAndTheEncoderReadsTheInputUncentred() throws {
        let m = try model(config(.dictionary))
        XCTAssertEqual(m.layers.map(\.inputSize), [dIn, c])
        XCTAssertEqual(m.layers.map(\.outputSize), [c, dOut])
        XCTAssertTrue(m.config.isTranscoder)
        XCTAssertFalse(m.config.isCentred)
        // The code does not depend on b_dec (which lives in y's space).
        let x = randomFloats(4 * dIn, seed: 1)
        let before = m.encode(x)
        var p = m.parameterValues
        for i in 0..<dOut { p[m.layers[1].biasOffset + i] += 3 }
        m.parameterValues = p
        XCTAssertEqual(m.encode(x), before)
        XCTAssertEqual(m.reconstruct(x).count, 4 * dOut)
        XCTAssertEqual(m.decode(before).count, 4 * dOut)
    }

    /// TopK, BatchTopK and Matryoshka (the sparse step) and a relu dictionary with L1 (the dense
    /// step), each as a transcoder, against central differences of its objective on (x, y).
    func testGradientsMatchFiniteDifferences() throws {
        let batch = 4, x = randomFloats(batch * dIn, seed: 9, in: -1...2), y = randomFloats(batch * dOut, seed: 10, in: -1...1)
        for config in [config(.dictionary), config(.batchtopk), config(.matryoshka), config(.dictionary, k: nil, penalty: .l1(lambda: 0.01))] {
            let m = try model(config)
            let ws = Workspace(model: m, capacity: batch)
            ws.training = true
            XCTAssertEqual(ws.sparse != nil, config.penalty == .none, "\(config.architecture)")
            XCTAssertNil(ws.centered)
            m.assertBackwardMatchesFiniteDifferences(ws, x, batch: batch, targets: y)
        }
    }

    /// The sparse step's TopK + AuxK against the dense reference, as a transcoder with a unit-norm
    /// decoder: the same predictions, losses and every gradient.
    func testSparseStepEqualsDenseStepWithAuxK() throws {
        var config = config(.dictionary, k: 3, unitNormDecoder: true)
        config.auxK = AuxK(k: 4, coefficient: 0.5)
        let m = try model(config), batch = 9
        let x = randomFloats(batch * dIn, seed: 7, in: -1...2), y = randomFloats(batch * dOut, seed: 8, in: -1...1)
        func step(sparse: Bool) -> (prediction: [Float], loss: Autoencoder.BatchLoss, gradients: [Float]) {
            let ws = Workspace(model: m, capacity: batch, sparseStep: sparse)
            XCTAssertEqual(ws.sparse != nil, sparse)
            let dead = DeadLatents(codeSize: c, deadAfter: 1)
            dead.markDead(Array(stride(from: 0, to: c, by: 3)))
            ws.input.update(from: x, count: x.count)
            ws.target.update(from: y, count: y.count)
            m.forward(ws, batch: batch)
            var g = [Float](repeating: 0, count: m.parameterCount)
            let loss = m.lossAndGradient(ws, batch: batch, dead: dead, into: &g)
            return (Array(UnsafeBufferPointer(start: ws.outputs[1], count: batch * dOut)), loss, g)
        }
        let (dense, sparse) = (step(sparse: false), step(sparse: true))
        XCTAssertGreaterThan(sparse.loss.aux, 0, "AuxK ran")
        XCTAssertEqual(sparse.loss.reconstruction, dense.loss.reconstruction, accuracy: 1e-5 * dense.loss.reconstruction)
        XCTAssertEqual(sparse.loss.aux, dense.loss.aux, accuracy: 1e-5 * dense.loss.aux)
        for (a, b) in zip(sparse.prediction, dense.prediction) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        let norm = dense.gradients.reduce(0) { max($0, abs($1)) }
        XCTAssertGreaterThan(norm, 0)
        for (i, (a, b)) in zip(sparse.gradients, dense.gradients).enumerated() { XCTAssertEqual(a, b, accuracy: 1e-5 * norm, "parameter \(i)") }
    }

    /// Inputs and targets stay row for row together through subsets, prefixes, held-out splits and
    /// batches; counts and widths that do not fit are refused.
    func testPairsStayTogether() throws {
        let n = 40
        let x = Dataset(vectors: (0..<(n * 2)).map { Float($0 / 2) }, count: n, features: 2)
        let y = Dataset(vectors: (0..<(n * 3)).map { Float($0 / 3) * 10 }, count: n, features: 3)
        let paired = try x.pairing(targets: y)
        XCTAssertEqual(paired.targetFeatureCount, 3)
        func check(_ d: Dataset) {
            let inputs = d.floats(0..<d.count), targets = d.targets!.floats(0..<d.count)
            for r in 0..<d.count { XCTAssertEqual(targets[r * 3], inputs[r * 2] * 10) }
        }
        check(paired.subset([5, 1, 30]))
        check(paired.prefix(7))
        let (kept, held) = paired.split(holdingOut: 0.25, seed: 1)
        check(kept)
        check(held)
        XCTAssertThrowsError(try x.pairing(targets: y.prefix(10))) { XCTAssertTrue("\($0)".contains("10 rows"), "\($0)") }
        // A model that expects targets refuses data without them, and the reverse.
        let model = try Autoencoder(config: AutoencoderConfig(architecture: .dictionary, inputSize: 2, hiddenSizes: [], codeSize: 4,
                                                              loss: .mse, outputSize: 3), seed: 1)
        XCTAssertThrowsError(try model.fit(x, settings: TrainingSettings(epochs: 1))) { XCTAssertTrue("\($0)".contains("--target-npy"), "\($0)") }
        let wide = try Autoencoder(config: AutoencoderConfig(architecture: .dictionary, inputSize: 2, hiddenSizes: [], codeSize: 4,
                                                             loss: .mse, outputSize: 5), seed: 1)
        XCTAssertThrowsError(try wide.fit(paired, settings: TrainingSettings(epochs: 1))) { XCTAssertTrue("\($0)".contains("predicts 5"), "\($0)") }
        let autoencoder = try Autoencoder(config: .dictionary(inputSize: 2, codeSize: 4), seed: 1)
        XCTAssertThrowsError(try autoencoder.fit(paired, settings: TrainingSettings(epochs: 1)))
        XCTAssertThrowsError(try AutoencoderConfig(inputSize: 4, outputSize: 3).validate(), "a mirrored transcoder")
    }

    /// y = a sparse code of x through a hidden dictionary: every architecture, trained as a
    /// transcoder, predicts y far better than the mean target does (FVU well below 1; an
    /// autoencoder's FVU against y would be meaningless), and starts b_dec at the mean target.
    func testEveryArchitectureLearnsToPredictTheTargets() throws {
        let (n, din, dout, latents) = (1200, 8, 12, 32)
        var rng = SeededGenerator(seed: 4)
        let w = (0..<(latents * din)).map { _ in 2 * rng.nextUnitFloat() - 1 }, dec = (0..<(latents * dout)).map { _ in 2 * rng.nextUnitFloat() - 1 }
        let xs = (0..<(n * din)).map { _ in 2 * rng.nextUnitFloat() - 1 }
        var ys = [Float](repeating: 0.5, count: n * dout)
        for r in 0..<n {
            for j in 0..<latents {
                var pre: Float = 0
                for i in 0..<din { pre += xs[r * din + i] * w[j * din + i] }
                guard pre > 1.2 else { continue }
                for i in 0..<dout { ys[r * dout + i] += (pre - 1.2) * dec[j * dout + i] }
            }
        }
        let data = try Dataset(vectors: xs, count: n, features: din).pairing(targets: Dataset(vectors: ys, count: n, features: dout))
        let (train, test) = data.split(holdingOut: 0.2, seed: 2)
        var configs: [AutoencoderConfig] = []
        for architecture in [AutoencoderConfig.Architecture.dictionary, .batchtopk, .matryoshka, .jumprelu, .gated] {
            var config = AutoencoderConfig.dictionary(inputSize: din, codeSize: 48, topK: architecture == .dictionary ? 6 : nil)
            (config.architecture, config.outputSize) = (architecture, dout)
            switch architecture {
            case .batchtopk, .matryoshka: config.topK = 6
            case .jumprelu: config.jumpReLU = JumpReLUSettings(coefficient: 0.1, targetL0: 6)
            case .gated: config.gateL1 = 0.01
            default: break
            }
            if architecture == .matryoshka { config.groups = [16, 32] }
            configs.append(config)
        }
        var l1 = AutoencoderConfig.dictionary(inputSize: din, codeSize: 48, penalty: .l1(lambda: 1e-3))
        l1.outputSize = dout
        configs.append(l1)
        let meanTarget = (0..<dout).map { i in (0..<train.count).reduce(0.0) { $0 + Double(train.targets!.floats($1..<($1 + 1))[i]) } / Double(train.count) }
        for config in configs {
            // The trainer starts b_dec at the mean target (an epoch at a negligible learning rate leaves it there).
            let still = try Autoencoder(config: config, seed: 1)
            try still.fit(train, settings: TrainingSettings(epochs: 1, batchSize: 64, optimizer: AdamSettings(learningRate: 1e-9), seed: 1))
            let bDec = still.layers[1].biasOffset
            for i in 0..<dout { XCTAssertEqual(Double(still.parameterValues[bDec + i]), meanTarget[i], accuracy: 1e-4, "\(config.architecture)") }
            let m = try Autoencoder(config: config, seed: 1)
            try m.fit(train, settings: TrainingSettings(epochs: 15, batchSize: 64, optimizer: AdamSettings(learningRate: 3e-3), seed: 1))
            let evaluation = m.evaluate(test)
            let fvu = try XCTUnwrap(evaluation.fvu)
            XCTAssertLessThan(fvu, 0.5, "\(config.architecture) \(config.penalty)")
            XCTAssertEqual(evaluation.codes.count, test.count * 48)
        }
    }

    func testCheckpointResumesExactly() throws {
        let n = 300
        let data = try Dataset(vectors: randomFloats(n * dIn, seed: 5), count: n, features: dIn)
            .pairing(targets: Dataset(vectors: randomFloats(n * dOut, seed: 6), count: n, features: dOut))
        var topk = config(.dictionary)
        topk.auxK = AuxK(k: 4)
        for config in [topk, config(.batchtopk)] {
            try assertCheckpointResumesExactly(config, on: data, settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64),
                                               stopAfter: 12, at: .interrupted(epoch: 2, step: 1), in: temporaryDirectory(self))
        }
    }

    // MARK: - Through the tool

    /// (rows, 12) inputs, and targets of `width` features: a fixed sparse code of each input
    /// through other directions, plus an offset.
    private func pairs(rows: Int, width: Int, seed: UInt64) -> (x: [Float], y: [Float]) {
        let x = randomFloats(rows * 12, seed: seed)
        let read = randomFloats(30 * 12, seed: 90), write = randomFloats(30 * width, seed: 91)
        var y = [Float](repeating: 0.25, count: rows * width)
        for r in 0..<rows {
            for j in 0..<30 {
                var pre: Float = 0
                for i in 0..<12 { pre += x[r * 12 + i] * read[j * 12 + i] }
                if pre > 1 { for i in 0..<width { y[r * width + i] += (pre - 1) * write[j * width + i] } }
            }
        }
        return (x, y)
    }

    /// `sae train --target-npy` (held-out and given validation targets), an interrupted run
    /// resumed to the uninterrupted weights, analyze, encode/reconstruct at the target width, and
    /// exports that numpy reproduces (SAELens's transcoder and jumprelu_transcoder, sparsify's
    /// transcode), with the formats' refusals; and the options' errors, nothing written.
    func testTheToolTrainsResumesAnalysesAndExportsTranscoders() throws {
        let dir = temporaryDirectory(self)
        for (name, rows, width, seed) in [("train", 1500, 9, UInt64(1)), ("val", 200, 9, 2), ("square", 1500, 12, 1)] {
            let (x, y) = pairs(rows: rows, width: width, seed: seed)
            try NPY.write(x, rows: rows, cols: 12, to: dir + "/\(name)-x.npy")
            try NPY.write(y, rows: rows, cols: width, to: dir + "/\(name)-y.npy")
        }
        let data = ["--data-npy", dir + "/train-x.npy", "--target-npy", dir + "/train-y.npy", "--code", "48", "--batch-size", "32"]
        let validation = ["--val-npy", dir + "/val-x.npy", "--val-target-npy", dir + "/val-y.npy"]
        // Held-out validation rows keep their targets; the run records both files.
        let held = try runSAE(["train"] + data + ["--k", "4", "--epochs", "2", "--out", dir + "/held"])
        XCTAssertEqual(held.status, 0, held.stderr)
        XCTAssertTrue(held.stdout.contains("validating on 150"), held.stdout)
        let heldConfig = try RunDirectory(path: dir + "/held").loadConfig()
        XCTAssertEqual(heldConfig.model.outputSize, 9)
        XCTAssertEqual(heldConfig.data.targetFiles, [dir + "/train-y.npy"])
        XCTAssertLessThan(try RunDirectory(path: dir + "/held").loadMetrics().testFvu!, 0.9)

        // Interrupted at step 3 and resumed: the uninterrupted run's weights.
        let options = data + validation + ["--architecture", "jumprelu", "--target-l0", "4", "--epochs", "3"]
        XCTAssertEqual(try runSAE(["train"] + options + ["--out", dir + "/jumprelu"]).status, 0)
        let stopped = try runSAE(["train"] + options + ["--out", dir + "/stopped"], environment: ["SAE_FAULT": "step@3:interrupt"])
        XCTAssertNotEqual(stopped.status, 0)
        let resumed = try runSAE(["train", "--resume", dir + "/stopped"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/stopped/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/jumprelu/model.safetensors")))
        let analyze = try runSAE(["analyze", dir + "/jumprelu"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)

        // Exports numpy reproduces: codes from x, predictions of y's width.
        let relu = try runSAE(["train"] + data + validation + ["--penalty", "l1", "--l1", "1e-3", "--epochs", "2", "--out", dir + "/relu"])
        XCTAssertEqual(relu.status, 0, relu.stderr)
        let square = try runSAE(["train", "--data-npy", dir + "/square-x.npy", "--target-npy", dir + "/square-y.npy", "--code", "48",
                                 "--k", "4", "--epochs", "2", "--out", dir + "/topk"])
        XCTAssertEqual(square.status, 0, square.stderr)
        for (run, format, architecture) in [("relu", "saelens", "transcoder"), ("jumprelu", "saelens", "jumprelu_transcoder"), ("topk", "sparsify", nil)] {
            let path = dir + "/" + run
            for (what, file) in [("encode", "codes"), ("reconstruct", "recon")] {
                let r = try runSAE([what, path, "--npy", dir + "/val-x.npy", "--out", path + "/\(file).npy"])
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            XCTAssertEqual(try NPY.read(path: path + "/recon.npy").cols, run == "topk" ? 12 : 9)
            let export = try runSAE(["export", path, "--format", format, "--out", path + "/export"])
            XCTAssertEqual(export.status, 0, export.stderr)
            let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path + "/export/cfg.json"))) as! [String: Any]
            if let architecture {
                XCTAssertEqual(cfg["architecture"] as? String, architecture)
                XCTAssertEqual(cfg["d_out"] as? Int, 9)
                XCTAssertEqual(cfg["apply_b_dec_to_input"] as? Bool, false)
            } else {
                XCTAssertEqual(cfg["transcode"] as? Bool, true)
            }
            let check = try runPython([InteropTests.script, path + "/export", dir + "/val-x.npy", path + "/codes.npy", path + "/recon.npy"])
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertTrue(check.output.contains("transcoder, relative code error"), check.output)
        }
        assertCommandFails(try runSAE(["export", dir + "/topk", "--format", "saelens", "--out", dir + "/no"]), mentioning: "no topk transcoder (export it as sparsify")
        assertCommandFails(try runSAE(["export", dir + "/held", "--format", "sparsify", "--out", dir + "/no"]), mentioning: "predicts 9 features")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/no"))

        // The options' errors: one line each, nothing written.
        try NPY.write([Float](repeating: 1, count: 10 * 9), rows: 10, cols: 9, to: dir + "/short.npy")
        let out = ["--out", dir + "/bad"]
        assertCommandFails(try runSAE(["train", "--target-npy", dir + "/train-y.npy"] + out), mentioning: "--target-npy needs --data-npy")
        assertCommandFails(try runSAE(["train"] + data + ["--val-npy", dir + "/val-x.npy"] + out), mentioning: "give --val-target-npy")
        assertCommandFails(try runSAE(["train"] + data.prefix(2) + ["--target-npy", dir + "/short.npy"] + out), mentioning: "holds 10 target rows but")
        assertCommandFails(try runSAE(["train"] + data + ["--architecture", "mirrored"] + out), mentioning: "a transcoder is a dictionary SAE")
        assertCommandFails(try runSAE(["train"] + data + validation.prefix(2) + ["--val-target-npy", dir + "/short.npy"] + out), mentioning: "holds 10 target rows")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
        // --resume takes the targets from config.json.
        assertCommandFails(try runSAE(["train", "--resume", dir + "/held", "--target-npy", dir + "/val-y.npy"]), mentioning: "drop --target-npy")
    }
}
