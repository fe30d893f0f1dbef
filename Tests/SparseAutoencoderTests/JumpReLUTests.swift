import XCTest
@testable import SparseAutoencoder

/// JumpReLU: the selection against its definition, every weight's gradient against finite
/// differences, the thresholds' straight-through gradient against a dense reference of the
/// paper's formulas, and the thresholds in saved models and checkpoints.
final class JumpReLUTests: XCTestCase {
    private let (d, c) = (6, 20)

    private func model(targetL0: Float? = 3, coefficient: Float = 0.7, bandwidth: Float = 0.05, outputSize: Int? = nil) throws -> Autoencoder {
        var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, unitNormDecoder: false)
        (config.architecture, config.outputSize) = (.jumprelu, outputSize)
        config.jumpReLU = JumpReLUSettings(bandwidth: bandwidth, coefficient: coefficient, targetL0: targetL0)
        let m = try Autoencoder(config: config, seed: 7)
        // Thresholds of various sizes, so that some values sit in each one's window.
        let thresholds = (m.selection as! JumpReLU).thresholds
        for j in 0..<c { thresholds[j] = Float(j % 5) * 0.08 }
        return m
    }

    func testTheCodeKeepsWhatClearsEachThreshold() throws {
        let m = try model(), batch = 9, x = randomFloats(batch * d, seed: 3)
        let codes = m.encode(x)
        let v = m.densePreActivations(x, batch: batch), theta = (m.selection as! JumpReLU).thresholds
        for r in 0..<batch {
            for j in 0..<c {
                let expected = v[r * c + j] > Double(theta[j]) && v[r * c + j] > 0 ? v[r * c + j] : 0
                XCTAssertEqual(Double(codes[r * c + j]), expected, accuracy: 1e-5, "sample \(r) latent \(j)")
            }
        }
    }

    /// Every weight and bias against central finite differences. Each threshold sits in the middle
    /// of the widest gap between its latent's values in the batch, so that no step of the
    /// differences moves a value across it (where z jumps and the L0 steps). Also as a transcoder
    /// (x of 6 features to y of 9, its encoder reading x uncentred).
    func testWeightGradientsMatchFiniteDifferences() throws {
        for (targetL0, outputSize) in [(Float(3), nil), (nil, nil), (Float(3), 9)] {
            let m = try model(targetL0: targetL0, outputSize: outputSize), batch = 5, x = randomFloats(batch * d, seed: 11)
            let y = outputSize.map { randomFloats(batch * $0, seed: 12) }
            let v = m.densePreActivations(x, batch: batch), thresholds = (m.selection as! JumpReLU).thresholds
            for j in 0..<c {
                let sorted = ((0..<batch).map { v[$0 * c + j] } + [0]).sorted()
                let (gap, at) = zip(sorted, sorted.dropFirst()).map { ($1 - $0, ($1 + $0) / 2) }.max { $0.0 < $1.0 }!
                XCTAssertGreaterThan(gap, 0.02)
                thresholds[j] = Float(at)
            }
            let ws = Workspace(model: m, capacity: batch)
            ws.training = true
            let p = m.parameterValues
            _ = m.objective(at: p, ws, x, batch: batch, targets: y)
            var g = [Float](repeating: 0, count: m.parameterCount)
            _ = m.lossAndGradient(ws, batch: batch, into: &g)
            let weights = 0..<m.architectureTensors[0].offset
            assertGradientMatches(Array(g[weights]), at: Array(p[weights]), h: 1e-3, tolerance: 5e-3) { q in
                m.objective(at: q + p[weights.upperBound...], ws, x, batch: batch, targets: y)
            }
            m.parameterValues = p
        }
    }

    /// A code too dense for pairs goes through sgemm (`DenseCodePass.swift`): the same
    /// reconstruction, loss and every gradient as the pairs' route, with a unit-norm decoder (its
    /// projection) and as a transcoder (no centring, another width).
    func testTheDenseRouteEqualsThePairsRoute() throws {
        for outputSize in [nil, 9] {
            var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, unitNormDecoder: outputSize == nil)
            (config.architecture, config.outputSize) = (.jumprelu, outputSize)
            config.jumpReLU = JumpReLUSettings(bandwidth: 0.05, coefficient: 0.7, targetL0: 3)
            let m = try Autoencoder(config: config, seed: 7), batch = 9, out = config.targetSize
            let thresholds = (m.selection as! JumpReLU).thresholds
            for j in 0..<c { thresholds[j] = Float(j % 5) * 0.08 }
            let x = randomFloats(batch * d, seed: 3), y = randomFloats(batch * out, seed: 4)
            m.assertDenseRouteEqualsPairsRoute(x, targets: outputSize == nil ? nil : y, batch: batch)
        }
    }

    /// The thresholds' gradient is the paper's straight-through one: over the window |v - θ_j| < ε/2,
    /// -(θ_j / ε) dL/dz plus the penalty's slope times -(1 / ε) / B.
    func testThresholdGradientIsTheStraightThroughEstimator() throws {
        for targetL0 in [Float(3), nil] {
            let m = try model(targetL0: targetL0, bandwidth: 0.2), batch = 7, x = randomFloats(batch * d, seed: 12)
            let ws = Workspace(model: m, capacity: batch)
            ws.training = true
            ws.input.update(from: x, count: x.count)
            m.forward(ws, batch: batch)
            var g = [Float](repeating: 0, count: m.parameterCount)
            let loss = m.lossAndGradient(ws, batch: batch, into: &g)
            // The reference, densely.
            let p = m.parameterValues, dec = m.layers[1], theta = m.architectureTensors[0].offset
            let v = m.densePreActivations(x, batch: batch), settings = m.config.jumpReLU!
            let eps = Double(settings.bandwidth), lambda = Double(settings.coefficient)
            var active = 0
            var xHat = [Double](repeating: 0, count: batch * d)
            for r in 0..<batch {
                for i in 0..<d { xHat[r * d + i] = Double(p[dec.biasOffset + i]) }
                for j in 0..<c where v[r * c + j] > Double(p[theta + j]) && v[r * c + j] > 0 {
                    active += 1
                    for i in 0..<d { xHat[r * d + i] += v[r * c + j] * Double(p[dec.kernelOffset + j * d + i]) }
                }
            }
            let l0 = Double(active) / Double(batch)
            let slope = targetL0.map { 2 * lambda * (l0 / Double($0) - 1) / Double($0) } ?? lambda
            XCTAssertEqual(loss.penalty, (targetL0.map { lambda * pow(l0 / Double($0) - 1, 2) } ?? lambda * l0) / Double(d), accuracy: 1e-6)
            var reference = [Double](repeating: 0, count: c), windows = 0
            for r in 0..<batch {
                for j in 0..<c where abs(v[r * c + j] - Double(p[theta + j])) < eps / 2 {
                    windows += 1
                    var dz = 0.0
                    for i in 0..<d {
                        let gOut = 2 * (xHat[r * d + i] - Double(x[r * d + i])) / Double(batch * d)
                        dz += gOut * Double(p[dec.kernelOffset + j * d + i])
                    }
                    reference[j] += -Double(p[theta + j]) / eps * dz - slope / Double(d) / (eps * Double(batch))
                }
            }
            XCTAssertGreaterThan(windows, 3, "the test needs values in the windows")
            for j in 0..<c { XCTAssertEqual(Double(g[theta + j]), reference[j], accuracy: 1e-5 + 1e-4 * abs(reference[j]), "latent \(j)") }
        }
    }

    func testThresholdsAreSavedAndTrainingResumesExactly() throws {
        let m = try model()
        let dir = temporaryDirectory(self)
        try m.save(to: dir + "/m.safetensors")
        let loaded = try Autoencoder.load(config: m.config, from: dir + "/m.safetensors")
        XCTAssertEqual(loaded.parameterValues, m.parameterValues)
        var config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24)
        config.architecture = .jumprelu
        config.jumpReLU = JumpReLUSettings(bandwidth: 0.01, coefficient: 1, targetL0: 4)
        let trainer = try assertCheckpointResumesExactly(config, on: syntheticImages(count: 200, side: 4),
                                                         settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5),
                                                         stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: dir)
        // The thresholds learned (they start at 0.001 everywhere).
        let theta = trainer.model.architectureTensors[0].offset
        XCTAssertTrue((0..<24).contains { trainer.model.parameterValues[theta + $0] != 0.001 })
    }

    func testSettingsAreChecked() {
        var config = AutoencoderConfig.dictionary(inputSize: 4, codeSize: 8)
        config.architecture = .jumprelu
        XCTAssertThrowsError(try config.validate())   // no penalty given
        config.jumpReLU = JumpReLUSettings(bandwidth: 0)
        XCTAssertThrowsError(try config.validate())
        config.jumpReLU = JumpReLUSettings()
        XCTAssertNoThrow(try config.validate())
        config.topK = 3
        XCTAssertThrowsError(try config.validate())
    }

    /// Each architecture checks its own settings (in its file), and another's settings in a
    /// config are refused by name, whatever the architecture.
    func testAnArchitecturesSettingsBelongToIt() {
        for architecture in [AutoencoderConfig.Architecture.dictionary, .batchtopk, .jumprelu, .matryoshka, .gated] {
            var base = AutoencoderConfig.dictionary(inputSize: 4, codeSize: 8, topK: architecture.takesK || architecture == .dictionary ? 2 : nil)
            base.architecture = architecture
            if architecture.selectsItsCode { base.codeActivation = .relu }
            if architecture == .jumprelu { base.jumpReLU = JumpReLUSettings() }
            if architecture == .matryoshka { base.groups = [2, 6] }
            XCTAssertNoThrow(try base.validate(), "\(architecture)")
            var foreign: [(String, (inout AutoencoderConfig) -> Void)] = []
            if architecture != .jumprelu { foreign.append(("--target-l0", { $0.jumpReLU = JumpReLUSettings() })) }
            if architecture != .matryoshka { foreign.append(("--groups", { $0.groups = [4, 4] })) }
            if architecture != .gated { foreign.append(("--gate-l1", { $0.gateL1 = 0.5 })) }
            for (option, add) in foreign {
                var config = base
                add(&config)
                XCTAssertThrowsError(try config.validate(), "\(architecture) with \(option)") {
                    XCTAssertTrue("\($0)".contains("\(option)") && "\($0)".contains("only a"), "\($0)")
                }
            }
        }
    }
}
