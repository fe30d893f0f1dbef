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
    /// writes `scale * dl/dz` for every element into it.
    /// z, x, gradient: (rows, cols)
    @inline(__always)
    func evaluate(logits z: UnsafePointer<Float>, targets x: UnsafePointer<Float>, rows: Int, cols: Int,
                  gradient: UnsafeMutablePointer<Float>?, scale: Float = 1) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let zr = z + r * cols, xr = x + r * cols
            var rowSum: Float = 0
            switch self {
            case .bce:
                if let g = gradient.map({ $0 + r * cols }) {
                    for j in 0..<cols {
                        let (l, s) = ReconstructionLoss.bceAndSigmoid(zr[j], xr[j])
                        rowSum += l
                        g[j] = (s - xr[j]) * scale
                    }
                } else {
                    for j in 0..<cols { rowSum += ReconstructionLoss.bceAndSigmoid(zr[j], xr[j]).0 }
                }
            case .mse:
                for j in 0..<cols {
                    let s = Activation.sigmoid(zr[j])
                    let d = s - xr[j]
                    rowSum += d * d
                    if let g = gradient { g[r * cols + j] = 2 * d * s * (1 - s) * scale }
                }
            }
            total += Double(rowSum)
        }
        return total
    }

    /// BCE from a logit and sigmoid(z), sharing one exp: e = exp(-|z|).
    @inline(__always)
    static func bceAndSigmoid(_ z: Float, _ x: Float) -> (Float, Float) {
        let e = expf(-abs(z))
        let loss = max(z, 0) - z * x + log1pf(e)
        let s = z >= 0 ? 1 / (1 + e) : e / (1 + e)
        return (loss, s)
    }
}
