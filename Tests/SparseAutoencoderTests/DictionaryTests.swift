import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The single-layer dictionary SAE: centring by b_dec, a linear output scored by MSE, AuxK for
/// dead latents, unit-norm decoder rows, and the FVU it reports.
final class DictionaryTests: XCTestCase {
    /// A small dictionary with non-zero biases (off the relu kinks) and a batch in a workspace.
    /// The weights are always a unit-norm dictionary's start (rows of length 1), also for a config
    /// without `unitNormDecoder`, whose backward pass then gives the plain gradient that finite
    /// differences check. `sparseStep: false` makes a TopK dictionary take the dense path.
    private func setUp(_ config: AutoencoderConfig, batch: Int, seed: UInt64 = 3, sparseStep: Bool = true)
        throws -> (model: Autoencoder, ws: Workspace, x: [Float], p: [Float]) {
        var unitNorm = config
        unitNorm.unitNormDecoder = true
        let model = try Autoencoder(config: config, seed: seed)
        var p = try Autoencoder(config: unitNorm, seed: seed).parameterValues
        for layer in model.layers { for j in 0..<layer.outputSize { p[layer.biasOffset + j] = j % 2 == 0 ? 0.1 : -0.07 } }
        model.parameterValues = p
        let ws = Workspace(model: model, capacity: batch, sparseStep: sparseStep)
        return (model, ws, randomFloats(batch * config.inputSize, seed: 5, in: -1...2), p)
    }

    func testGradientMatchesFiniteDifferencesIncludingTheCentring() throws {
        for (config, sparseStep) in [(AutoencoderConfig.dictionary(inputSize: 5, codeSize: 7, penalty: .l1(lambda: 0.05), unitNormDecoder: false), false),
                                     (AutoencoderConfig.dictionary(inputSize: 5, codeSize: 8, topK: 3, unitNormDecoder: false), false),
                                     (AutoencoderConfig.dictionary(inputSize: 5, codeSize: 8, topK: 3, unitNormDecoder: false), true)] {
            let (model, ws, x, _) = try setUp(config, batch: 4, sparseStep: sparseStep)
            XCTAssertEqual(ws.sparse != nil, sparseStep)
            let g = model.assertBackwardMatchesFiniteDifferences(ws, x, batch: 4)
            // b_dec's gradient has both paths: the output bias and the centring.
            XCTAssertNotEqual(g[model.layers[1].biasOffset], 0)
        }
    }

    /// With unit-norm decoder rows, backward's decoder gradient is the plain gradient (checked by
    /// finite differences above) with each row's radial part removed, on both paths; the rest is equal.
    func testUnitNormBackwardIsTheProjectedGradient() throws {
        for sparseStep in [false, true] {
            let plain = AutoencoderConfig.dictionary(inputSize: 5, codeSize: 8, topK: 3, unitNormDecoder: false)
            var unit = plain
            unit.unitNormDecoder = true
            let (model, ws, x, p) = try setUp(unit, batch: 4, sparseStep: sparseStep)
            let (reference, referenceWs, _, _) = try setUp(plain, batch: 4, sparseStep: sparseStep)
            reference.parameterValues = p
            var g = [Float](repeating: 0, count: model.parameterCount), expected = g
            for (m, w) in [(model, ws), (reference, referenceWs)] {
                w.input.update(from: x, count: x.count)
                m.forward(w, batch: 4)
            }
            _ = model.lossAndGradient(ws, batch: 4, into: &g)
            _ = reference.lossAndGradient(referenceWs, batch: 4, into: &expected)
            let raw = expected
            expected.withUnsafeMutableBufferPointer { model.dictionary!.projectDecoderGradient($0.baseAddress!) }
            for i in g.indices { XCTAssertEqual(g[i], expected[i], accuracy: 1e-6, "parameter \(i), sparse step \(sparseStep)") }
            // The projection did something.
            let decoder = model.layers[1].kernelOffset..<(model.layers[1].kernelOffset + 40)
            XCTAssertGreaterThan(zip(raw[decoder], g[decoder]).map { abs($0 - $1) }.max()!, 1e-4)
        }
    }

