import CKernels

/// Elementwise activations. Backward passes are written in terms of the *output* y, so a layer
/// stores only its output: relu' = (y > 0), sigmoid' = y (1 - y). The loops themselves are the
/// C kernels `sae_bias_activation` and `sae_activation_backward` (see CKernels).
///
/// `topk` (Gao et al. 2024) keeps each sample's k largest pre-activations, zeroes the rest and
/// applies relu; its gradient flows through the kept positive units, exactly as relu's does
/// through the positive ones, so it shares relu's backward pass.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case linear, relu, sigmoid, topk

    /// Whether outputs stay inside (0, 1), which the KL penalty needs.
    public var isBoundedToUnitInterval: Bool { self == .sigmoid }

    /// 1 / (1 + e^-x), with the kernels' exp.
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + sae_exp(-x)) }

    var kernelCode: Int32 {
        switch self {
        case .linear: Int32(SAE_LINEAR)
        case .relu, .topk: Int32(SAE_RELU)
        case .sigmoid: Int32(SAE_SIGMOID)
        }
    }

    /// y = act(z + bias) in place over a (rows, cols) block: one pass for bias and activation
    /// (then, for topk, the selection of each row's k largest). Rows are split over the pool.
    @inline(__always)
    func addBiasAndApply(_ z: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, k: Int) {
        let code = kernelCode, topk = self == .topk
        WorkerPool.shared.split(rows, alignment: 1, minimumPerPart: max(1, 16_384 / cols)) { _, r in
            let block = z + r.lowerBound * cols
            sae_bias_activation(block, bias, r.count, cols, code)
            if topk { sae_topk_rows(block, r.count, cols, k) }
        }
    }

    /// dz = dy * act'(y) in place over dy, and the column sums of dz added into `biasGradient`:
    /// the activation backward and the bias gradient in one pass. Columns are split over the
    /// pool, so each bias sum stays with one thread.
    @inline(__always)
    func backward(output y: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>,
                  biasGradient db: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        let code = kernelCode
        WorkerPool.shared.split(cols, alignment: 16, minimumPerPart: max(16, 16_384 / rows)) { _, c in
            sae_activation_backward(y + c.lowerBound, dy + c.lowerBound, db + c.lowerBound, rows, c.count, cols, code)
        }
    }
}
