import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class AdamTests: XCTestCase {
    /// Two steps computed by hand with Keras's formulas (eps outside the root, folded bias correction).
    func testStepsMatchKerasFormulas() {
        let settings = AdamSettings(learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
        let adam = Adam(settings: settings, parameterCount: 2)
        var theta: [Float] = [1, -2]
        let grads: [[Float]] = [[0.5, -0.25], [0.1, 0.3]]
        var m = [0.0, 0.0], v = [0.0, 0.0], expected = [1.0, -2.0]
        for (t, g) in grads.enumerated() {
            var consumed = g
            adam.update(&theta, gradients: &consumed)
            XCTAssertEqual(consumed, [0, 0], "Adam leaves the gradients cleared for the next step")
            let alpha = 0.1 * (1 - pow(0.999, Double(t + 1))).squareRoot() / (1 - pow(0.9, Double(t + 1)))
            for i in 0..<2 {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                expected[i] -= alpha * m[i] / (v[i].squareRoot() + 1e-7)
            }
        }
        XCTAssertEqual(adam.step, 2)
        for i in 0..<2 { XCTAssertEqual(Double(theta[i]), expected[i], accuracy: 1e-6) }
    }

    /// With bias correction, Adam's first step moves each parameter by almost exactly lr,
    /// against its gradient's sign, whatever the gradient's size.
    func testFirstStepIsLearningRateTimesSign() {
        let adam = Adam(settings: AdamSettings(learningRate: 1e-3), parameterCount: 3)
        var theta: [Float] = [0, 0, 0]
        var g: [Float] = [100, -0.01, 3]
        adam.update(&theta, gradients: &g)
        XCTAssertEqual(theta[0], -1e-3, accuracy: 1e-8)
        XCTAssertEqual(theta[1], 1e-3, accuracy: 1e-6) // eps matters for a tiny gradient
        XCTAssertEqual(theta[2], -1e-3, accuracy: 1e-8)
    }
}
