import CKernels
import Foundation
import Synchronization

/// Adam exactly as Keras applies it (eps = 1e-7, outside the square root, with the bias
/// correction folded into the step size):
///
///     t += 1
///     m = beta1 m + (1 - beta1) g
///     v = beta2 v + (1 - beta2) g^2
///     alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t)
///     theta -= alpha m / (sqrt(v) + eps)
///
/// PyTorch's Adam puts eps inside the correction and defaults to 1e-8: not the same numbers.
public struct AdamSettings: Codable, Equatable, Sendable {
    public var learningRate: Float = 1e-3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-7

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }
}

extension AdamSettings {
    /// Keras's 1e-7 for the tutorial's models (their numbers are Keras's); 1e-8 for a dictionary,
    /// whose per-element MSE and so its gradients are small enough for 1e-7 to damp every step
    /// (measured: val FVU 0.6624 with 1e-7 against 0.6606 with 1e-8 on the benchmark's vectors;
    /// sparsify uses PyTorch's 1e-8 on an FVU loss, about 13 times larger there).
    public static func defaultEpsilon(for architecture: AutoencoderConfig.Architecture) -> Float {
        architecture == .mirrored ? 1e-7 : 1e-8
    }
}

/// Adam's state (first and second moments, step count) for a flat parameter buffer.
package final class Adam {
    package let settings: AdamSettings
    package internal(set) var step = 0
    /// The learning rate's factor for the next update (a `Schedule`'s; 1 when constant).
    package var learningRateFactor = 1.0
    /// m and v, each `count` floats, in one allocation.
    let moments: UnsafeMutableBufferPointer<Float>
    let count: Int

    package init(settings: AdamSettings, parameterCount: Int) {
        self.settings = settings
        count = parameterCount
        moments = .allocate(capacity: 2 * parameterCount)
        moments.initialize(repeating: 0)
    }

    deinit { moments.deallocate() }

    /// One update of `parameters` from `gradients` (both `count` floats), fused into a single
    /// pass (the C kernel `sae_adam`) split over the pool, which also sets the gradients back to
    /// zero: the next step accumulates into them. Returns false when a parameter became NaN or
    /// infinite (the step diverged; the same pass checks it).
    @discardableResult
    package func update(_ parameters: UnsafeMutablePointer<Float>, gradients g: UnsafeMutablePointer<Float>) -> Bool {
        step += 1
        let s = settings
        let t = Double(step)
        let alpha = Float(Double(s.learningRate) * learningRateFactor * (1 - pow(Double(s.beta2), t)).squareRoot()
                          / (1 - pow(Double(s.beta1), t)))
        let (m, v, n) = (moments.baseAddress!, moments.baseAddress! + count, count)
        let (c1, c2, eps) = (1 - s.beta1, 1 - s.beta2, s.epsilon)
        let finite = Atomic<Bool>(true)
        WorkerPool.shared.split(n, minimumPerPart: 16_384) { _, r in
            let i = r.lowerBound
            if sae_adam(parameters + i, g + i, m + i, v + i, r.count, alpha, c1, c2, eps) == 0 { finite.store(false, ordering: .relaxed) }
        }
        return finite.load(ordering: .relaxed)
    }
}
