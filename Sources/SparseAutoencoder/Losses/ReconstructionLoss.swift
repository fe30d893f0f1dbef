import CKernels

/// How a reconstruction is scored against its input. The output layer is a sigmoid, and both
/// losses are computed from its logits z (as Keras does for BCE), which is exact and stable.
///
/// - `bce`: l = max(z, 0) - z x + log(1 + exp(-|z|)),   dl/dz = sigmoid(z) - x
/// - `mse`: l = (sigmoid(z) - x)^2,                     dl/dz = 2 (s - x) s (1 - s)
///
/// A dictionary SAE's output is linear: its values z are the reconstruction, and `mse` is then
/// l = (z - x)^2, dl/dz = 2 (z - x) (BCE is not defined there).
///
/// The batch loss is the mean over all B x D elements, so gradients are scaled by 1 / (B D).
public enum ReconstructionLoss: String, Codable, Sendable, CaseIterable {
    case bce, mse

    /// Returns the *sum* of the elementwise losses over (rows, cols); if `gradient` is given,
    /// writes `scale * dl/dz` for every element into it (the C kernels `sae_bce`, `sae_mse`,
    /// `sae_squared_error`). `linear`: z is the reconstruction itself rather than logits.
    /// z, x, gradient: (rows, cols)
    /// Rows are split over the pool; the parts' sums are added in order (same result every run).
    @inline(__always)
    func evaluate(logits z: UnsafePointer<Float>, targets x: UnsafePointer<Float>, rows: Int, cols: Int,
                  gradient: UnsafeMutablePointer<Float>?, scale: Float = 1, linear: Bool = false) -> Double {
        let pool = WorkerPool.shared
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: pool.parts) { sums in
            sums.initialize(repeating: 0)
            pool.split(rows, alignment: 1, minimumPerPart: max(1, 16_384 / cols)) { part, r in
                let offset = r.lowerBound * cols, n = r.count * cols
                sums[part] = kernel(z + offset, x + offset, gradient.map { $0 + offset }, n, scale, linear: linear)
            }
            return sums.reduce(0, +)
        }
    }

    @inline(__always)
    private func kernel(_ z: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>?,
                        _ n: Int, _ scale: Float, linear: Bool) -> Double {
        switch (self, linear) {
        case (.bce, false): sae_bce(z, x, gradient, n, scale)
        case (.mse, false): sae_mse(z, x, gradient, n, scale)
        case (.mse, true): sae_squared_error(z, x, gradient, n, scale)
        case (.bce, true): preconditionFailure("BCE needs sigmoid outputs (AutoencoderConfig.validate refuses this)")
        }
    }
}
