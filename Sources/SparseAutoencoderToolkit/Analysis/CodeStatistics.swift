import Foundation
import SparseAutoencoder

/// How sparse a set of codes is: the numbers the tutorial looks at, and the ones it should.
///
/// A code value counts as *active* when its magnitude exceeds `threshold` (1e-3 by default).
///
///     let stats = CodeStatistics(codes: codes, rows: 10_000, cols: 64)
///     print(stats.l0, stats.hoyerSparsity)
package struct CodeStatistics: Codable, Equatable, Sendable {
    package static let defaultThreshold = 1e-3
    /// The thresholds at which L0 is also reported.
    package static let reportedThresholds = [1e-3, 1e-2, 1e-1]

    package var threshold: Double
    /// Mean of all code values.
    package var meanActivation: Double
    /// Mean value of each unit over the samples: (cols).
    package var unitMeans: [Double]
    /// Mean number of active units per sample.
    package var l0: Double
    /// L0 at each of `reportedThresholds`, keyed by the threshold ("0.001", "0.01", "0.1").
    package var l0ByThreshold: [String: Double]
    /// Units that are never active on any sample.
    package var neverActiveUnits: Int
    /// Fraction of all code values that are not active (|h| <= threshold).
    package var nearZeroFraction: Double
    /// Mean over samples of Hoyer's sparsity (sqrt(n) - |h|_1 / |h|_2) / (sqrt(n) - 1):
    /// 0 when all units are equal, 1 when one unit carries the whole code (an all-zero code counts as 1).
    package var hoyerSparsity: Double
    /// Per unit, the Treves-Rolls lifetime sparsity over samples,
    /// (1 - mean(h)^2 / mean(h^2)) / (1 - 1/N): near 0 for a unit that responds equally to every
    /// sample, 1 for one that responds to a single sample (a unit that never responds counts as 1).
    package var unitLifetimeSparsity: [Double]
    /// Mean of `unitLifetimeSparsity`.
    package var lifetimeSparsity: Double
    /// Per unit, the fraction of samples on which it is active.
    package var unitActivationFrequency: [Double]

    /// Statistics of `rows` codes of `cols` units, row-major.
    package init(codes: [Float], rows: Int, cols: Int, threshold: Double = CodeStatistics.defaultThreshold) {
        precondition(codes.count == rows * cols && rows > 0 && cols > 0, "codes must be rows x cols, both > 0")
        var accumulator = Accumulator(cols: cols, threshold: threshold)
        codes.withUnsafeBufferPointer { accumulator.add($0.baseAddress!, rows: rows) }
        self = accumulator.statistics
    }

    /// The same statistics gathered batch by batch, so that a large test set's codes (N x c
    /// floats: 6.5 GB for 100,000 vectors of 16,384 latents) never have to be held at once.
    ///
    ///     var accumulator = CodeStatistics.Accumulator(cols: c)
    ///     accumulator.add(batchCodes, rows: b)      // for each batch, in order
    ///     let stats = accumulator.statistics
    package struct Accumulator {
        let cols: Int, threshold: Double
        /// The smallest and largest value seen, and each unit's largest (for the histogram's
        /// range and the unit images' levels).
        package private(set) var minimum = Float.infinity, maximum = -Float.infinity
        package private(set) var unitMaxima: [Float]
        /// minimum...maximum (0...0 before any code).
        package var valueRange: ClosedRange<Float> { minimum <= maximum ? minimum...maximum : 0...0 }
        private var rows = 0, hoyer = 0.0
        private var sums: [Double], squares: [Double], activeCounts: [Int], l0Counts: [Int]

        package init(cols: Int, threshold: Double = CodeStatistics.defaultThreshold) {
            (self.cols, self.threshold) = (cols, threshold)
            sums = [Double](repeating: 0, count: cols)
            squares = sums
            activeCounts = [Int](repeating: 0, count: cols)
            unitMaxima = [Float](repeating: -.infinity, count: cols)
            l0Counts = [Int](repeating: 0, count: CodeStatistics.reportedThresholds.count)
        }

        /// Adds `count` codes, row-major: (count, cols).
        package mutating func add(_ codes: UnsafePointer<Float>, rows count: Int) {
            let rootN = Double(cols).squareRoot(), levels = CodeStatistics.reportedThresholds
            for r in 0..<count {
                var l1 = 0.0, l2 = 0.0
                for j in 0..<cols {
                    let value = codes[r * cols + j], h = Double(value), a = abs(h)
                    (minimum, maximum, unitMaxima[j]) = (min(minimum, value), max(maximum, value), max(unitMaxima[j], value))
                    sums[j] += h
                    squares[j] += h * h
                    l1 += a
                    l2 += h * h
                    if a > threshold { activeCounts[j] += 1 }
                    for (t, level) in levels.enumerated() where a > level { l0Counts[t] += 1 }
                }
                hoyer += l2 == 0 || cols == 1 ? 1 : (rootN - l1 / l2.squareRoot()) / (rootN - 1)
            }
            rows += count
        }

        /// The statistics of every code added (at least one).
        package var statistics: CodeStatistics {
            precondition(rows > 0 && cols > 0, "no codes were added")
            return CodeStatistics(threshold: threshold, rows: rows, sums: sums, squares: squares, activeCounts: activeCounts,
                                  l0Counts: l0Counts, hoyer: hoyer)
        }
    }

    private init(threshold: Double, rows: Int, sums: [Double], squares: [Double], activeCounts: [Int], l0Counts: [Int], hoyer: Double) {
        let cols = sums.count, n = Double(rows)
        self.threshold = threshold
        unitMeans = sums.map { $0 / n }
        // The mean of the unit means, summed as `Evaluation` sums it: metrics.json's mean
        // activation, to the last digit.
        meanActivation = unitMeans.reduce(0, +) / Double(cols)
        let active = activeCounts.reduce(0, +)
        l0 = Double(active) / n
        l0ByThreshold = Dictionary(uniqueKeysWithValues: zip(Self.reportedThresholds, l0Counts).map { (Self.key($0), Double($1) / n) })
        neverActiveUnits = activeCounts.filter { $0 == 0 }.count
        nearZeroFraction = 1 - Double(active) / (n * Double(cols))
        hoyerSparsity = hoyer / n
        unitLifetimeSparsity = (0..<cols).map { j in
            let meanSquare = squares[j] / n, mean = sums[j] / n
            guard meanSquare > 0, rows > 1 else { return 1 }
            return min(max((1 - mean * mean / meanSquare) / (1 - 1 / n), 0), 1)
        }
        lifetimeSparsity = unitLifetimeSparsity.reduce(0, +) / Double(cols)
        unitActivationFrequency = activeCounts.map { Double($0) / n }
    }

    /// The keys metrics.json has always used (`RunMetrics` writes these beside its own).
    enum CodingKeys: String, CodingKey {
        case threshold = "activityThreshold", meanActivation, unitMeans = "unitMeanActivations", l0, l0ByThreshold,
             neverActiveUnits, nearZeroFraction, hoyerSparsity, unitLifetimeSparsity, lifetimeSparsity, unitActivationFrequency
    }

    /// "0.001", "0.01", "0.1": the JSON key of a threshold.
    package static func key(_ threshold: Double) -> String {
        var s = String(format: "%.6f", threshold)
        while s.hasSuffix("0") { s.removeLast() }
        return s.hasSuffix(".") ? s + "0" : s
    }
}
