import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class GradientClippingTests: XCTestCase {
    /// The pool's parts and the kernel's lanes (and its tail) add up to the plain sum.
    func testSumOfSquaresIsThePlainSum() {
        for n in [0, 1, 15, 17, 200_003] {
            let g = randomFloats(n, seed: UInt64(n) + 1)
            let expected = g.reduce(0.0) { $0 + Double($1) * Double($1) }
            let sum = g.withUnsafeBufferPointer { GradientClipping.sumOfSquares($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: n) }
            XCTAssertEqual(sum, expected, accuracy: 1e-12 * max(expected, 1), "n \(n)")
        }
    }

    /// Above the limit the norm becomes the limit (torch's factor, limit / (norm + 1e-6)); at
    /// or below it the gradient is left as it is, bit for bit.
    func testScalesOnlyAboveTheLimit() {
        var g = randomFloats(100_001, seed: 3)
        let norm = g.withUnsafeBufferPointer { GradientClipping.sumOfSquares($0.baseAddress!, count: $0.count) }.squareRoot()
        let untouched = g
        XCTAssertEqual(g.withUnsafeMutableBufferPointer { GradientClipping.scale($0.baseAddress!, count: $0.count, norm: norm, to: Float(norm) * 2) }, 1)
        XCTAssertEqual(g, untouched)
        let factor = g.withUnsafeMutableBufferPointer { GradientClipping.scale($0.baseAddress!, count: $0.count, norm: norm, to: 0.5) }
        XCTAssertEqual(Double(factor), 0.5 / (norm + 1e-6), accuracy: 1e-7 * 0.5 / norm)
        for i in stride(from: 0, to: g.count, by: 997) { XCTAssertEqual(g[i], untouched[i] * factor) }
        let after = g.withUnsafeBufferPointer { GradientClipping.sumOfSquares($0.baseAddress!, count: $0.count) }.squareRoot()
        XCTAssertEqual(after, 0.5, accuracy: 1e-5)
    }

    /// A trainer with --max-grad-norm takes the step computed by hand: the batch's gradient,
    /// scaled to the limit, then Adam. A limit above every gradient changes nothing.
    func testTrainerClipsTheStepsGradient() throws {
        var config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24, topK: 3)
        config.auxK = nil
        let data = syntheticImages(count: 32, side: 4)
        let adam = AdamSettings(learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8)
        func trained(limit: Float?, steps: Int) throws -> [Float] {
            let model = try Autoencoder(config: config, seed: 4)
            let settings = TrainingSettings(epochs: steps, batchSize: 32, optimizer: adam, seed: 4, maxGradientNorm: limit)
            try Trainer(model: model, settings: settings).fit(data)
            return model.parameterValues
        }
        // By hand: the same two full-batch steps (the shuffle does not change a full batch's
        // gradient beyond rounding).
        let model = try Autoencoder(config: config, seed: 4), optimizer = Adam(settings: adam, parameterCount: model.parameterCount)
        let ws = Workspace(model: model, capacity: 32)
        model.dictionary!.startDecoderBias(sums: DictionaryBehaviour.featureSums(of: data, rows: 0..<32), count: 32)   // (as fit does)
        var g = [Float](repeating: 0, count: model.parameterCount)
        var norms: [Double] = []
        for _ in 0..<2 {
            Array(0..<32).withUnsafeBufferPointer { ws.load(data, rows: $0) }
            ws.training = true
            model.forward(ws, batch: 32)
            _ = model.loss(ws, batch: 32, keepingGradient: true)
            g.withUnsafeMutableBufferPointer { p in
                model.backward(ws, batch: 32, gradients: p.baseAddress!)
                let norm = GradientClipping.sumOfSquares(p.baseAddress!, count: p.count).squareRoot()
                norms.append(norm)
                GradientClipping.scale(p.baseAddress!, count: p.count, norm: norm, to: 1e-3)
                model.update(with: optimizer, gradients: p.baseAddress!)
            }
        }
        XCTAssertGreaterThan(norms.min()!, 1e-2, "the limit below must clip both steps")
        let clipped = try trained(limit: 1e-3, steps: 2), plain = try trained(limit: nil, steps: 2)
        let expected = model.parameterValues
        let scale = expected.map(abs).max()!
        XCTAssertLessThan(zip(clipped, expected).map { abs($0 - $1) }.max()!, 1e-5 * scale)
        XCTAssertGreaterThan(zip(plain, expected).map { abs($0 - $1) }.max()!, 1e-3 * scale, "clipping changed nothing")
        XCTAssertEqual(try trained(limit: 1e9, steps: 2), plain)
    }

    /// JumpReLU and Gated clip at 1 / d unless told (dictionary_learning's clipping), a
    /// transcoder's d being its targets'; the others do not; `none` and a number override; the
    /// limit is the run's, in config.json.
    func testTheToolClipsJumpReLUAndGatedByDefault() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(300 * 8, seed: 1), rows: 300, cols: 8, to: dir + "/x.npy")
        try NPY.write(randomFloats(300 * 5, seed: 2), rows: 300, cols: 5, to: dir + "/y.npy")
        let cases: [([String], Float?)] = [
            (["--architecture", "jumprelu", "--target-l0", "3"], 1.0 / 8), (["--architecture", "gated"], 1.0 / 8),
            (["--architecture", "gated", "--target-npy", dir + "/y.npy"], 1.0 / 5),
            (["--architecture", "gated", "--max-grad-norm", "none"], nil), (["--architecture", "jumprelu", "--target-l0", "3", "--max-grad-norm", "0.5"], 0.5),
            (["--k", "2"], nil), (["--k", "2", "--max-grad-norm", "0.01"], 0.01),
        ]
        for (i, (options, limit)) in cases.enumerated() {
            let out = dir + "/run\(i)"
            let r = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "12", "--epochs", "1", "--out", out] + options)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try RunDirectory(path: out).loadConfig().training.maxGradientNorm, limit, "\(options)")
        }
        let bad = try runSAE(["train", "--data-npy", dir + "/x.npy", "--max-grad-norm", "-1", "--out", dir + "/bad"])
        XCTAssertTrue(bad.status != 0 && bad.stderr.contains("--max-grad-norm"), bad.stderr)
    }

    func testLimitMustBePositive() {
        for bad: Float in [0, -1, .infinity, .nan] {
            XCTAssertThrowsError(try TrainingSettings(maxGradientNorm: bad).validate(), "\(bad)")
        }
    }
}
