import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Dense forward against a hand computation, and its backward (with each activation) against
/// finite differences of L = sum(y * r) for a fixed random r, so dL/dy = r.
final class DenseTests: XCTestCase {
    let batch = 3, inSize = 5, outSize = 4

    func layer(_ activation: Activation) -> Dense {
        var layer = Dense(inputSize: inSize, outputSize: outSize, activation: activation,
                          kernelOffset: 0, biasOffset: inSize * outSize)
        layer.k = 2
        return layer
    }

    func forward(_ layer: Dense, x: [Float], p: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: batch * outSize)
        layer.forward(x, &y, batch: batch, parameters: p)
        return y
    }

    func testForwardMatchesHandComputation() {
        let l = layer(.linear)
        let x = randomFloats(batch * inSize, seed: 1), p = randomFloats(l.parameterCount, seed: 2)
        let y = forward(l, x: x, p: p)
        for i in 0..<batch {
            for j in 0..<outSize {
                var expected = p[l.biasOffset + j]
                for k in 0..<inSize { expected += x[i * inSize + k] * p[k * outSize + j] }
                XCTAssertEqual(y[i * outSize + j], expected, accuracy: 1e-5)
            }
        }
    }

    func testReluAndSigmoidForward() {
        let x = randomFloats(batch * inSize, seed: 3), p = randomFloats(layer(.linear).parameterCount, seed: 4)
        let z = forward(layer(.linear), x: x, p: p)
        let relu = forward(layer(.relu), x: x, p: p), sigmoid = forward(layer(.sigmoid), x: x, p: p)
        XCTAssertTrue(z.contains { $0 < 0 } && z.contains { $0 > 0 }, "test needs both signs")
        for i in z.indices {
            XCTAssertEqual(relu[i], max(z[i], 0))
            XCTAssertEqual(sigmoid[i], 1 / (1 + exp(-z[i])), accuracy: 1e-6)
        }
    }

    func testTopKKeepsEachRowsLargestAfterRelu() {
        let x = randomFloats(batch * inSize, seed: 3), p = randomFloats(layer(.linear).parameterCount, seed: 4)
        let z = forward(layer(.linear), x: x, p: p), y = forward(layer(.topk), x: x, p: p)
        for r in 0..<batch {
            let row = Array(z[(r * outSize)..<((r + 1) * outSize)])
            let kept = Set(row.indices.sorted { row[$0] > row[$1] }.prefix(2))
            for j in 0..<outSize {
                XCTAssertEqual(y[r * outSize + j], kept.contains(j) ? max(row[j], 0) : 0)
            }
        }
    }

    func testBackwardMatchesFiniteDifferences() {
        for activation in Activation.allCases {
            let l = layer(activation)
            let x = randomFloats(batch * inSize, seed: 5)
            // Keep pre-activations away from relu's kink so finite differences are valid.
            var p = randomFloats(l.parameterCount, seed: 6)
            for j in 0..<outSize { p[l.biasOffset + j] += j % 2 == 0 ? 0.05 : -0.05 }
            let r = randomFloats(batch * outSize, seed: 7)
            func loss(_ x: [Float], _ p: [Float]) -> Double {
                zip(forward(l, x: x, p: p), r).reduce(0) { $0 + Double($1.0 * $1.1) }
            }
            let y = forward(l, x: x, p: p)
            var dy = r
            var grads = [Float](repeating: 0, count: l.parameterCount)
            var dx = [Float](repeating: 0, count: batch * inSize)
            l.backward(x, y, &dy, &dx, batch: batch, parameters: p, gradients: &grads)
            assertGradientMatches(grads, at: p, h: 1e-3) { loss(x, $0) }
            assertGradientMatches(dx, at: x, h: 1e-3) { loss($0, p) }
        }
    }
}
