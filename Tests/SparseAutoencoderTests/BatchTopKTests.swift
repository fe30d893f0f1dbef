import XCTest
@testable import SparseAutoencoder

/// BatchTopK: the batch's k·B largest values against a sort, the threshold at inference and its
/// running average, the step's gradient against finite differences, and the threshold's place
/// in saved models and checkpoints.
final class BatchTopKTests: XCTestCase {
    /// Without unit-norm decoder rows, whose projected gradient finite differences cannot see.
    private func model(c: Int = 40, k: Int = 3, auxK: AuxK? = nil) throws -> Autoencoder {
        var config = AutoencoderConfig.dictionary(inputSize: 6, codeSize: c, unitNormDecoder: false, auxK: auxK)
        (config.architecture, config.topK) = (.batchtopk, k)
        return try Autoencoder(config: config, seed: 3)
    }

    /// Fills `s.pre` with values on a few levels (many ties, many negatives) and returns them.
    private func fillPre(_ s: SparseBuffers, rows: Int, cols: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        let pre = (0..<(rows * cols)).map { _ in Float(Int(rng.nextUnitFloat() * 9)) / 4 - 1 }
        s.pre.update(from: pre, count: pre.count)
        return pre
    }

    func testTrainingKeepsTheBatchsLargestWithEarliestTies() throws {
        for (rows, k) in [(7, 3), (16, 1), (5, 40)] {
            let m = try model(k: k), c = m.config.codeSize
            let ws = Workspace(model: m, capacity: rows)
            let s = ws.sparse!
            let bias = randomFloats(c, seed: 9, in: -0.5...0.5).map { ($0 * 4).rounded() / 4 }
            let pre = fillPre(s, rows: rows, cols: c, seed: UInt64(rows))
            bias.withUnsafeBufferPointer { m.selection!.select(s, bias: $0.baseAddress!, rows: rows, training: true, ranks: nil) }
            // The reference: every positive value by (value descending, position ascending).
            let values = (0..<(rows * c)).map { pre[$0] + bias[$0 % c] }
            let expected = values.indices.filter { values[$0] > 0 }
                .sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }.prefix(k * rows)
            var kept: [Int: Float] = [:]
            for r in 0..<rows {
                for q in Int(s.rowOffsets[r])..<Int(s.rowOffsets[r + 1]) {
                    XCTAssertEqual(Int(s.samples[q]), r)
                    kept[r * c + Int(s.latents[q])] = s.values[q]
                }
            }
            XCTAssertEqual(s.mainPairs, expected.count, "rows \(rows) k \(k)")
            XCTAssertEqual(Set(kept.keys), Set(expected), "rows \(rows) k \(k)")
            for (position, value) in kept { XCTAssertEqual(value, values[position]) }
        }
    }

    func testInferenceKeepsWhatExceedsTheThreshold() throws {
        let m = try model(), c = m.config.codeSize, rows = 6
        let ws = Workspace(model: m, capacity: rows)
        let s = ws.sparse!
        let pre = fillPre(s, rows: rows, cols: c, seed: 4)
        let bias = [Float](repeating: 0, count: c)
        (m.selection as! BatchTopK).threshold.pointee = 0.25
        bias.withUnsafeBufferPointer { m.selection!.select(s, bias: $0.baseAddress!, rows: rows, training: false, ranks: nil) }
        // More than k·B here: the pair arrays grow for inference.
        XCTAssertEqual(s.mainPairs, pre.filter { $0 > 0.25 }.count)
        XCTAssertGreaterThan(s.mainPairs, 3 * rows)
        for q in 0..<s.mainPairs { XCTAssertEqual(s.values[q], pre[Int(s.samples[q]) * c + Int(s.latents[q])]) }
    }

    /// θ waits for step 1,001 (0-based), starts at the smallest kept value, then averages.
    func testThresholdFollowsTheSmallestKeptValue() throws {
        let m = try model(), rows = 8
        let ws = Workspace(model: m, capacity: rows)
        let s = ws.sparse!, selection = m.selection as! BatchTopK
        _ = fillPre(s, rows: rows, cols: m.config.codeSize, seed: 5)
        let bias = [Float](repeating: 0, count: m.config.codeSize)
        bias.withUnsafeBufferPointer { selection.select(s, bias: $0.baseAddress!, rows: rows, training: true, ranks: nil) }
        let smallest = (0..<s.mainPairs).map { s.values[$0] }.min()!
        XCTAssertEqual(selection.threshold.pointee, -1)
        selection.trained(on: s, rows: rows, step: 1_000, ranks: nil)
        XCTAssertEqual(selection.threshold.pointee, -1)
        selection.trained(on: s, rows: rows, step: 1_001, ranks: nil)
        XCTAssertEqual(selection.threshold.pointee, smallest)
        selection.threshold.pointee = 1
        selection.trained(on: s, rows: rows, step: 1_002, ranks: nil)
        XCTAssertEqual(selection.threshold.pointee, 0.999 + 0.001 * smallest, accuracy: 1e-6)
    }

    /// The step's gradient (AuxK's pairs go through the same pass as TopK's: SparseTopKTests).
    func testBackwardMatchesFiniteDifferences() throws {
        let m = try model(c: 24, k: 2), batch = 5
        let ws = Workspace(model: m, capacity: batch)
        ws.training = true
        m.assertBackwardMatchesFiniteDifferences(ws, randomFloats(batch * 6, seed: 21), batch: batch)
    }

    func testThresholdIsSavedWithTheWeightsAndTrainingResumesExactly() throws {
        let m = try model()
        (m.selection as! BatchTopK).threshold.pointee = 0.375
        let dir = temporaryDirectory(self)
        try m.save(to: dir + "/m.safetensors")
        let loaded = try Autoencoder.load(config: m.config, from: dir + "/m.safetensors")
        XCTAssertEqual((loaded.selection as! BatchTopK).threshold.pointee, 0.375)
        XCTAssertEqual(loaded.parameterValues, m.parameterValues)
        let data = syntheticImages(count: 200, side: 4)
        var config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24, auxK: AuxK(k: 4))
        (config.architecture, config.topK) = (.batchtopk, 2)
        try assertCheckpointResumesExactly(config, on: data, settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64),
                                           stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: dir)
    }
}
