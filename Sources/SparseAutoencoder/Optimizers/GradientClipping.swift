import CKernels

/// Clipping of the gradient's global L2 norm before Adam, as `torch.nn.utils.clip_grad_norm_`
/// does it: when ||g|| exceeds `maxNorm`, g *= maxNorm / (||g|| + 1e-6).
///
/// Why it matters beyond stability: Adam divides each step by the root of its running mean of
/// squared gradients (v, over about 1 / (1 - beta2) steps). A parameter whose gradient is large
/// early and small later (JumpReLU's thresholds: dense at first, their window almost empty later)
/// then takes steps far below the learning rate for a thousand steps. Clipping shrinks the large
/// early gradients, so v forgets them sooner. dictionary_learning clips every trainer's gradient
/// at 1.0 on its loss, which sums the squared error over the d features where sae's averages:
/// the same clipping is `maxNorm` = 1 / d here.
///
///     let squares = GradientClipping.sumOfSquares(g, count: n)
///     GradientClipping.scale(g, count: n, norm: squares.squareRoot(), to: 0.002)
enum GradientClipping {
    /// ||g||^2 over `count` floats: in double, the pool's parts added in order (the same sum on
    /// every run with the same threads).
    static func sumOfSquares(_ g: UnsafePointer<Float>, count: Int) -> Double {
        let pool = WorkerPool.shared
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: pool.parts) { parts in
            parts.initialize(repeating: 0)
            pool.split(count, minimumPerPart: 65_536) { part, range in
                parts[part] = sae_sum_of_squares(g + range.lowerBound, range.count)
            }
            return parts.reduce(0, +)
        }
    }

    /// Scales the `count` floats of g so that their norm (`norm`, measured over the whole
    /// gradient, which may span ranks) is at most `maxNorm`; returns the factor (1: untouched).
    @discardableResult
    static func scale(_ g: UnsafeMutablePointer<Float>, count: Int, norm: Double, to maxNorm: Float) -> Float {
        let factor = Float(Double(maxNorm) / (norm + 1e-6))
        guard factor < 1 else { return 1 }
        WorkerPool.shared.split(count, minimumPerPart: 65_536) { _, range in
            sae_scale(g + range.lowerBound, range.count, factor)
        }
        return factor
    }
}
