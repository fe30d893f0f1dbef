import Foundation

/// Elementwise activations. Backward passes are written in terms of the *output* y, so a layer
/// stores only its output: relu' = (y > 0), sigmoid' = y (1 - y).
public enum Activation: String, Codable, Sendable, CaseIterable {
    case linear, relu, sigmoid

    /// Whether outputs stay inside (0, 1), which the KL penalty needs.
    public var isBoundedToUnitInterval: Bool { self == .sigmoid }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { FastMath.sigmoid(x) }

    /// y = act(z + bias) in place over a (rows, cols) block: one pass for bias and activation.
    @inline(__always)
    func addBiasAndApply(_ z: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = z + r * cols
            switch self {
            case .linear: for j in 0..<cols { row[j] += bias[j] }
            case .relu: for j in 0..<cols { row[j] = max(row[j] + bias[j], 0) }
            case .sigmoid: for j in 0..<cols { row[j] = Activation.sigmoid(row[j] + bias[j]) }
            }
        }
    }

    /// dz = dy * act'(y) in place over dy, and the column sums of dz added into `biasGradient`:
    /// the activation backward and the bias gradient in one pass.
    @inline(__always)
    func backward(output y: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>,
                  biasGradient db: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let g = dy + r * cols, o = y + r * cols
            switch self {
            case .linear: break
            case .relu: for j in 0..<cols { g[j] = o[j] > 0 ? g[j] : 0 }
            case .sigmoid: for j in 0..<cols { g[j] *= o[j] * (1 - o[j]) }
            }
            for j in 0..<cols { db[j] += g[j] }
        }
    }
}
