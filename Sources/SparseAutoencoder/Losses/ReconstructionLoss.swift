import Foundation

/// How a reconstruction is scored against its input. The output layer is a sigmoid, and both
/// losses are computed from its logits z (as Keras does for BCE), which is exact and stable.
///
/// - `bce`: l = max(z, 0) - z x + log(1 + exp(-|z|)),   dl/dz = sigmoid(z) - x
/// - `mse`: l = (sigmoid(z) - x)^2,                     dl/dz = 2 (s - x) s (1 - s)
///
/// The batch loss is the mean over all B x D elements, so gradients are scaled by 1 / (B D).
public enum ReconstructionLoss: String, Codable, Sendable, CaseIterable {
    case bce, mse

    /// Returns the *sum* of the elementwise losses over (rows, cols); if `gradient` is given,
    /// writes `scale * dl/dz` for every element into it. `scratch` holds `cols` floats.
    /// z, x, gradient: (rows, cols)
    ///
    /// Each row is one branch-free pass that stores the losses in `scratch` (so it vectorises;
    /// a running sum would not), then a vectorised sum.
    @inline(__always)
    func evaluate(logits z: UnsafePointer<Float>, targets x: UnsafePointer<Float>, rows: Int, cols: Int,
                  gradient: UnsafeMutablePointer<Float>?, scale: Float = 1,
                  scratch l: UnsafeMutablePointer<Float>) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let zr = z + r * cols, xr = x + r * cols
            switch (self, gradient.map { $0 + r * cols }) {
            case (.bce, let g?):
                for j in 0..<cols {
                    let (loss, s) = ReconstructionLoss.bceAndSigmoid(zr[j], xr[j])
                    l[j] = loss
                    g[j] = (s - xr[j]) * scale
                }
            case (.bce, nil):
                for j in 0..<cols { l[j] = ReconstructionLoss.bceAndSigmoid(zr[j], xr[j]).0 }
            case (.mse, let g?):
                for j in 0..<cols {
                    let s = FastMath.sigmoid(zr[j]), d = s - xr[j]
                    l[j] = d * d
                    g[j] = 2 * d * s * (1 - s) * scale
                }
            case (.mse, nil):
                for j in 0..<cols {
                    let d = FastMath.sigmoid(zr[j]) - xr[j]
                    l[j] = d * d
                }
            }
            total += Double(FastMath.sum(l, cols))
        }
        return total
    }

    /// BCE from a logit and sigmoid(z), sharing one exp: e = exp(-|z|) in (0, 1].
    @inline(__always)
    static func bceAndSigmoid(_ z: Float, _ x: Float) -> (Float, Float) {
        let e = FastMath.exp(-abs(z))
        let loss = max(z, 0) - z * x + FastMath.log1pUnit(e)
        let inverse = 1 / (1 + e)
        let s = z >= 0 ? inverse : e * inverse
        return (loss, s)
    }
}