    /// AuxK's target (the residual) is held fixed, so its gradient is checked on the parameters
    /// of the dead latents, which do not move the residual: their encoder columns, encoder
    /// biases and decoder rows.
    func testAuxKGradientMatchesFiniteDifferencesOnDeadLatents() throws {
        for sparseStep in [false, true] { try checkAuxKGradient(sparseStep: sparseStep) }
    }

    private func checkAuxKGradient(sparseStep: Bool) throws {
        let config = AutoencoderConfig.dictionary(inputSize: 5, codeSize: 8, topK: 2, unitNormDecoder: false,
                                                  auxK: AuxK(k: 2, coefficient: 0.5))
        let (model, ws, x, p) = try setUp(config, batch: 3, sparseStep: sparseStep)
        XCTAssertEqual(ws.sparse != nil, sparseStep)
        // Dead: latents well below every sample's main top-2 (so a finite-difference step cannot
        // move them into the main code), read off the dense path's pre-activations.
        let dense = Workspace(model: model, capacity: 3, sparseStep: false)
        dense.input.update(from: x, count: x.count)
        model.forward(dense, batch: 3)
        let pre = (0..<3).map { r in (0..<8).map { dense.aux!.preCode[r * 8 + $0] } }
        let dead = (0..<8).filter { j in pre.allSatisfy { row in row[j] < row.sorted(by: >)[1] - 0.05 } }
        XCTAssertGreaterThanOrEqual(dead.count, 3)
        let deadLatents = DeadLatents(codeSize: 8, deadAfter: 1)
        deadLatents.markDead(dead)
        func loss(_ params: [Float]) -> Double {
            model.parameterValues = params
            ws.input.update(from: x, count: x.count)
            model.forward(ws, batch: 3)
            let loss = model.loss(ws, batch: 3, dead: deadLatents)
            return loss.objective + loss.aux
        }
        _ = loss(p)
        var g = [Float](repeating: 0, count: model.parameterCount)
        XCTAssertGreaterThan(model.lossAndGradient(ws, batch: 3, dead: deadLatents, into: &g).aux, 0)
        let (enc, dec) = (model.layers[0], model.layers[1])
        var indices: [Int] = []
        for j in dead {
            for i in 0..<5 { indices += [enc.kernelIndex(input: i, output: j), dec.kernelOffset + j * 5 + i] }
            indices.append(enc.biasOffset + j)
        }
        var full = [Float](repeating: 0, count: indices.count)
        for (n, i) in indices.enumerated() { full[n] = g[i] }
        assertGradientMatches(full, at: indices.map { p[$0] }, h: 2e-3, tolerance: 5e-3) { sub in
            var q = p
            for (n, i) in indices.enumerated() { q[i] = sub[n] }
            return loss(q)
        }
        // Without dead latents AuxK adds nothing.
        deadLatents.markDead([])
        model.parameterValues = p
        model.forward(ws, batch: 3)
        XCTAssertEqual(model.lossAndGradient(ws, batch: 3, dead: deadLatents, into: &g).aux, 0)
    }

