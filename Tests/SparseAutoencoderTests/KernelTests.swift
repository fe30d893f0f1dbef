import Foundation
import XCTest
import CKernels
@testable import SparseAutoencoder

/// The C kernels' exp and log1p against libm, and the sums over many elements.
final class KernelTests: XCTestCase {
    func testExpIsWithinTwoTenMillionthsOfLibm() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = -87 + Float(i) * (175 / 200_000)
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(sae_exp(x)) - exact) / exact)
        }
        XCTAssertLessThan(worst, 2e-7)
        XCTAssertEqual(sae_exp(0), 1)
        XCTAssertTrue(sae_exp(-1000) >= 0 && sae_exp(-1000) < 1e-37)
        XCTAssertTrue(sae_exp(1000).isFinite)
    }

    func testLog1pIsWithinOneTenMillionthOnTheUnitInterval() {
        var worst = 0.0
        for i in 0...100_000 {
            let e = Float(i) / 100_000
            worst = max(worst, abs(Double(sae_log1p_unit(e)) - Foundation.log1p(Double(e))))
        }
        XCTAssertLessThan(worst, 1e-7)
        XCTAssertEqual(sae_log1p_unit(0), 0)
        XCTAssertEqual(sae_log1p_unit(1e-30), 1e-30, accuracy: 1e-36)
    }

    func testSigmoidAtBothEnds() {
        XCTAssertEqual(Activation.sigmoid(0), 0.5)
        XCTAssertEqual(Activation.sigmoid(100), 1)
        XCTAssertLessThan(Activation.sigmoid(-100), 1e-37)
        XCTAssertEqual(Activation.sigmoid(2), Float(1 / (1 + Foundation.exp(-2.0))), accuracy: 1e-7)
    }

    /// A long loss sum (blocks, lanes and a tail) against a double-precision reference.
    func testLongSumsStayAccurate() {
        let n = 200_003
        let z = randomFloats(n, seed: 1, in: -6...6), x = randomFloats(n, seed: 2, in: 0...1)
        var reference = 0.0
        for i in 0..<n {
            let zi = Double(z[i])
            reference += max(zi, 0) - zi * Double(x[i]) + Foundation.log1p(Foundation.exp(-abs(zi)))
        }
        XCTAssertEqual(sae_bce(z, x, nil, n, 1), reference, accuracy: reference * 1e-6)
    }
}
