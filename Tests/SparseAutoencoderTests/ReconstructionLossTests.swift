import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class ReconstructionLossTests: XCTestCase {
    let rows = 3, cols = 7

    func evaluate(_ loss: ReconstructionLoss, _ z: [Float], _ x: [Float], gradient: UnsafeMutablePointer<Float>? = nil,
                  scale: Float = 1) -> Double {
        loss.evaluate(logits: z, targets: x, rows: rows, cols: cols, gradient: gradient, scale: scale)
    }

    func testBCEMatchesTheDefinitionOnProbabilities() {
        let z = randomFloats(rows * cols, seed: 1, in: -4...4), x = randomFloats(rows * cols, seed: 2, in: 0...1)
        var expected = 0.0
        for i in z.indices {
            let p = 1 / (1 + exp(Double(-z[i])))
            expected -= Double(x[i]) * log(p) + Double(1 - x[i]) * log(1 - p)
        }
        XCTAssertEqual(evaluate(.bce, z, x), expected, accuracy: 1e-4)
    }

    func testBCEIsFiniteForExtremeLogits() {
        let z: [Float] = [-200, -50, 0, 50, 200, 1e30, -1e30] + [Float](repeating: 0, count: rows * cols - 7)
        let x = [Float](repeating: 0.5, count: rows * cols)
        var g = [Float](repeating: 0, count: rows * cols)
        XCTAssertTrue(evaluate(.bce, z, x, gradient: &g).isFinite)
        XCTAssertTrue(g.allSatisfy(\.isFinite))
    }

    func testMSEMatchesTheDefinition() {
        let z = randomFloats(rows * cols, seed: 3, in: -3...3), x = randomFloats(rows * cols, seed: 4, in: 0...1)
        let expected = zip(z, x).reduce(0.0) { sum, e in
            let s = 1 / (1 + exp(Double(-e.0)))
            return sum + (s - Double(e.1)) * (s - Double(e.1))
        }
        XCTAssertEqual(evaluate(.mse, z, x), expected, accuracy: 1e-5)
    }

    func testGradientsMatchFiniteDifferences() {
        for loss in ReconstructionLoss.allCases {
            let z = randomFloats(rows * cols, seed: 5, in: -3...3), x = randomFloats(rows * cols, seed: 6, in: 0...1)
            var g = [Float](repeating: 0, count: rows * cols)
            _ = evaluate(loss, z, x, gradient: &g)
            assertGradientMatches(g, at: z, h: 1e-2) { evaluate(loss, $0, x) }
        }
    }

    func testGradientScaleIsApplied() {
        let z = randomFloats(rows * cols, seed: 7), x = randomFloats(rows * cols, seed: 8, in: 0...1)
        var g1 = [Float](repeating: 0, count: rows * cols), g2 = g1
        _ = evaluate(.bce, z, x, gradient: &g1, scale: 1)
        _ = evaluate(.bce, z, x, gradient: &g2, scale: 0.25)
        for i in g1.indices { XCTAssertEqual(g2[i], g1[i] * 0.25, accuracy: 1e-7) }
    }
}
