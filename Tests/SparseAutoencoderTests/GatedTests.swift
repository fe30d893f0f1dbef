import XCTest
@testable import SparseAutoencoder

/// The Gated SAE: the code against its definition, every gradient against finite differences,
/// saved tensors and exact resume.
final class GatedTests: XCTestCase {
    private let (d, c) = (6, 16)

    private func model(outputSize: Int? = nil) throws -> Autoencoder {
        var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, unitNormDecoder: false)
        (config.architecture, config.gateL1, config.outputSize) = (.gated, 0.3, outputSize)
        let m = try Autoencoder(config: config, seed: 5)
        // r_mag and b_mag away from their zero start, so that the magnitude differs from the gate.
        var p = m.parameterValues
        let tensors = m.architectureTensors[0].offset
        for j in 0..<(2 * c) { p[tensors + j] = (Float(j % 7) - 3) * 0.1 }
        m.parameterValues = p
        return m
    }

    func testTheCodeIsTheOpenGatesMagnitudes() throws {
        let m = try model(), batch = 8, x = randomFloats(batch * d, seed: 2)
        let codes = m.encode(x), v = m.densePreActivations(x, batch: batch, bias: false), p = m.parameterValues
        let (bGate, tensors) = (m.layers[0].biasOffset, m.architectureTensors[0].offset)
        var open = 0
        for r in 0..<batch {
            for j in 0..<c {
                let gate = v[r * c + j] + Double(p[bGate + j])
                let magnitude = exp(Double(p[tensors + j])) * v[r * c + j] + Double(p[tensors + c + j])
                let expected = gate > 0 ? max(magnitude, 0) : 0
                if gate > 0 { open += 1 }
                XCTAssertEqual(Double(codes[r * c + j]), expected, accuracy: 1e-5, "sample \(r) latent \(j)")
            }
        }
        XCTAssertTrue(open > 10 && open < batch * c - 10, "the test needs open and closed gates: \(open)")
    }

    /// The objective at parameters q, densely, in Double: the reconstruction, the gates' L1 and the
    /// gates' reconstruction, whose decoder and b_dec are held at `fixed` (the stop-gradient). A
    /// transcoder's (`y` its targets, of `out` features) reads x uncentred and predicts y.
    private func objective(_ m: Autoencoder, _ q: [Float], fixed: [Float], _ x: [Float], batch: Int, y: [Float]? = nil) -> Double {
        let (enc, dec, t) = (m.layers[0], m.layers[1], m.architectureTensors[0].offset)
        let out = m.config.targetSize, target = y ?? x, centring: Float = m.config.isCentred ? 1 : 0
        let lambda = Double(m.config.gateL1!), n = Double(batch * out)
        var total = 0.0
        for r in 0..<batch {
            var xHat = (0..<out).map { Double(q[dec.biasOffset + $0]) }, xGate = (0..<out).map { Double(fixed[dec.biasOffset + $0]) }
            for j in 0..<c {
                var pre = 0.0
                for i in 0..<d { pre += Double(x[r * d + i] - centring * q[dec.biasOffset + i]) * Double(q[enc.kernelOffset + j * d + i]) }
                let gate = pre + Double(q[enc.biasOffset + j])
                guard gate > 0 else { continue }
                let z = max(exp(Double(q[t + j])) * pre + Double(q[t + c + j]), 0)
                total += lambda * gate / n
                for i in 0..<out {
                    xHat[i] += z * Double(q[dec.kernelOffset + j * out + i])
                    xGate[i] += gate * Double(fixed[dec.kernelOffset + j * out + i])
                }
            }
            for i in 0..<out {
                total += pow(xHat[i] - Double(target[r * out + i]), 2) / n + pow(xGate[i] - Double(target[r * out + i]), 2) / n
            }
        }
        return total
    }

    /// Every parameter (the shared encoder, b_gate, r_mag, b_mag, the decoder, b_dec) against
    /// central differences of the objective with its stop-gradient. Each b_gate puts its gate's
    /// opening in the widest gap between its latent's values in the batch, so that no step of the
    /// differences opens or closes a gate (where the code jumps, which the gradient leaves out).
    /// Also as a transcoder (6 features to 4).
    func testGradientsMatchFiniteDifferences() throws {
        for outputSize in [nil, 4] {
            try assertGradientsMatchFiniteDifferences(outputSize: outputSize)
        }
    }

    private func assertGradientsMatchFiniteDifferences(outputSize: Int?) throws {
        let m = try model(outputSize: outputSize), batch = 5, x = randomFloats(batch * d, seed: 9)
        let y = outputSize.map { randomFloats(batch * $0, seed: 10) }
        let v = m.densePreActivations(x, batch: batch, bias: false)
        var p = m.parameterValues
        for j in 0..<c {
            let sorted = (0..<batch).map { v[$0 * c + j] }.sorted()
            let (gap, at) = zip(sorted, sorted.dropFirst()).map { ($1 - $0, ($1 + $0) / 2) }.max { $0.0 < $1.0 }!
            XCTAssertGreaterThan(gap, 0.02)
            p[m.layers[0].biasOffset + j] = Float(-at)
        }
        m.parameterValues = p
        let ws = Workspace(model: m, capacity: batch)
        ws.training = true
        XCTAssertEqual(m.objective(at: p, ws, x, batch: batch, targets: y), objective(m, p, fixed: p, x, batch: batch, y: y), accuracy: 1e-5)
        var g = [Float](repeating: 0, count: m.parameterCount)
        _ = m.lossAndGradient(ws, batch: batch, into: &g)
        assertGradientMatches(g, at: p, h: 1e-3, tolerance: 5e-3) { objective(m, $0, fixed: p, x, batch: batch, y: y) }
    }

    /// Gates open on more than 1/8 of the entries take the dense route (`DenseCodePass.swift`):
    /// the same outputs, loss and every gradient as the pairs' route, with a unit-norm decoder
    /// and as a transcoder.
    func testTheDenseRouteEqualsThePairsRoute() throws {
        for (outputSize, unitNorm) in [(nil, true), (4, false)] as [(Int?, Bool)] {
            var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, unitNormDecoder: unitNorm)
            (config.architecture, config.gateL1, config.outputSize) = (.gated, 0.3, outputSize)
            let m = try Autoencoder(config: config, seed: 5), batch = 8, out = config.targetSize
            var p = m.parameterValues
            for j in 0..<(2 * c) { p[m.architectureTensors[0].offset + j] = (Float(j % 7) - 3) * 0.1 }
            m.parameterValues = p
            let x = randomFloats(batch * d, seed: 2), y = randomFloats(batch * out, seed: 3)
            m.assertDenseRouteEqualsPairsRoute(x, targets: outputSize == nil ? nil : y, batch: batch)
        }
    }

    func testTensorsAreSavedAndTrainingResumesExactly() throws {
        let m = try model(), dir = temporaryDirectory(self)
        try m.save(to: dir + "/m.safetensors")
        XCTAssertEqual(try Autoencoder.load(config: m.config, from: dir + "/m.safetensors").parameterValues, m.parameterValues)
        var config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24)
        config.architecture = .gated
        try assertCheckpointResumesExactly(config, on: syntheticImages(count: 200, side: 4),
                                           settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5),
                                           stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: dir)
    }
}
