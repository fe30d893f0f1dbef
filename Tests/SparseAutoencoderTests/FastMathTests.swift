import Foundation
import XCTest
@testable import SparseAutoencoder

final class FastMathTests: XCTestCase {
    func testExpIsWithinTwoTenMillionthsOfLibm() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = -87 + Float(i) * (175 / 200_000)
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(FastMath.exp(x)) - exact) / exact)
        }
        XCTAssertLessThan(worst, 2e-7)
        XCTAssertEqual(FastMath.exp(0), 1)
        XCTAssertTrue(FastMath.exp(-1000) >= 0 && FastMath.exp(-1000) < 1e-37)
        XCTAssertTrue(FastMath.exp(1000).isFinite)
    }

    func testLog1pIsWithinOneTenMillionthOnTheUnitInterval() {
        var worst = 0.0
        for i in 0...100_000 {
            let e = Float(i) / 100_000
            worst = max(worst, abs(Double(FastMath.log1pUnit(e)) - Foundation.log1p(Double(e))))
        }
        XCTAssertLessThan(worst, 1e-7)
        XCTAssertEqual(FastMath.log1pUnit(0), 0)
        XCTAssertEqual(FastMath.log1pUnit(1e-30), 1e-30, accuracy: 1e-36)
    }

    func testSigmoidAtBothEnds() {
        XCTAssertEqual(FastMath.sigmoid(0), 0.5)
        XCTAssertEqual(FastMath.sigmoid(100), 1)
        XCTAssertLessThan(FastMath.sigmoid(-100), 1e-37)
        XCTAssertEqual(FastMath.sigmoid(2), Float(1 / (1 + Foundation.exp(-2.0))), accuracy: 1e-7)
    }
}
