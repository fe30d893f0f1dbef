import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class ActivityPenaltyTests: XCTestCase {
    let rows = 4, cols = 3

    func evaluate(_ penalty: ActivityPenalty, _ h: [Float], gradient: UnsafeMutablePointer<Float>? = nil) -> Double {
        var scratch = [Float](repeating: 0, count: cols)
        let value = penalty.value(code: h, rows: rows, cols: cols, scratch: &scratch)
        if let gradient { penalty.addGradient(code: h, rows: rows, cols: cols, scratch: scratch, into: gradient) }
        return value
    }

    func testL1IsLambdaTimesSumOverBatchSize() {
        let h: [Float] = [1, -2, 0, 0.5, 0, 3, 1, 1, 1, 0, 0, 2]
        XCTAssertEqual(evaluate(.l1(lambda: 0.1), h), 0.1 * 11.5 / 4, accuracy: 1e-6)
    }

    func testKLByHand() {
        // Column means 0.1, 0.2, 0.5; rho 0.05, beta 3, divided by B = 4.
        let h: [Float] = [0.1, 0.2, 0.5, 0.1, 0.2, 0.5, 0.1, 0.2, 0.5, 0.1, 0.2, 0.5]
        func kl(_ p: Double, _ q: Double) -> Double { p * log(p / q) + (1 - p) * log((1 - p) / (1 - q)) }
        let expected = 3 * (kl(0.05, 0.1) + kl(0.05, 0.2) + kl(0.05, 0.5)) / 4
        XCTAssertEqual(evaluate(.kl(rho: 0.05, beta: 3), h), expected, accuracy: 1e-5)
    }

    func testKLIsZeroAtTargetAndFiniteAtTheEdges() {
        XCTAssertEqual(evaluate(.kl(rho: 0.3, beta: 2), [Float](repeating: 0.3, count: rows * cols)), 0, accuracy: 1e-6)
        var g = [Float](repeating: 0, count: rows * cols)
        let edges: [Float] = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]
        XCTAssertTrue(evaluate(.kl(rho: 0.05, beta: 3), edges, gradient: &g).isFinite)
        XCTAssertTrue(g.allSatisfy(\.isFinite))
    }

    func testGradientsMatchFiniteDifferences() {
        let cases: [(ActivityPenalty, ClosedRange<Float>)] = [
            (.l1(lambda: 0.3), -1...1),            // signs both ways (a linear code)
            (.kl(rho: 0.05, beta: 3), 0.05...0.9), // inside (0, 1), as a sigmoid code is
        ]
        for (penalty, range) in cases {
            var h = randomFloats(rows * cols, seed: 9, in: range)
            if case .l1 = penalty { for i in h.indices where abs(h[i]) < 0.05 { h[i] = 0.2 } } // off the kink
            var g = [Float](repeating: 0, count: rows * cols)
            _ = evaluate(penalty, h, gradient: &g)
            assertGradientMatches(g, at: h, h: 1e-3) { evaluate(penalty, $0) }
        }
    }

    func testGradientIsAddedNotOverwritten() {
        let h = randomFloats(rows * cols, seed: 10, in: 0.1...0.9)
        var g0 = [Float](repeating: 0, count: rows * cols), g1 = [Float](repeating: 1, count: rows * cols)
        _ = evaluate(.kl(rho: 0.05, beta: 3), h, gradient: &g0)
        _ = evaluate(.kl(rho: 0.05, beta: 3), h, gradient: &g1)
        for i in g0.indices { XCTAssertEqual(g1[i], g0[i] + 1, accuracy: 1e-6) }
    }

    func testKLOnAnUnboundedCodeIsRefusedWithTheReason() {
        XCTAssertThrowsError(try ActivityPenalty.kl(rho: 0.05, beta: 3).validate(codeActivation: .relu)) { error in
            XCTAssertTrue("\(error)".contains("relu outputs can exceed 1"), "\(error)")
        }
        XCTAssertNoThrow(try ActivityPenalty.kl(rho: 0.05, beta: 3).validate(codeActivation: .sigmoid))
    }

    func testSettingsOutsideTheirRangeAreRefused() {
        XCTAssertThrowsError(try ActivityPenalty.kl(rho: 1.5, beta: 3).validate(codeActivation: .sigmoid))
        XCTAssertThrowsError(try ActivityPenalty.kl(rho: 0, beta: 3).validate(codeActivation: .sigmoid))
        XCTAssertThrowsError(try ActivityPenalty.kl(rho: 0.1, beta: -1).validate(codeActivation: .sigmoid))
        XCTAssertThrowsError(try ActivityPenalty.l1(lambda: -1e-5).validate(codeActivation: .relu))
    }

    func testCodableRoundTrip() throws {
        for p in [ActivityPenalty.none, .l1(lambda: 1e-5), .kl(rho: 0.05, beta: 3)] {
            let data = try JSONEncoder().encode(p)
            XCTAssertEqual(try JSONDecoder().decode(ActivityPenalty.self, from: data), p)
        }
    }
}
