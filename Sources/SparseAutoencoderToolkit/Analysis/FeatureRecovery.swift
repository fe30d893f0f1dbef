import Foundation
import SparseAutoencoder

/// Did the SAE find the real features? Given the directions that generated the vectors
/// (`bench/make_vectors.py` writes them to dictionary.npy), each direction is matched to its own
/// decoder row, one to one, maximising the total |cosine| (the Hungarian method), and the matched
/// |cosines| are reported: their mean and how many exceed 0.9. With more directions than latents,
/// every latent is matched and the unmatched directions count as 0.
///
///     let result = try FeatureRecovery.match(decoderRows: w, latents: 4096, directions: truth, count: 8192, width: 512)
package enum FeatureRecovery {
    package struct Result: Codable, Equatable, Sendable {
        package var directions: Int
        package var meanMatchedCosine: Double
        package var above90: Int
    }

    /// The largest |cos| matrix built (directions x latents floats, 1.6 GB).
    package static let maximumPairs = 400_000_000

    package static func match(decoderRows: [Float], latents c: Int, directions truth: [Float], count m: Int, width d: Int) throws -> Result {
        guard decoderRows.count == c * d, truth.count == m * d, m > 0, c > 0 else {
            throw SAEError("feature recovery: the true directions must be (directions, \(d)) like the decoder's rows")
        }
        guard m.multipliedReportingOverflow(by: c).partialValue <= maximumPairs, !m.multipliedReportingOverflow(by: c).overflow else {
            throw SAEError("feature recovery compares every latent with every direction: \(c) x \(m) pairs are more than \(maximumPairs); give fewer directions")
        }
        let a = normalizedRows(truth, rows: m, width: d), b = normalizedRows(decoderRows, rows: c, width: d)
        // |cos|: (m, c) = |A B^T|.
        var cosines = [Float](repeating: 0, count: m * c)
        BLAS.gemm(false, true, m: m, n: c, k: d, a: a, lda: d, b: b, ldb: d, c: &cosines, ldc: c)
        for i in cosines.indices { cosines[i] = abs(cosines[i]) }
        // The smaller side is matched into the larger: rows are that side.
        let (rows, columns) = m <= c ? (m, c) : (c, m)
        let value: (Int, Int) -> Float = m <= c ? { cosines[$0 * c + $1] } : { cosines[$1 * c + $0] }
        let assignment = hungarian(rows: rows, columns: columns) { i, j in -Double(value(i, j)) }
        let matched = assignment.enumerated().map { Double(value($0.offset, $0.element)) }
        return Result(directions: m, meanMatchedCosine: matched.reduce(0, +) / Double(m), above90: matched.filter { $0 > 0.9 }.count)
    }

    static func normalizedRows(_ values: [Float], rows: Int, width d: Int) -> [Float] {
        var out = values
        for r in 0..<rows {
            let norm = (0..<d).reduce(Float(0)) { $0 + out[r * d + $1] * out[r * d + $1] }.squareRoot()
            if norm > 0 { for i in 0..<d { out[r * d + i] /= norm } }
        }
        return out
    }

    /// The minimum-cost assignment of every row to its own column (rows <= columns), by the
    /// Hungarian method with potentials (shortest augmenting paths): O(rows^2 columns) at worst,
    /// far less when most rows have a clear best column. Returns each row's column.
    static func hungarian(rows n: Int, columns m: Int, cost: (Int, Int) -> Double) -> [Int] {
        precondition(n <= m)
        // 1-based, column 0 a sentinel: u, v potentials; p[j] the row matched to column j; way[j]
        // the previous column on the augmenting path.
        var u = [Double](repeating: 0, count: n + 1), v = [Double](repeating: 0, count: m + 1)
        var p = [Int](repeating: 0, count: m + 1), way = [Int](repeating: 0, count: m + 1)
        var minimum = [Double](repeating: 0, count: m + 1), used = [Bool](repeating: false, count: m + 1)
        for i in 1...n {
            p[0] = i
            var j0 = 0
            for j in 0...m { (minimum[j], used[j]) = (.infinity, false) }
            repeat {
                used[j0] = true
                let i0 = p[j0]
                var delta = Double.infinity, j1 = 0
                for j in 1...m where !used[j] {
                    let reduced = cost(i0 - 1, j - 1) - u[i0] - v[j]
                    if reduced < minimum[j] { (minimum[j], way[j]) = (reduced, j0) }
                    if minimum[j] < delta { (delta, j1) = (minimum[j], j) }
                }
                for j in 0...m {
                    if used[j] { u[p[j]] += delta; v[j] -= delta } else { minimum[j] -= delta }
                }
                j0 = j1
            } while p[j0] != 0
            repeat {
                let j1 = way[j0]
                p[j0] = p[j1]
                j0 = j1
            } while j0 != 0
        }
        var assignment = [Int](repeating: 0, count: n)
        for j in 1...m where p[j] != 0 { assignment[p[j] - 1] = j - 1 }
        return assignment
    }
}
