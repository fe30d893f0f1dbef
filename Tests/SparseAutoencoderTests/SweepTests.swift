import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import SparseAutoencoder

final class SweepTests: XCTestCase {
    func testParetoFrontKeepsOnlyUnbeatenPoints() {
        // (sparsity, loss): b beats c on both; d ties a on x but is worse on y.
        let points: [(x: Double, y: Double)] = [(1, 5), (2, 3), (3, 4), (1, 6), (4, 1)]
        XCTAssertEqual(Sweep.paretoFront(points), [0, 1, 4])
    }

    func testGridNamesEveryCombinationAndAddsTheBaseline() {
        XCTAssertEqual(Sweep.grid(lambdas: [1e-5, 1e-3]).map(\.name), ["l1_1e-05", "l1_0.001", "none"])
        let kl = Sweep.grid(rhos: [0.05, 0.1], betas: [3], codeSizes: [32, 64])
        XCTAssertEqual(kl.count, 6)
        XCTAssertEqual(kl[0].name, "kl_rho0.05_beta3.0_code32")
        XCTAssertEqual(kl[0].penalty, .kl(rho: 0.05, beta: 3))
        let topk = Sweep.grid(ks: [8, 16])
        XCTAssertEqual(topk.map(\.name), ["topk_k8", "topk_k16", "none"])
        XCTAssertEqual(topk.map(\.topK), [8, 16, nil])
    }

    func testLinearProbeSeparatesSeparableClassesAndNotNoise() throws {
        // Three classes, each a shifted blob in 5 dimensions; and the same features with shuffled labels.
        var rng = SeededGenerator(seed: 3)
        func blobs(_ n: Int) -> ([Float], [UInt8]) {
            var x: [Float] = [], y: [UInt8] = []
            for i in 0..<n {
                let c = i % 3
                for j in 0..<5 { x.append((j == c ? 3 : 0) + rng.nextUnitFloat() - 0.5) }
                y.append(UInt8(c))
            }
            return (x, y)
        }
        let (xTrain, yTrain) = blobs(600), (xTest, yTest) = blobs(300)
        let separable = try LinearProbe.accuracy(train: xTrain, trainLabels: yTrain, test: xTest, testLabels: yTest, features: 5, epochs: 5)
        XCTAssertGreaterThan(separable, 0.97)
        var shuffled = yTrain
        var order = Array(shuffled.indices)
        rng.shuffle(&order)
        shuffled = order.map { yTrain[$0] }
        let noise = try LinearProbe.accuracy(train: xTrain, trainLabels: shuffled, test: xTest, testLabels: yTest, features: 5, epochs: 5)
        XCTAssertLessThan(noise, 0.6)
        XCTAssertThrowsError(try LinearProbe.accuracy(train: xTrain, trainLabels: yTrain, test: xTest, testLabels: yTest, features: 4))
    }

    func testSweepWritesTableChartsAndARecommendation() throws {
        let root = temporaryDirectory(self)
        let train = syntheticImages(count: 300, side: 8, seed: 1), test = syntheticImages(count: 100, side: 8, seed: 2)
        var analyses: [RunAnalysis] = []
        for setting in Sweep.grid(lambdas: [1e-4, 1e-1]) {
            let config = RunConfig(model: AutoencoderConfig(inputSize: 64, hiddenSizes: [16], codeSize: 6, penalty: setting.penalty),
                                   training: TrainingSettings(epochs: 2, batchSize: 64, seed: 1), data: DataSettings())
            let run = try RunDirectory.create(root + "/" + setting.name, force: false)
            try TrainingRun.run(config, train: train, test: test, into: run)
            analyses.append(try RunAnalysis(run: run, test: test, name: setting.name, probe: (train, 0.5)))
        }
        let sweep = Sweep(runs: analyses)
        let files = try sweep.write(to: root)
        XCTAssertEqual(files.count, 4)
        for svg in files.filter({ $0.hasSuffix(".svg") }) {
            XCTAssertTrue(XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: svg))).parse(), svg)
        }
        XCTAssertTrue(sweep.table.contains("l1_0.0001") && sweep.table.contains("none") && sweep.table.contains("yes"))
        let pick = try XCTUnwrap(sweep.recommendation())
        XCTAssertTrue(pick.reason.hasPrefix(analyses[pick.index].name))
        XCTAssertNotEqual(analyses[pick.index].name, "none", "the baseline is not a candidate")
        XCTAssertTrue(pick.reason.contains("Against no penalty"), pick.reason)
        let markdown = try String(contentsOfFile: root + "/sweep.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("Recommended: ") && markdown.contains("raw pixels scores 50.0%"), markdown)
        XCTAssertNotNil(analyses[0].metrics.probeAccuracy)
    }
}
