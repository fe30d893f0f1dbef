import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// `sae eval`: every measure against its definition computed the simple way, the Hungarian
/// matching against brute force, feature recovery on decoders that hold the truth, and the tool.
final class ModelFreeEvaluationTests: XCTestCase {
    /// The one pass's numbers against the codes and reconstructions taken one by one.
    func testEveryMeasureIsItsDefinition() throws {
        let tutorial = AutoencoderConfig(inputSize: 6, hiddenSizes: [12], codeSize: 8, penalty: .l1(lambda: 1e-3))
        var (batchTopK, jumprelu, gated) = (AutoencoderConfig.dictionary(inputSize: 6, codeSize: 24, topK: 3),
                                            AutoencoderConfig.dictionary(inputSize: 6, codeSize: 24), AutoencoderConfig.dictionary(inputSize: 6, codeSize: 24))
        (batchTopK.architecture, batchTopK.codeActivation) = (.batchtopk, .relu)
        (jumprelu.architecture, jumprelu.jumpReLU) = (.jumprelu, JumpReLUSettings(bandwidth: 0.05, coefficient: 1, targetL0: 3))
        gated.architecture = .gated
        for config in [AutoencoderConfig.dictionary(inputSize: 6, codeSize: 24, topK: 3), tutorial, batchTopK, jumprelu, gated] {
            let model = try Autoencoder(config: config, seed: 2)
            let (n, d, c) = (90, config.inputSize, config.codeSize)
            let x = randomFloats(n * d, seed: 6, in: 0...1)
            let labels = (0..<n).map { UInt8($0 % 3) }
            let data = Dataset(vectors: x, count: n, features: d, labels: labels)
            // One batch: an untrained BatchTopK selects over the batch it is given, as encode's.
            let eval = try ModelFreeEvaluation(model: model, vectors: data, batchSize: n)
            let codes = model.encode(x), recon = model.reconstruct(x)
            let fires = (0..<c).map { j in (0..<n).filter { codes[$0 * c + j] > 0 }.count }
            XCTAssertEqual(eval.l0, Double(fires.reduce(0, +)) / Double(n), accuracy: 1e-12)
            XCTAssertEqual(eval.deadFraction, Double(fires.filter { $0 == 0 }.count) / Double(c))
            XCTAssertEqual(eval.denseFraction, Double(fires.filter { Double($0) / Double(n) > 0.1 }.count) / Double(c))
            XCTAssertEqual(eval.densityCounts.reduce(0, +), fires.filter { $0 > 0 }.count)
            var (shrink, cosine) = (0.0, 0.0)
            for r in 0..<n {
                let a = (0..<d).map { Double(x[r * d + $0]) }, b = (0..<d).map { Double(recon[r * d + $0]) }
                let (aa, bb, ab) = (a.reduce(0) { $0 + $1 * $1 }, b.reduce(0) { $0 + $1 * $1 }, zip(a, b).reduce(0) { $0 + $1.0 * $1.1 })
                shrink += (bb / aa).squareRoot()
                cosine += bb > 0 ? ab / (aa * bb).squareRoot() : 0
            }
            XCTAssertEqual(try XCTUnwrap(eval.shrinkage), shrink / Double(n), accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(eval.cosine), cosine / Double(n), accuracy: 1e-5)
            // Explained variance against the variance about the mean vector.
            var mean = [Double](repeating: 0, count: d)
            for r in 0..<n { for i in 0..<d { mean[i] += Double(x[r * d + i]) / Double(n) } }
            let variance = (0..<(n * d)).reduce(0.0) { $0 + pow(Double(x[$1]) - mean[$1 % d], 2) }
            let error = (0..<(n * d)).reduce(0.0) { $0 + pow(Double(x[$1]) - Double(recon[$1]), 2) }
            XCTAssertEqual(try XCTUnwrap(eval.explainedVariance), 1 - error / variance, accuracy: 1e-5)
            // Purity: per live latent, the largest class's share of its activation mass.
            var shares: [Double] = []
            for j in 0..<c {
                var mass = [0.0, 0.0, 0.0]
                for r in 0..<n where codes[r * c + j] > 0 { mass[Int(labels[r])] += Double(codes[r * c + j]) }
                if mass.reduce(0, +) > 0 { shares.append(mass.max()! / mass.reduce(0, +)) }
            }
            XCTAssertEqual(try XCTUnwrap(eval.purity), shares.reduce(0, +) / Double(shares.count), accuracy: 1e-6)
        }
    }

    func testTheHungarianMethodFindsTheBestAssignment() {
        var rng = SeededGenerator(seed: 3)
        for (n, m) in [(1, 1), (3, 3), (4, 6), (5, 7)] {
            let cost = (0..<(n * m)).map { _ in Double(rng.nextUnitFloat()) }
            let assignment = FeatureRecovery.hungarian(rows: n, columns: m) { cost[$0 * m + $1] }
            XCTAssertEqual(Set(assignment).count, n, "one column per row")
            // Brute force over every injective assignment.
            func best(_ row: Int, _ used: Set<Int>) -> Double {
                guard row < n else { return 0 }
                return (0..<m).filter { !used.contains($0) }.map { cost[row * m + $0] + best(row + 1, used.union([$0])) }.min()!
            }
            XCTAssertEqual(assignment.enumerated().reduce(0) { $0 + cost[$1.offset * m + $1.element] }, best(0, []), accuracy: 1e-12, "\(n)x\(m)")
        }
    }

