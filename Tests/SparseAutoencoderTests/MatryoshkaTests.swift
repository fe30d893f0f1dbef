import XCTest
@testable import SparseAutoencoder

/// Matryoshka BatchTopK: the prefixes' losses against a dense reference, the step's gradient
/// against finite differences, one group being BatchTopK exactly, and exact resume.
final class MatryoshkaTests: XCTestCase {
    private func config(c: Int = 24, k: Int = 3, groups: [Int] = [4, 8, 12], unitNorm: Bool = false) -> AutoencoderConfig {
        var config = AutoencoderConfig.dictionary(inputSize: 6, codeSize: c, unitNormDecoder: unitNorm)
        (config.architecture, config.topK, config.groups) = (.matryoshka, k, groups)
        return config
    }

    /// The penalty is the sum of the smaller prefixes' mean squared errors, each prefix
    /// reconstructing from its groups' latents of the code alone.
    func testPrefixLossesMatchADenseReference() throws {
        let m = try Autoencoder(config: config(), seed: 2), batch = 9
        let x = randomFloats(batch * 6, seed: 5)
        let ws = Workspace(model: m, capacity: batch)
        ws.input.update(from: x, count: x.count)
        m.forward(ws, batch: batch)
        let loss = m.loss(ws, batch: batch)
        let codes = m.encode(x), p = m.parameterValues, dec = m.layers[1]
        var reference = 0.0
        for end in [4, 12] {
            for r in 0..<batch {
                for i in 0..<6 {
                    var v = Double(p[dec.biasOffset + i])
                    for j in 0..<end { v += Double(codes[r * 24 + j]) * Double(p[dec.kernelOffset + j * 6 + i]) }
                    reference += (v - Double(x[r * 6 + i])) * (v - Double(x[r * 6 + i])) / Double(batch * 6)
                }
            }
        }
        XCTAssertGreaterThan(reference, 0)
        XCTAssertEqual(loss.penalty, reference, accuracy: 1e-5 * reference)
    }

    func testGradientMatchesFiniteDifferences() throws {
        let m = try Autoencoder(config: config(), seed: 3), batch = 5
        let ws = Workspace(model: m, capacity: batch)
        ws.training = true
        m.assertBackwardMatchesFiniteDifferences(ws, randomFloats(batch * 6, seed: 21), batch: batch)
    }

    /// With one group there are no smaller prefixes: the same steps as BatchTopK, to the bit.
    func testOneGroupTrainsAsBatchTopK() throws {
        var single = config(groups: [24], unitNorm: true)
        single.auxK = AuxK(k: 4)
        var batchTopK = single
        (batchTopK.architecture, batchTopK.groups) = (.batchtopk, nil)
        let data = syntheticImages(count: 120, side: 4)
        (single.inputSize, batchTopK.inputSize) = (16, 16)
        let settings = TrainingSettings(epochs: 2, batchSize: 32, seed: 4, deadAfter: 40)
        let (a, b) = (try Autoencoder(config: single, seed: 4), try Autoencoder(config: batchTopK, seed: 4))
        try a.fit(data, settings: settings)
        try b.fit(data, settings: settings)
        XCTAssertEqual(a.parameterValues, b.parameterValues)
    }

    func testCheckpointResumesExactly() throws {
        var c = config(groups: [6, 18])
        c.inputSize = 16
        try assertCheckpointResumesExactly(c, on: syntheticImages(count: 200, side: 4),
                                           settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64),
                                           stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: temporaryDirectory(self))
    }

    func testGroupsOnTheCommandLine() throws {
        let fractions = try runSAE(["summary", "--architecture", "matryoshka", "--hidden", "none", "--k", "4", "--groups", "0.25,0.75", "--code", "64"])
        XCTAssertEqual(fractions.status, 0, fractions.stderr)
        XCTAssertTrue(fractions.stdout.contains("groups 16, 48"), fractions.stdout)
        assertCommandFails(try runSAE(["summary", "--architecture", "matryoshka", "--hidden", "none", "--k", "4", "--groups", "0.5,0.6"]),
                           mentioning: "fractions adding up to 1")
        assertCommandFails(try runSAE(["summary", "--k", "4", "--groups", "16,48", "--code", "64"]), mentioning: "--groups is Matryoshka's")
        // Each architecture's options (Sources/sae/Architectures/) belong to it on the command line too.
        assertCommandFails(try runSAE(["summary", "--architecture", "batchtopk", "--hidden", "none", "--k", "4", "--gate-l1", "0.5"]),
                           mentioning: "--gate-l1 is Gated's")
        assertCommandFails(try runSAE(["summary", "--architecture", "gated", "--hidden", "none", "--target-l0", "4"]),
                           mentioning: "--target-l0 and --l0-coefficient are JumpReLU's")
        let jumprelu = try runSAE(["summary", "--architecture", "jumprelu", "--hidden", "none", "--target-l0", "4", "--bandwidth", "0.01"])
        XCTAssertEqual(jumprelu.status, 0, jumprelu.stderr)
        XCTAssertTrue(jumprelu.stdout.contains("L0 (lambda 1.0, target 4.0, bandwidth 0.01)"), jumprelu.stdout)
    }

    func testGroupsAreChecked() {
        var c = config()
        c.groups = [4, 8, 11]
        XCTAssertThrowsError(try c.validate())
        c.groups = nil
        XCTAssertThrowsError(try c.validate())
        c.groups = [24]
        XCTAssertNoThrow(try c.validate())
        c.architecture = .batchtopk
        XCTAssertThrowsError(try c.validate())   // groups are Matryoshka's
    }
}
