import CKernels
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The sparse TopK step against the dense path it replaces: the same reconstruction, code, loss
/// and every gradient, on small shapes, with ties in the selection and with AuxK.
final class SparseTopKTests: XCTestCase {
    /// ||a - b|| / ||b||, per tensor, so a small gradient is not hidden by a large one.
    private func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Double = 1e-5,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        let diff = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let norm = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertLessThanOrEqual(diff, tolerance * max(norm, 1e-12), "\(what): |a - b| = \(diff), |b| = \(norm)", file: file, line: line)
    }

    private struct Step {
        var reconstruction: [Float], code: [Float], loss: Autoencoder.BatchLoss, gradients: [Float]
    }

    /// One forward + loss + backward of `model` on x, dense or sparse, with `dead` marked for AuxK
    /// (a unit-norm decoder's gradient comes out of backward projected on either path).
    private func step(_ model: Autoencoder, _ x: [Float], batch: Int, dead: [Int], sparse: Bool) -> Step {
        let ws = Workspace(model: model, capacity: batch, sparseStep: sparse)
        XCTAssertEqual(ws.sparse != nil, sparse)
        let deadLatents = DeadLatents(codeSize: model.config.codeSize, deadAfter: 1)
        deadLatents.markDead(dead)
        ws.input.update(from: x, count: x.count)
        model.forward(ws, batch: batch)
        let (d, c) = (model.config.inputSize, model.config.codeSize)
        let reconstruction = Array(UnsafeBufferPointer(start: ws.outputs[1], count: batch * d))
        let code = Array(UnsafeBufferPointer(start: ws.outputs[0], count: batch * c))
        var g = [Float](repeating: 0, count: model.parameterCount)
        let loss = model.lossAndGradient(ws, batch: batch, dead: deadLatents, into: &g)
        return Step(reconstruction: reconstruction, code: code, loss: loss, gradients: g)
    }

    private func assertSameStep(_ model: Autoencoder, _ x: [Float], batch: Int, dead: [Int] = [],
                                file: StaticString = #filePath, line: UInt = #line) -> Step {
        let dense = step(model, x, batch: batch, dead: dead, sparse: false)
        let sparse = step(model, x, batch: batch, dead: dead, sparse: true)
        XCTAssertEqual(sparse.code, dense.code, "the same latents and values are kept", file: file, line: line)
        assertClose(sparse.reconstruction, dense.reconstruction, "reconstruction", file: file, line: line)
        XCTAssertEqual(sparse.loss.reconstruction, dense.loss.reconstruction, accuracy: 1e-5 * dense.loss.reconstruction, file: file, line: line)
        XCTAssertEqual(sparse.loss.aux, dense.loss.aux, accuracy: 1e-5 * max(dense.loss.aux, 1e-12), file: file, line: line)
        for layer in model.layers {
            let kernel = layer.kernelOffset..<(layer.kernelOffset + layer.inputSize * layer.outputSize)
            let bias = layer.biasOffset..<(layer.biasOffset + layer.outputSize)
            assertClose(Array(sparse.gradients[kernel]), Array(dense.gradients[kernel]), "kernel \(layer.inputSize)x\(layer.outputSize)", file: file, line: line)
            assertClose(Array(sparse.gradients[bias]), Array(dense.gradients[bias]), "bias \(layer.outputSize)", file: file, line: line)
        }
        return sparse
    }

    private func model(_ config: AutoencoderConfig, seed: UInt64 = 3) throws -> Autoencoder {
        let model = try Autoencoder(config: config, seed: seed)
        var p = model.parameterValues
        for layer in model.layers { for j in 0..<layer.outputSize { p[layer.biasOffset + j] = Float(j % 5) * 0.05 - 0.1 } }
        model.parameterValues = p
        return model
    }

    func testSparseStepEqualsDenseStep() throws {
        for (d, c, k, batch) in [(6, 10, 3, 5), (16, 64, 8, 33), (9, 40, 1, 7)] {
            let m = try model(.dictionary(inputSize: d, codeSize: c, topK: k))
            let x = randomFloats(batch * d, seed: 11, in: -1...2)
            let sparse = assertSameStep(m, x, batch: batch)
            XCTAssertGreaterThanOrEqual(sparse.code.filter { $0 > 0 }.count, batch, "latents fire")
        }
    }

    func testSparseStepEqualsDenseStepWithoutUnitNormDecoder() throws {
        let m = try model(.dictionary(inputSize: 8, codeSize: 24, topK: 4, unitNormDecoder: false))
        _ = assertSameStep(m, randomFloats(6 * 8, seed: 2, in: -1...1), batch: 6)
    }

    /// Ties at the k-th value: latents with the same encoder row and bias tie on every sample,
    /// and the earliest must win on both paths. Ties at zero: a sample whose pre-activations are
    /// mostly negative has fewer than k positive latents, so relu'd zeros fill the selection.
    func testTiesInTheSelectionAreBrokenTheSameWay() throws {
        let (d, c, k, batch) = (4, 12, 3, 6)
        let m = try model(.dictionary(inputSize: d, codeSize: c, topK: k))
        var p = m.parameterValues
        let enc = m.layers[0]
        for i in 0..<d {
            let w = p[enc.kernelIndex(input: i, output: 5)] * 4
            for j in [5, 6, 7, 8] { p[enc.kernelIndex(input: i, output: j)] = w }
        }
        for j in [5, 6, 7, 8] { p[enc.biasOffset + j] = 0.3 }
        m.parameterValues = p
        var x = randomFloats(batch * d, seed: 4, in: -1...1)
        for i in 0..<d { x[i] = 0 }   // sample 0 is b_dec's negative: pre = b_enc, with ties everywhere
        let sparse = assertSameStep(m, x, batch: batch)
        let kept = (0..<batch).map { r in (0..<c).filter { sparse.code[r * c + $0] > 0 } }
        XCTAssertTrue(kept.contains { $0.contains(5) && !$0.contains(8) }, "a tie was cut: \(kept)")
        // The dense and sparse paths keep the same latents for the zero-filled rows too (checked
        // above through equal codes); make the whole batch negative to have such rows for sure.
        for j in 0..<c { p[enc.biasOffset + j] = j < 2 ? 0.01 : -5 }
        m.parameterValues = p
        _ = assertSameStep(m, randomFloats(batch * d, seed: 5, in: -0.01...0.01), batch: batch)
    }

    /// The selection kernel against the dense one (`sae_topk_rows`, a quickselect threshold) on
    /// rows with heavy ties (values on a few levels, many negative so relu'd zeros tie too), for
    /// widths below and above its block-maximum bound's reach, partial blocks included.
    func testSelectionKernelKeepsWhatTheDenseSelectionKeeps() {
        var rng = SeededGenerator(seed: 31)
        for (cols, k) in [(10, 3), (40, 1), (64, 8), (100, 7), (256, 16), (1000, 32), (4096, 32), (5000, 64)] {
            let rows = 12
            // Levels -2...3 in steps of 0.5: ties everywhere; rows 0 and 1 mostly negative.
            var pre = (0..<(rows * cols)).map { _ in Float(Int(rng.next() % 11) - 4) * 0.5 }
            for j in 0..<(2 * cols) { pre[j] = j % 17 == 0 ? 0.5 : -1 }
            let bias = (0..<cols).map { Float($0 % 3) * 0.25 }
            var dense = pre
            for r in 0..<rows { for j in 0..<cols { dense[r * cols + j] = max(pre[r * cols + j] + bias[j], 0) } }
            sae_topk_rows(&dense, rows, cols, k)
            var values = [Float](repeating: -1, count: rows * k), latents = [CInt](repeating: -1, count: rows * k)
            var scratch = [Float](repeating: 0, count: SparseBuffers.selectionScratchSize(codeSize: cols))
            sae_topk_select(pre, bias, rows, cols, k, &values, &latents, &scratch)
            var sparse = [Float](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                for t in 0..<k { sparse[r * cols + Int(latents[r * k + t])] = values[r * k + t] }
            }
            // (Which relu'd zeros fill a row does not matter: they carry no value and no gradient.)
            XCTAssertEqual(sparse, dense, "cols \(cols), k \(k)")
            XCTAssertFalse(latents.contains(-1))
        }
    }

    func testSparseStepEqualsDenseStepWithAuxK() throws {
        let (d, c, k, batch) = (8, 32, 4, 9)
        let m = try model(.dictionary(inputSize: d, codeSize: c, topK: k, auxK: AuxK(k: 5, coefficient: 0.5)))
        let x = randomFloats(batch * d, seed: 7, in: -1...2)
        // Dead: every third latent, some of which the main selection also picks this batch.
        let dead = Array(stride(from: 0, to: c, by: 3))
        let sparse = assertSameStep(m, x, batch: batch, dead: dead)
        XCTAssertGreaterThan(sparse.loss.aux, 0, "AuxK ran")
        // Fewer dead latents than k_aux: all of them are used.
        _ = assertSameStep(m, x, batch: batch, dead: [1, 30])
        // None dead: AuxK adds nothing.
        XCTAssertEqual(assertSameStep(m, x, batch: batch, dead: []).loss.aux, 0)
    }

    /// The sparse path's own gradient against central finite differences (loss and AuxK).
    func testSparseGradientMatchesFiniteDifferences() throws {
        let m = try model(.dictionary(inputSize: 5, codeSize: 9, topK: 3, unitNormDecoder: false))
        let x = randomFloats(4 * 5, seed: 9, in: -1...2)
        let ws = Workspace(model: m, capacity: 4)
        XCTAssertNotNil(ws.sparse)
        m.assertBackwardMatchesFiniteDifferences(ws, x, batch: 4)
    }

    /// Training through the trainer: the sparse and dense steps stay together over many steps,
    /// and the sparse step gives the same bits when run twice.
    func testTrainingWithTheSparseStepFollowsTheDenseOne() throws {
        let (d, c, n) = (8, 32, 256)
        let data = Dataset(vectors: randomFloats(n * d, seed: 21, in: -1...1), count: n, features: d)
        let settings = TrainingSettings(epochs: 2, batchSize: 32, deadAfter: 64)
        let config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, topK: 4, auxK: AuxK(k: 8))
        func train(sparse: Bool) throws -> ([Float], [EpochRecord]) {
            let m = try Autoencoder(config: config, seed: 5)
            let trainer = try Trainer(model: m, settings: settings, sparseStep: sparse)
            let history = try trainer.fit(data, validation: data)
            return (m.parameterValues, history)
        }
        let (dense, denseHistory) = try train(sparse: false)
        let (sparse, sparseHistory) = try train(sparse: true)
        let (again, _) = try train(sparse: true)
        XCTAssertEqual(sparse, again, "the sparse step is deterministic")
        assertClose(sparse, dense, "weights after 16 steps", tolerance: 1e-3)
        for (a, b) in zip(sparseHistory, denseHistory) {
            XCTAssertEqual(a.loss, b.loss, accuracy: 1e-4 * b.loss)
            XCTAssertEqual(a.valLoss!, b.valLoss!, accuracy: 1e-4 * b.valLoss!)
            XCTAssertEqual(a.deadLatents, b.deadLatents)
        }
    }
}