    /// A decoder that holds every true direction (permuted, scaled, negated, among other rows)
    /// recovers all of them; one that holds half of 8 directions matches 4.
    func testFeatureRecoveryFindsDirectionsTheDecoderHolds() throws {
        let (m, d) = (8, 5), truth = randomFloats(m * d, seed: 4)
        let extra = randomFloats(4 * d, seed: 5)
        let order = [3, 7, 0, 5, 1, 6, 2, 4]
        var decoder = extra
        for (k, i) in order.enumerated() { decoder += truth[(i * d)..<(i * d + d)].map { $0 * (k % 2 == 0 ? 2.5 : -0.5) } }
        let all = try FeatureRecovery.match(decoderRows: decoder, latents: 12, directions: truth, count: m, width: d)
        XCTAssertEqual(all.meanMatchedCosine, 1, accuracy: 1e-5)
        XCTAssertEqual(all.above90, m)
        let half = try FeatureRecovery.match(decoderRows: Array(truth[0..<(4 * d)]), latents: 4, directions: truth, count: m, width: d)
        XCTAssertEqual(half.above90, 4)
        XCTAssertGreaterThanOrEqual(half.meanMatchedCosine, 0.5 - 1e-6)
        XCTAssertLessThan(half.meanMatchedCosine, 1)
        XCTAssertThrowsError(try FeatureRecovery.match(decoderRows: decoder, latents: 12, directions: truth, count: m, width: 4))
    }

    /// Sparse probing's tasks are balanced and seeded; on the fixture every accuracy is a
    /// fraction and the probe on all latents is reported with the raw-input one.
    func testSparseProbingOnTheFixture() throws {
        var rng = SeededGenerator(seed: 1)
        let labels: [UInt8] = (0..<100).map { UInt8($0 % 10 == 0 ? 1 : 0) }
        let rows = SparseProbing.balancedRows(labels, label: 1, perClass: 50, rng: &rng)
        XCTAssertEqual(rows.count, 20)
        XCTAssertEqual(rows.filter { labels[$0] == 1 }.count, 10)
        let (train, test) = try FashionMNIST.load(directory: fashionMini)
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 784, hiddenSizes: [32], codeSize: 16, penalty: .l1(lambda: 1e-5)), seed: 1)
        try model.fit(train, settings: TrainingSettings(epochs: 2, batchSize: 64))
        let result = try SparseProbing.run(model: model, train: train, test: test, perClass: 40)
        XCTAssertEqual(result.ks, [1, 2, 5, 10])   // k = 20 exceeds the 16 latents
        XCTAssertEqual(result.byClass.count, 10)
        for accuracy in result.accuracy + [result.allLatents, result.rawInputs] { XCTAssertTrue((0...1).contains(accuracy), "\(accuracy)") }
        XCTAssertGreaterThan(result.rawInputs, 0.6, "a balanced task's probe on pixels beats chance")
        XCTAssertEqual(try SparseProbing.run(model: model, train: train, test: test, perClass: 40), result, "seeded")
    }

    /// `sae eval` writes eval.json (read back), the report shows it, and it is a run's own file.
    func testTheToolWritesEvalJSONAndTheReportShowsIt() throws {
        let dir = temporaryDirectory(self)
        let (m, d) = (12, 6), truth = randomFloats(m * d, seed: 2)
        try NPY.write(truth, rows: m, cols: d, to: dir + "/directions.npy")
        try NPY.write(randomFloats(300 * d, seed: 9), rows: 300, cols: d, to: dir + "/x.npy")
        XCTAssertEqual(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "3", "--epochs", "1", "--out", dir + "/run"]).status, 0)
        let eval = try runSAE(["eval", dir + "/run", "--true-directions", dir + "/directions.npy"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.contains("feature recovery     mean matched |cos|"), eval.stdout)
        let stored = try JSONFile.read(ModelFreeEvaluation.self, from: dir + "/run/eval.json")
        XCTAssertEqual(stored.vectors, 30)
        XCTAssertEqual(stored.featureRecovery?.directions, m)
        XCTAssertNil(stored.sparseProbing, "unlabelled vectors")
        let report = try runSAE(["report", dir + "/run", "--out", dir + "/report", "--no-probe"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = try String(contentsOfFile: dir + "/report/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Evaluation (sae eval)") && html.contains("Feature density"), "the report shows eval.json")
        XCTAssertTrue(DirectoryLock.ownFiles.contains("eval.json"))
        assertCommandFails(try runSAE(["eval", dir + "/nothing"]), mentioning: "\(dir)/nothing is not a run directory (no config.json)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nothing"))
        try NPY.write(randomFloats(5 * 4, seed: 2), rows: 5, cols: 4, to: dir + "/narrow.npy")
        assertCommandFails(try runSAE(["eval", dir + "/run", "--true-directions", dir + "/narrow.npy"]),
                           mentioning: "holds directions of width 4, but the decoder's rows have 6")
    }
}
