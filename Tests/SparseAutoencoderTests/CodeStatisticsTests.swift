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

    /// A run's metrics gather the test codes' statistics batch by batch (no N x c array); they
    /// must be exactly those of all the codes at once, and the evaluation's other numbers those of
    /// the evaluation that keeps every code.
    func testStatisticsGatheredBatchByBatchAreThoseOfAllCodes() throws {
        let model = try Autoencoder(config: AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 6), seed: 4)
        let data = syntheticImages(count: 103, side: 4)
        let kept = model.evaluate(data, batchSize: 25)
        var accumulator = CodeStatistics.Accumulator(cols: 6)
        var batches: [Int] = []
        let streamed = model.evaluate(data, batchSize: 25) { accumulator.add($0, rows: $1); batches.append($1) }
        XCTAssertEqual(batches, [25, 25, 25, 25, 3])
        XCTAssertEqual(streamed.codes, [])
        XCTAssertEqual(kept.codes.count, 103 * 6)
        XCTAssertEqual(accumulator.statistics, CodeStatistics(codes: kept.codes, rows: 103, cols: 6))
        XCTAssertGreaterThan(accumulator.statistics.l0, 0)
        var withoutCodes = kept
        withoutCodes.codes = []
        XCTAssertEqual("\(streamed)", "\(withoutCodes)")
        let history = [EpochRecord(epoch: 1, loss: 0.5, valLoss: 0.6, seconds: 1)]
        XCTAssertEqual(RunMetrics(history: history, test: streamed, codes: accumulator.statistics), RunMetrics(history: history, test: kept, codes: CodeStatistics(codes: kept.codes, rows: 103, cols: 6)))
    }
}
