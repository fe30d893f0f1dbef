import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class CodeStatisticsTests: XCTestCase {
    // Three codes of four units, worked out by hand below.
    let codes: [Float] = [0, 0, 2, 0,
                          1, 1, 1, 1,
                          0, 0.005, 0.5, 0]

    func testStatisticsMatchHandComputation() {
        let s = CodeStatistics(codes: codes, rows: 3, cols: 4, threshold: 1e-3)
        XCTAssertEqual(s.meanActivation, 6.505 / 12, accuracy: 1e-7)
        XCTAssertEqual(s.unitMeans[0], 1.0 / 3, accuracy: 1e-7)
        XCTAssertEqual(s.unitMeans[1], 1.005 / 3, accuracy: 1e-7)
        XCTAssertEqual(s.unitMeans[2], 3.5 / 3, accuracy: 1e-7)
        // Active values: row 0 has 1, row 1 has 4, row 2 has 2 (0.005 and 0.5).
        XCTAssertEqual(s.l0, 7.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s.l0ByThreshold["0.001"]!, 7.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s.l0ByThreshold["0.01"]!, 2, accuracy: 1e-12)
        XCTAssertEqual(s.l0ByThreshold["0.1"]!, 2, accuracy: 1e-12)
        XCTAssertEqual(s.nearZeroFraction, 5.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(s.neverActiveUnits, 0)
        XCTAssertEqual(s.unitActivationFrequency, [1.0 / 3, 2.0 / 3, 1, 1.0 / 3])
        // Hoyer, sqrt(4) = 2: row 0 has one unit (1), row 1 is flat (0),
        // row 2: (2 - 0.505 / sqrt(0.250025)) / (2 - 1).
        let row2 = 2 - 0.505 / 0.250025.squareRoot()
        XCTAssertEqual(s.hoyerSparsity, (1 + 0 + row2) / 3, accuracy: 1e-6)
        // Treves-Rolls: unit 0 = [0, 1, 0] -> (1 - (1/9)/(1/3)) / (1 - 1/3) = 1;
        // unit 2 = [2, 1, 0.5] -> (1 - (3.5/3)^2 / 1.75) / (2/3) = 1/3; unit 3 like unit 0.
        XCTAssertEqual(s.unitLifetimeSparsity[0], 1, accuracy: 1e-9)
        XCTAssertEqual(s.unitLifetimeSparsity[2], 1.0 / 3, accuracy: 1e-7)
        XCTAssertEqual(s.lifetimeSparsity, s.unitLifetimeSparsity.reduce(0, +) / 4, accuracy: 1e-12)
    }

    func testSilentUnitsAndAllZeroCodes() {
        let s = CodeStatistics(codes: [0, 0, 0, 3, 0, 0], rows: 2, cols: 3)
        XCTAssertEqual(s.neverActiveUnits, 2)
        XCTAssertEqual(s.unitLifetimeSparsity[1], 1)   // never responds: counts as fully sparse
        XCTAssertEqual(s.hoyerSparsity, 1)             // an all-zero code and a one-unit code
        XCTAssertEqual(s.l0, 0.5)
    }

    func testThresholdKeys() {
        XCTAssertEqual(CodeStatistics.reportedThresholds.map(CodeStatistics.key), ["0.001", "0.01", "0.1"])
    }

    func testHistogramBinsAndEdges() {
        let h = Histogram([0, 0.1, 0.5, 0.99, 1, 2], bins: 4, range: 0...1)
        XCTAssertEqual(h.edges, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(h.counts, [2, 0, 1, 2]) // 2 is outside; 1 lands in the last bin
    }
}
