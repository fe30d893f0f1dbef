import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class TrainerTests: XCTestCase {
    func testKLRunKeepsTheCodeNearRho() throws {
        let data = syntheticImages(count: 512, side: 6)
        let config = AutoencoderConfig(inputSize: 36, hiddenSizes: [16], codeSize: 8, codeActivation: .sigmoid,
                                       penalty: .kl(rho: 0.05, beta: 3))
        let model = try Autoencoder(config: config, seed: 2)
        let before = model.evaluate(data).meanActivation
        try model.fit(data, settings: TrainingSettings(epochs: 20, batchSize: 64, optimizer: AdamSettings(learningRate: 1e-2), seed: 2))
        let after = model.evaluate(data).meanActivation
        XCTAssertEqual(before, 0.5, accuracy: 0.2)
        XCTAssertLessThan(abs(after - 0.05), abs(before - 0.05) / 3, "mean code activation moved from \(before) to \(after)")
    }

    func testSameSeedGivesSameRunAndOtherSeedDoesNot() throws {
        let data = syntheticImages(count: 300, side: 5)
        func run(_ seed: UInt64) throws -> ([Float], [EpochRecord]) {
            let model = try Autoencoder(config: AutoencoderConfig(inputSize: 25, hiddenSizes: [10], codeSize: 4), seed: seed)
            let h = try model.fit(data, validation: data, settings: TrainingSettings(epochs: 2, batchSize: 64, seed: seed))
            return (model.parameterValues, h)
        }
        let a = try run(4), b = try run(4), c = try run(5)
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1.map(\.loss), b.1.map(\.loss))
        XCTAssertNotEqual(a.0, c.0)
    }

    /// 1000 samples in batches of 256 is 3 full batches and a partial one of 232, which is kept;
    /// the epoch loss is the sample-weighted mean of the batch losses. With a negligible learning
    /// rate and a linear penalty, that equals the loss over the whole set.
    func testPartialBatchIsKeptAndEpochLossIsSampleWeighted() throws {
        let data = syntheticImages(count: 1000, side: 4)
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4, penalty: .l1(lambda: 0.1)), seed: 6)
        let expected = model.evaluate(data, batchSize: 1000).loss
        var steps: [Int] = []
        let history = try model.fit(data, settings: TrainingSettings(epochs: 1, batchSize: 256, optimizer: AdamSettings(learningRate: 1e-30), seed: 6)) {
            if case .step(_, let step, let total, _, _) = $0 { steps.append(step); XCTAssertEqual(total, 4) }
        }
        XCTAssertEqual(steps, [1, 2, 3, 4])
        XCTAssertEqual(history[0].loss, expected, accuracy: 1e-6)
    }

    /// `fit` visits every sample once an epoch, in a fresh order each epoch, fixed by the seed.
    /// The order is read off the progress: with one sample per step and a negligible learning
    /// rate, each sample's loss stays what it was, and the running mean after each step gives
    /// the loss of the sample just trained on, hence which sample it was.
    func testFitReshufflesEveryEpoch() throws {
        let n = 24
        let data = syntheticImages(count: n, side: 3, seed: 11)
        // A sigmoid code: no sample's code is all zeros (which would give all such samples one loss).
        let config = AutoencoderConfig(inputSize: 9, hiddenSizes: [], codeSize: 3, codeActivation: .sigmoid)
        let own = try (0..<n).map { i in try Autoencoder(config: config, seed: 2).evaluate(data.subset([i]), batchSize: 1).loss }
        let sorted = own.sorted()
        let gap = zip(sorted.dropFirst(), sorted).map { $0 - $1 }.min()!
        XCTAssertGreaterThan(gap, 1e-5, "the samples' losses must tell them apart")
        func epochOrders(seed: UInt64) throws -> [[Int]] {
            let model = try Autoencoder(config: config, seed: 2)
            var means: [[Double]] = []
            let settings = TrainingSettings(epochs: 3, batchSize: 1, optimizer: AdamSettings(learningRate: 1e-30), seed: seed)
            try model.fit(data, settings: settings) { event in
                if case .epochStart = event { means.append([]) }
                if case .step(_, _, _, let mean, _) = event { means[means.count - 1].append(mean) }
            }
            return means.map { epoch in
                epoch.indices.map { k in
                    let loss = Double(k + 1) * epoch[k] - Double(k) * (k > 0 ? epoch[k - 1] : 0)
                    let sample = own.indices.min { abs(own[$0] - loss) < abs(own[$1] - loss) }!
                    XCTAssertEqual(loss, own[sample], accuracy: gap / 10, "step \(k + 1)")
                    return sample
                }
            }
        }
        let orders = try epochOrders(seed: 1)
        XCTAssertEqual(orders.count, 3)
        for order in orders { XCTAssertEqual(order.sorted(), Array(0..<n), "every sample once an epoch: \(order)") }
        XCTAssertEqual(Set(orders).count, 3, "each epoch a fresh order: \(orders)")
        XCTAssertFalse(orders.contains(Array(0..<n)), "shuffled, not in data order")
        XCTAssertEqual(try epochOrders(seed: 1), orders, "the same seed, the same orders")
        XCTAssertNotEqual(try epochOrders(seed: 2), orders, "another seed, other orders")
    }

    /// A TopK code fires at most k units per sample; dead latents are counted every epoch.
    func testTopKCodeAndDeadLatentCounts() throws {
        let data = syntheticImages(count: 400, side: 6)
        let config = AutoencoderConfig(inputSize: 36, hiddenSizes: [16], codeSize: 12, codeActivation: .topk, topK: 3)
        let model = try Autoencoder(config: config, seed: 4)
        let history = try model.fit(data, settings: TrainingSettings(epochs: 2, batchSize: 50, seed: 4))
        XCTAssertLessThan(history[1].loss, history[0].loss)
        let codes = model.encode(data)
        for r in 0..<400 { XCTAssertLessThanOrEqual(codes[(r * 12)..<((r + 1) * 12)].filter { $0 > 0 }.count, 3) }
        XCTAssertNotNil(history[1].deadLatents)
        XCTAssertTrue(model.summary.contains("topk, k=3"), model.summary)
        XCTAssertThrowsError(try Autoencoder(config: AutoencoderConfig(inputSize: 36, codeSize: 12, codeActivation: .topk), seed: 1))
        XCTAssertThrowsError(try Autoencoder(config: AutoencoderConfig(inputSize: 36, codeSize: 12, codeActivation: .relu, topK: 3), seed: 1))
        // A unit held far below zero never fires: it is counted dead after an epoch.
        let relu = try Autoencoder(config: AutoencoderConfig(inputSize: 36, hiddenSizes: [16], codeSize: 12), seed: 4)
        var p = relu.parameterValues
        p[relu.layers[relu.codeLayerIndex].biasOffset] = -1000
        relu.parameterValues = p
        let counts = try relu.fit(data, settings: TrainingSettings(epochs: 1, batchSize: 50, seed: 4)).map { $0.deadLatents ?? -1 }
        XCTAssertGreaterThanOrEqual(counts[0], 1)
    }

    func testBadSettingsAreRefused() throws {
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 4, hiddenSizes: [], codeSize: 2), seed: 1)
        XCTAssertThrowsError(try Trainer(model: model, settings: TrainingSettings(epochs: 0)))
        XCTAssertThrowsError(try Trainer(model: model, settings: TrainingSettings(batchSize: -1)))
        XCTAssertThrowsError(try Trainer(model: model, settings: TrainingSettings(optimizer: AdamSettings(learningRate: 0))))
        XCTAssertThrowsError(try model.fit(syntheticImages(count: 5, side: 3))) { error in
            XCTAssertTrue("\(error)".contains("expects 4"), "\(error)")
        }
    }
}
