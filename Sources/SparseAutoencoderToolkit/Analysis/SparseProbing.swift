import Foundation
import SparseAutoencoder

/// Sparse probing (SAEBench's): does a class live in a few latents? For each class, a balanced
/// one-against-the-rest task; the k latents whose mean activation differs most between the class
/// and the rest (on the training vectors) feed a logistic probe (`LinearProbe`, two classes),
/// scored on the evaluation vectors; k in 1, 2, 5, 10, 20. The same probe on all latents and on
/// the raw inputs are the references. Accuracies are means over the classes.
///
/// Each task takes up to `perClass` training vectors of its class and as many of the others
/// (drawn evenly over them with a fixed seed), and a quarter as many evaluation vectors, so the
/// cost does not grow with the data (SAEBench's tasks use 4,000 and 1,000).
package enum SparseProbing {
    package struct Result: Codable, Equatable, Sendable {
        package var ks: [Int]
        /// Mean accuracy over the classes at each k.
        package var accuracy: [Double]
        package var allLatents: Double
        package var rawInputs: Double
        /// Per class (label order): the accuracy at each k.
        package var byClass: [[Double]]
    }

    package static let ks = [1, 2, 5, 10, 20]

    package static func run(model: Autoencoder, train: Dataset, test: Dataset, perClass: Int = 1_000, seed: UInt64 = 1) throws -> Result {
        guard train.isLabelled, test.isLabelled else { throw SAEError("sparse probing needs labelled vectors") }
        let classes = Int(max(train.labels.max()!, test.labels.max()!)) + 1
        guard classes >= 2 else { throw SAEError("sparse probing needs at least two classes") }
        let c = model.config.codeSize
        var rng = SeededGenerator(seed: seed)
        let ks = Self.ks.filter { $0 <= c }
        var byClass: [[Double]] = [], all = 0.0, raw = 0.0
        for label in 0..<classes {
            let trainRows = balancedRows(train.labels, label: UInt8(label), perClass: perClass, rng: &rng)
            let testRows = balancedRows(test.labels, label: UInt8(label), perClass: max(1, perClass / 4), rng: &rng)
            guard !trainRows.isEmpty, !testRows.isEmpty else { continue }
            let (trainSet, testSet) = (train.subset(trainRows), test.subset(testRows))
            let yTrain = trainRows.map { train.labels[$0] == UInt8(label) ? UInt8(1) : 0 }
            let yTest = testRows.map { test.labels[$0] == UInt8(label) ? UInt8(1) : 0 }
            let (codes, testCodes) = (model.encode(trainSet), model.encode(testSet))
            // The latents whose mean differs most between the class and the rest, largest first.
            var difference = [Double](repeating: 0, count: c)
            let positives = Double(yTrain.filter { $0 == 1 }.count), negatives = Double(yTrain.count) - positives
            for (r, y) in yTrain.enumerated() {
                let weight = y == 1 ? 1 / positives : -1 / negatives
                for j in 0..<c { difference[j] += weight * Double(codes[r * c + j]) }
            }
            let ranked = (0..<c).sorted { abs(difference[$0]) > abs(difference[$1]) || (abs(difference[$0]) == abs(difference[$1]) && $0 < $1) }
            func columns(_ values: [Float], _ chosen: ArraySlice<Int>) -> [Float] {
                let rows = values.count / c
                return (0..<rows).flatMap { r in chosen.map { values[r * c + $0] } }
            }
            let accuracies = try ks.map { k in
                let chosen = ranked.prefix(k)
                return try LinearProbe.accuracy(train: columns(codes, chosen), trainLabels: yTrain, test: columns(testCodes, chosen),
                                                testLabels: yTest, features: k)
            }
            byClass.append(accuracies)
            all += try LinearProbe.accuracy(train: codes, trainLabels: yTrain, test: testCodes, testLabels: yTest, features: c)
            raw += try LinearProbe.accuracy(train: trainSet.floats(0..<trainSet.count), trainLabels: yTrain,
                                            test: testSet.floats(0..<testSet.count), testLabels: yTest, features: train.featureCount)
        }
        guard !byClass.isEmpty else { throw SAEError("sparse probing found no class with vectors in both sets") }
        let n = Double(byClass.count)
        return Result(ks: ks, accuracy: ks.indices.map { i in byClass.reduce(0) { $0 + $1[i] } / n },
                      allLatents: all / n, rawInputs: raw / n, byClass: byClass)
    }

    /// Up to `perClass` rows of `label` and as many of the other labels, spread evenly over them
    /// (a seeded shuffle), ascending.
    static func balancedRows(_ labels: [UInt8], label: UInt8, perClass: Int, rng: inout SeededGenerator) -> [Int] {
        var positives = labels.indices.filter { labels[$0] == label }
        var negatives = labels.indices.filter { labels[$0] != label }
        rng.shuffle(&positives)
        rng.shuffle(&negatives)
        let n = min(perClass, positives.count, negatives.count)
        return (positives.prefix(n) + negatives.prefix(n)).sorted()
    }
}
