import XCTest
@testable import SparseAutoencoder

final class TrainerTests: XCTestCase {
    func testShortRunOnFashionMNISTLowersTheLoss() throws {
        let (train, test) = try debianFashionMNIST()
        let model = try Autoencoder(config: .tutorial(.l1(lambda: 1e-5)), seed: 1)
        let history = try model.fit(train.prefix(2000), validation: test.prefix(500),
                                    settings: TrainingSettings(epochs: 3, batchSize: 256, seed: 1))
        XCTAssertEqual(history.map(\.epoch), [1, 2, 3])
        XCTAssertLessThan(history[2].loss, history[0].loss)
        XCTAssertLessThan(history[2].valLoss!, history[0].valLoss!)
        XCTAssertLessThan(history[2].valLoss!, 0.5) // an untrained model scores ~0.69
    }

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

    func testEachShuffleIsAFreshPermutation() throws {
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 4, hiddenSizes: [], codeSize: 2), seed: 1)
        let trainer = try Trainer(model: model, settings: TrainingSettings(epochs: 1, batchSize: 4, seed: 1))
        var orders: [[Int]] = []
        var generator = trainer.rng
        for _ in 0..<3 {
            var order = Array(0..<50)
            generator.shuffle(&order)
            orders.append(order)
        }
        XCTAssertEqual(Set(orders.map { $0.sorted() }), [Array(0..<50)])
        XCTAssertEqual(Set(orders).count, 3)
        XCTAssertFalse(orders.contains(Array(0..<50)))
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
