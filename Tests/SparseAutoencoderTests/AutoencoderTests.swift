import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class AutoencoderTests: XCTestCase {
    /// A small model whose whole loss (reconstruction + penalty) is differentiated by finite
    /// differences over every parameter, for each loss, penalty and code activation.
    func testWholeModelGradientMatchesFiniteDifferences() throws {
        let cases: [AutoencoderConfig] = [
            AutoencoderConfig(inputSize: 6, hiddenSizes: [5], codeSize: 3, codeActivation: .relu, penalty: .l1(lambda: 0.05), loss: .bce),
            AutoencoderConfig(inputSize: 6, hiddenSizes: [5], codeSize: 3, codeActivation: .sigmoid, penalty: .kl(rho: 0.1, beta: 3), loss: .bce),
            AutoencoderConfig(inputSize: 6, hiddenSizes: [], codeSize: 4, codeActivation: .sigmoid, penalty: .kl(rho: 0.2, beta: 1), loss: .mse),
            AutoencoderConfig(inputSize: 6, hiddenSizes: [4, 3], codeSize: 2, codeActivation: .linear, penalty: .none, loss: .mse),
            AutoencoderConfig(inputSize: 6, hiddenSizes: [5], codeSize: 4, codeActivation: .topk, topK: 2, penalty: .l1(lambda: 0.01), loss: .bce),
        ]
        for (n, config) in cases.enumerated() {
            let model = try Autoencoder(config: config, seed: UInt64(n + 1))
            // Non-zero biases so relu units are off their kinks.
            var p = model.parameterValues
            for layer in model.layers { for j in 0..<layer.outputSize { p[layer.biasOffset + j] = j % 2 == 0 ? 0.1 : -0.07 } }
            model.parameterValues = p
            let ws = Workspace(model: model, capacity: 4)
            model.assertBackwardMatchesFiniteDifferences(ws, randomFloats(4 * config.inputSize, seed: 11, in: 0...1), batch: 4)
        }
    }

    func testGlorotUniformInitialisation() throws {
        let model = try Autoencoder(config: .tutorial(.l1(lambda: 1e-5)), seed: 3)
        let p = model.parameterValues
        for layer in model.layers {
            let a = (6 / Float(layer.inputSize + layer.outputSize)).squareRoot()
            let kernel = p[layer.kernelOffset..<(layer.kernelOffset + layer.inputSize * layer.outputSize)]
            XCTAssertLessThanOrEqual(kernel.map(abs).max()!, a)
            XCTAssertGreaterThan(kernel.map(abs).max()!, 0.95 * a)
            let mean = kernel.reduce(0, +) / Float(kernel.count)
            XCTAssertEqual(mean, 0, accuracy: 0.1 * a)
            XCTAssertTrue(p[layer.biasOffset..<(layer.biasOffset + layer.outputSize)].allSatisfy { $0 == 0 })
        }
        XCTAssertEqual(model.parameterCount, 218_192) // Keras's summary of the tutorial model
    }

    func testDecodeOfEncodeIsReconstruct() throws {
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4), seed: 5)
        let x = syntheticImages(count: 300, side: 4).floats(0..<300) // more rows than one inference batch
        let codes = model.encode(x)
        XCTAssertEqual(codes.count, 300 * 4)
        let viaCodes = model.decode(codes), direct = model.reconstruct(x)
        XCTAssertEqual(viaCodes.count, direct.count)
        for i in direct.indices { XCTAssertEqual(viaCodes[i], direct[i], accuracy: 1e-6) }
        XCTAssertTrue(direct.allSatisfy { $0 > 0 && $0 < 1 })
    }

    func testSaveAndLoadGiveIdenticalOutputs() throws {
        let dir = temporaryDirectory(self)
        let config = AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4, codeActivation: .sigmoid,
                                       penalty: .kl(rho: 0.05, beta: 3))
        let model = try Autoencoder(config: config, seed: 9)
        try model.save(to: dir + "/m.safetensors")
        let loaded = try Autoencoder.load(config: config, from: dir + "/m.safetensors")
        XCTAssertEqual(loaded.parameterValues, model.parameterValues)
        let x = syntheticImages(count: 20, side: 4).floats(0..<20)
        XCTAssertEqual(loaded.encode(x), model.encode(x))
        XCTAssertEqual(loaded.reconstruct(x), model.reconstruct(x))
    }

    func testLoadRefusesWeightsThatDoNotFitTheConfig() throws {
        let dir = temporaryDirectory(self)
        let small = AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4)
        try Autoencoder(config: small, seed: 1).save(to: dir + "/m.safetensors")
        var other = small
        other.codeSize = 5
        XCTAssertThrowsError(try Autoencoder.load(config: other, from: dir + "/m.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("has shape"), "\(error)")
        }
        other = small
        other.hiddenSizes = []
        XCTAssertThrowsError(try Autoencoder.load(config: other, from: dir + "/m.safetensors"))
    }

    func testSummaryListsLayersAndParameterCounts() {
        let summary = AutoencoderConfig.tutorial(.kl(rho: 0.05, beta: 3)).summary
        for expected in ["(None, 784)", "(None, 128)", "(None, 64)", "100480", "8256", "8320", "101136",
                         "Total params: 218192", "code (Dense, sigmoid)"] {
            XCTAssertTrue(summary.contains(expected), "missing \(expected) in\n\(summary)")
        }
    }
}
