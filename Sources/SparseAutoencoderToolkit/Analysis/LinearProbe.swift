import Foundation
import SparseAutoencoder

/// Does a representation help a downstream task? A linear probe answers: multinomial logistic
/// regression from features (codes, or raw pixels as a baseline) to labels, trained on the
/// training set and scored on the test set.
///
/// Features are standardised with the training set's mean and deviation; the probe is trained
/// with Adam (lr 1e-2) on softmax cross-entropy in batches of 256 for `epochs` epochs, with a
/// fixed seed, so the same features give the same accuracy.
///
///     let accuracy = try LinearProbe.accuracy(train: codes, trainLabels: labels, test: testCodes,
///                                             testLabels: testLabels, features: 64)
package enum LinearProbe {
    package static func accuracy(train: [Float], trainLabels: [UInt8], test: [Float], testLabels: [UInt8],
                                features d: Int, epochs: Int = 15, seed: UInt64 = 1) throws -> Double {
        let n = trainLabels.count, nTest = testLabels.count
        guard d > 0, n > 0, nTest > 0, train.count == n * d, test.count == nTest * d else {
            throw SAEError("linear probe: features and labels do not match")
        }
        let classes = Int(max(trainLabels.max()!, testLabels.max()!)) + 1
        // Standardise with the training statistics (constant features become 0).
        var mean = [Float](repeating: 0, count: d), scale = [Float](repeating: 0, count: d)
        for i in 0..<n { for j in 0..<d { mean[j] += train[i * d + j] } }
        mean = mean.map { $0 / Float(n) }
        for i in 0..<n { for j in 0..<d { let c = train[i * d + j] - mean[j]; scale[j] += c * c } }
        scale = scale.map { v in let s = (v / Float(n)).squareRoot(); return s > 1e-6 ? 1 / s : 0 }
        let standardise = { (x: [Float]) -> [Float] in x.enumerated().map { ($0.element - mean[$0.offset % d]) * scale[$0.offset % d] } }
        let xTrain = standardise(train), xTest = standardise(test)

        // Parameters: W (d, classes) then b (classes), one buffer, as the autoencoder's.
        let count = d * classes + classes
        var params = [Float](repeating: 0, count: count), grads = params
        let adam = Adam(settings: AdamSettings(learningRate: 1e-2), parameterCount: count)
        let batch = 256
        var logits = [Float](repeating: 0, count: batch * classes)
        var order = Array(0..<n), rng = SeededGenerator(seed: seed)
        var xb = [Float](repeating: 0, count: batch * d)
        for _ in 0..<epochs {
            rng.shuffle(&order)
            for start in stride(from: 0, to: n, by: batch) {
                let b = min(batch, n - start)
                for r in 0..<b { for j in 0..<d { xb[r * d + j] = xTrain[order[start + r] * d + j] } }
                forward(xb, rows: b, d: d, classes: classes, params: params, into: &logits)
                // dL/dlogits = (softmax - onehot) / b, written over the logits.
                for r in 0..<b {
                    softmaxRow(&logits, r * classes, classes)
                    logits[r * classes + Int(trainLabels[order[start + r]])] -= 1
                }
                for k in 0..<(b * classes) { logits[k] /= Float(b) }
                // dW = x^T dlogits (d, classes); db = column sums.
                BLAS.gemm(true, false, m: d, n: classes, k: b, a: xb, lda: d, b: logits, ldb: classes, c: &grads, ldc: classes)
                for c in 0..<classes { grads[d * classes + c] = (0..<b).reduce(0) { $0 + logits[$1 * classes + c] } }
                adam.update(&params, gradients: &grads) // also clears grads
            }
        }
        // Test accuracy, in batches.
        var correct = 0
        var xt = [Float](repeating: 0, count: batch * d)
        for start in stride(from: 0, to: nTest, by: batch) {
            let b = min(batch, nTest - start)
            for k in 0..<(b * d) { xt[k] = xTest[start * d + k] }
            forward(xt, rows: b, d: d, classes: classes, params: params, into: &logits)
            for r in 0..<b {
                let row = logits[(r * classes)..<((r + 1) * classes)]
                if row.indices.max(by: { row[$0] < row[$1] })! - r * classes == Int(testLabels[start + r]) { correct += 1 }
            }
        }
        return Double(correct) / Double(nTest)
    }

    /// The probe on a model's codes of `train` and `test`.
    package static func accuracy(of model: Autoencoder, train: Dataset, test: Dataset) throws -> Double {
        try accuracy(train: model.encode(train), trainLabels: train.labels, test: model.encode(test),
                     testLabels: test.labels, features: model.config.codeSize)
    }

    /// The baseline: the probe on raw pixels.
    package static func pixelAccuracy(train: Dataset, test: Dataset) throws -> Double {
        try accuracy(train: train.floats(0..<train.count), trainLabels: train.labels, test: test.floats(0..<test.count),
                     testLabels: test.labels, features: train.featureCount)
    }

    /// logits = x W + b: (rows, classes).
    private static func forward(_ x: [Float], rows: Int, d: Int, classes: Int, params: [Float], into logits: inout [Float]) {
        for r in 0..<rows { for c in 0..<classes { logits[r * classes + c] = params[d * classes + c] } }
        BLAS.gemm(false, false, m: rows, n: classes, k: d, a: x, lda: d, b: params, ldb: classes, beta: 1, c: &logits, ldc: classes)
    }

    private static func softmaxRow(_ z: inout [Float], _ o: Int, _ n: Int) {
        var top = -Float.infinity
        for k in 0..<n { top = max(top, z[o + k]) }
        var sum: Float = 0
        for k in 0..<n { z[o + k] = expf(z[o + k] - top); sum += z[o + k] }
        for k in 0..<n { z[o + k] /= sum }
    }
}