    func testUnitNormDecoderStaysUnitNormAndItsGradientLosesTheRadialPart() throws {
        let config = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 10, topK: 3)
        let model = try Autoencoder(config: config, seed: 2)
        let dec = model.layers[1]
        func rowNorms() -> [Float] {
            let p = model.parameterValues
            return (0..<10).map { j in (0..<6).reduce(Float(0)) { $0 + p[dec.kernelOffset + j * 6 + $1] * p[dec.kernelOffset + j * 6 + $1] }.squareRoot() }
        }
        for n in rowNorms() { XCTAssertEqual(n, 1, accuracy: 1e-5) }
        var g = randomFloats(model.parameterCount, seed: 4)
        g.withUnsafeMutableBufferPointer { model.dictionary!.projectDecoderGradient($0.baseAddress!) }
        let p = model.parameterValues
        for j in 0..<10 {
            let dot = (0..<6).reduce(Float(0)) { $0 + g[dec.kernelOffset + j * 6 + $1] * p[dec.kernelOffset + j * 6 + $1] }
            XCTAssertEqual(dot, 0, accuracy: 1e-5)
        }
        // The encoder starts as the decoder's transpose, scaled by 1/sqrt(3).
        XCTAssertEqual(p[model.layers[0].kernelIndex(input: 2, output: 7)], p[dec.kernelOffset + 7 * 6 + 2] / Float(3).squareRoot(), accuracy: 1e-7)
        // After training steps the rows are still unit length.
        let data = Dataset(vectors: randomFloats(64 * 6, seed: 8), count: 64, features: 6)
        try model.fit(data, settings: TrainingSettings(epochs: 2, batchSize: 16))
        for n in rowNorms() { XCTAssertEqual(n, 1, accuracy: 1e-5) }
    }

    /// Vectors that are sparse combinations of many directions plus a constant offset. Half the
    /// latents start out-competed (encoder columns scaled by 0.05): they never reach the top k,
    /// so without AuxK they get no gradient and stay dead; AuxK trains them on the residual.
    func testTopKDictionaryLearnsSparseVectorsAndAuxKRevivesLatents() throws {
        var rng = SeededGenerator(seed: 12)
        let (d, atoms, n, c) = (16, 96, 2048, 32)
        let directions = randomFloats(atoms * d, seed: 13)
        var x = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            for _ in 0..<2 {
                let a = Int(rng.next() % UInt64(atoms)), scale = 1 + 2 * rng.nextUnitFloat()
                for j in 0..<d { x[r * d + j] += scale * directions[a * d + j] }
            }
            for j in 0..<d { x[r * d + j] += 3 }
        }
        let data = Dataset(vectors: x, count: n, features: d)
        var dead: [Int] = [], fvu: [Double] = []
        for auxK in [nil, AuxK(k: 8)] {
            let model = try Autoencoder(config: .dictionary(inputSize: d, codeSize: c, topK: 4, auxK: auxK), seed: 1)
            var p = model.parameterValues
            for i in 0..<d { for j in 0..<(c / 2) { p[model.layers[0].kernelIndex(input: i, output: j)] *= 0.05 } }
            model.parameterValues = p
            let history = try model.fit(data, validation: data, settings: TrainingSettings(epochs: 6, batchSize: 64, deadAfter: 512))
            let evaluation = model.evaluate(data)
            XCTAssertNil(evaluation.bce)
            XCTAssertLessThan(history.last!.loss, history.first!.loss)
            dead.append(history.last!.deadLatents!)
            fvu.append(evaluation.fvu ?? .nan)
        }
        XCTAssertGreaterThanOrEqual(dead[0], c / 4, "without AuxK the handicapped latents stay dead: \(dead)")
        XCTAssertLessThan(dead[1], dead[0] / 2, "dead latents without / with AuxK: \(dead)")
        XCTAssertLessThan(fvu[1], fvu[0], "FVU without / with AuxK: \(fvu)")
    }

    func testFractionOfVarianceUnexplainedIsOneForTheMean() throws {
        // A dictionary whose latents never fire reconstructs b_dec, which training starts at the mean.
        let data = Dataset(vectors: randomFloats(40 * 4, seed: 2), count: 40, features: 4)
        let model = try Autoencoder(config: .dictionary(inputSize: 4, codeSize: 3), seed: 1)
        model.startDecoderBiasAtMean(of: data)
        var p = model.parameterValues
        for j in 0..<3 { p[model.layers[0].biasOffset + j] = -100 }
        model.parameterValues = p
        XCTAssertEqual(model.evaluate(data).fvu ?? .nan, 1, accuracy: 1e-5)
    }

    func testConfigRefusesWhatADictionaryCannotBe() {
        var config = AutoencoderConfig.dictionary(inputSize: 8, codeSize: 16, topK: 4)
        config.hiddenSizes = [4]
        XCTAssertThrowsError(try config.validate())
        config = .dictionary(inputSize: 8, codeSize: 16, topK: 4)
        config.loss = .bce
        XCTAssertThrowsError(try config.validate())
        XCTAssertThrowsError(try AutoencoderConfig.dictionary(inputSize: 8, codeSize: 16, auxK: AuxK(k: 4)).validate()) // needs topk
        XCTAssertThrowsError(try AutoencoderConfig.dictionary(inputSize: 8, codeSize: 16, topK: 4, auxK: AuxK(k: 17)).validate())
        XCTAssertNoThrow(try AutoencoderConfig.dictionary(inputSize: 8, codeSize: 16, topK: 4, auxK: AuxK(k: 8)).validate())
    }
}
