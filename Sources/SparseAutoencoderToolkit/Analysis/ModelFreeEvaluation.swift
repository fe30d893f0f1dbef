import Foundation
import SparseAutoencoder

/// `sae eval`: the measures SAEBench defines that need no language model, for any architecture
/// (`eval.json`, and a section of `report.html`).
///
/// - L0 (latents > 0 per vector), FVU and explained variance (1 - FVU, with the real variance
///   about the mean vector: SAEBench's core eval divides by another quantity);
/// - dead latents (firing on none of the vectors) and dense ones (on more than 10%), as
///   fractions, and the feature-density histogram (log10 of each live latent's firing frequency);
/// - shrinkage, mean ||x^|| / ||x|| (SAEBench's l2 ratio; under 1: the code shrinks), and the mean
///   cosine between x and x^ (a transcoder's: its targets and predictions);
/// - on labelled vectors, feature-class purity (per live latent, the largest share of its
///   activation mass that one class takes; the mean) and sparse probing (`SparseProbing`);
/// - given the true directions that generated the vectors, feature recovery (`FeatureRecovery`).
///
///     let eval = try ModelFreeEvaluation(model: model, vectors: test, batchSize: 256)
package struct ModelFreeEvaluation: Codable, Equatable, Sendable {
    package var vectors: Int
    package var l0: Double
    package var fvu: Double?
    package var explainedVariance: Double?
    package var mse: Double
    package var deadFraction: Double
    package var denseFraction: Double
    /// The firing frequency above which a latent counts as dense.
    package var denseThreshold: Double
    /// Live latents by log10 firing frequency: `densityCounts[i]` in [edges[i], edges[i + 1]).
    package var densityEdges: [Double]
    package var densityCounts: [Int]
    /// Nil when every vector is zero (no norm to keep).
    package var shrinkage: Double?
    package var cosine: Double?
    package var purity: Double?
    package var sparseProbing: SparseProbing.Result?
    package var featureRecovery: FeatureRecovery.Result?

    package static let denseThreshold = 0.1
    package static let fileName = "eval.json"

    /// One pass over `vectors` (memory: one batch and a few numbers per latent).
    package init(model: Autoencoder, vectors data: Dataset, batchSize: Int) throws {
        let c = model.config.codeSize, d = model.config.targetSize, linear = model.config.hasLinearOutput
        let classes = data.isLabelled ? Int(data.labels.max() ?? 0) + 1 : 0
        var fires = [Int](repeating: 0, count: c)
        var classMass = [Double](repeating: 0, count: c * classes)
        var active = 0, row = 0
        var shrinkageSum = 0.0, cosineSum = 0.0, normed = 0
        let evaluation = model.evaluate(data, batchSize: batchSize, codeBatches: { codes, rows in
            for r in 0..<rows {
                let label = classes > 0 ? Int(data.labels[row + r]) : 0
                for j in 0..<c where codes[r * c + j] > 0 {
                    fires[j] += 1
                    active += 1
                    if classes > 0 { classMass[j * classes + label] += Double(codes[r * c + j]) }
                }
            }
            row += rows
        }, outputBatches: { output, target, rows in
            for r in 0..<rows {
                var (xx, yy, xy) = (0.0, 0.0, 0.0)
                for i in 0..<d {
                    // The tutorial's output layer holds logits: its reconstruction is their sigmoid.
                    let z = Double(output[r * d + i]), x = Double(target[r * d + i]), y = linear ? z : 1 / (1 + exp(-z))
                    (xx, yy, xy) = (xx + x * x, yy + y * y, xy + x * y)
                }
                guard xx > 0 else { continue }   // a zero vector has no direction or norm to keep
                normed += 1
                shrinkageSum += (yy / xx).squareRoot()
                cosineSum += yy > 0 ? xy / (xx * yy).squareRoot() : 0
            }
        })
        if let failure = data.readFailure { throw failure }
        let n = max(data.count, 1)
        vectors = data.count
        l0 = Double(active) / Double(n)
        fvu = evaluation.fvu
        explainedVariance = evaluation.fvu.map { 1 - $0 }
        mse = evaluation.mse
        let frequencies = fires.map { Double($0) / Double(n) }
        deadFraction = Double(fires.filter { $0 == 0 }.count) / Double(c)
        denseFraction = Double(frequencies.filter { $0 > Self.denseThreshold }.count) / Double(c)
        denseThreshold = Self.denseThreshold
        (densityEdges, densityCounts) = Self.densityHistogram(frequencies, vectors: n)
        shrinkage = normed > 0 ? shrinkageSum / Double(normed) : nil
        cosine = normed > 0 ? cosineSum / Double(normed) : nil
        if classes > 0 {
            let shares = (0..<c).compactMap { j -> Double? in
                let mass = classMass[(j * classes)..<((j + 1) * classes)]
                let total = mass.reduce(0, +)
                return total > 0 ? mass.max()! / total : nil
            }
            purity = shares.isEmpty ? nil : shares.reduce(0, +) / Double(shares.count)
        }
    }

    /// Live latents' log10 firing frequencies in bins of 0.25 from log10(1 / vectors) (a latent
    /// that fired once) to 0 (on every vector).
    static func densityHistogram(_ frequencies: [Double], vectors: Int) -> (edges: [Double], counts: [Int]) {
        let low = (log10(1 / Double(vectors)) * 4).rounded(.down) / 4
        let bins = max(1, Int((-low * 4).rounded()))
        let edges = (0...bins).map { low + Double($0) / 4 }
        var counts = [Int](repeating: 0, count: bins)
        for f in frequencies where f > 0 { counts[min(bins - 1, max(0, Int(((log10(f) - low) * 4).rounded(.down))))] += 1 }
        return (edges, counts)
    }

    /// The summary lines `sae eval` prints.
    package var lines: [String] {
        func f(_ x: Double?, _ format: String = "%.4f") -> String { x.map { $0.isFinite ? String(format: format, $0) : "n/a" } ?? "n/a" }
        var out = [
            "vectors              \(vectors)",
            "L0                   \(f(l0, "%.2f"))",
            "FVU                  \(f(fvu))   explained variance \(f(explainedVariance))",
            "dead / dense         \(f(deadFraction * 100, "%.1f"))% / \(f(denseFraction * 100, "%.1f"))% of latents (none of the vectors / over \(Int(denseThreshold * 100))% of them)",
            "shrinkage            \(f(shrinkage))   (mean |x^| / |x|)",
            "cosine(x, x^)        \(f(cosine))",
        ]
        if let purity { out.append("class purity         \(f(purity, "%.3f"))") }
        if let p = sparseProbing {
            out.append("sparse probing       " + zip(p.ks, p.accuracy).map { "k=\($0): \(f($1 * 100, "%.1f"))%" }.joined(separator: ", ")
                + "; all latents \(f(p.allLatents * 100, "%.1f"))%, raw inputs \(f(p.rawInputs * 100, "%.1f"))%")
        }
        if let r = featureRecovery {
            out.append("feature recovery     mean matched |cos| \(f(r.meanMatchedCosine, "%.3f")); \(r.above90) of \(r.directions) directions "
                + "above 0.9 (\(f(Double(r.above90) / Double(max(r.directions, 1)) * 100, "%.1f"))%)")
        }
        return out
    }
}
