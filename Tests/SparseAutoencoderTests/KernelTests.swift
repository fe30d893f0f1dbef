import Foundation
import XCTest
import CKernels
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

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

    /// TopK against a sort: each row keeps its k largest values, ties going to the earliest
    /// units; rows with many equal values (quantised to a few levels) exercise the ties.
    func testTopKRowsKeepTheKLargestWithEarliestTies() {
        var rng = SeededGenerator(seed: 4)
        for (cols, k) in [(10, 3), (64, 8), (300, 32), (7, 7)] {
            let rows = 20
            let input = (0..<(rows * cols)).map { _ in Float(Int(rng.nextUnitFloat() * 6)) - 2 }
            var y = input
            sae_topk_rows(&y, rows, cols, k)
            for r in 0..<rows {
                let row = Array(input[(r * cols)..<((r + 1) * cols)])
                let kept = Set(row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k))
                for j in 0..<cols { XCTAssertEqual(y[r * cols + j], kept.contains(j) ? row[j] : 0, "cols \(cols) k \(k) row \(r) unit \(j)") }
            }
        }
    }

    /// AuxK's selection: among the allowed columns only, the k largest, relu'd, written compactly.
    func testTopKAmongAllowedColumnsIsCompactAndRelud() {
        let pre: [Float] = [5, -1, 3, 2, 0.5, 4,
                            -3, -2, 1, -1, 9, -4]
        let allowed: [UInt8] = [0, 1, 1, 1, 1, 0]
        var out = [Float](repeating: 7, count: 2 * 4)
        sae_topk_among(pre, allowed, &out, 2, 6, 2)
        XCTAssertEqual(out, [0, 3, 2, 0,     // row 0: allowed -1, 3, 2, 0.5 -> 3 and 2
                             0, 1, 0, 9])    // row 1: allowed -2, 1, -1, 9 -> 9 and 1
    }
}
