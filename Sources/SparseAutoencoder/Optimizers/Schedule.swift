import Foundation

/// How the learning rate and the sparsity coefficient change over training, as SAELens and
/// dictionary_learning offer: a linear warm-up of the learning rate, then a linear or cosine
/// decay; and a linear warm-up of the sparsity coefficient (L1, KL's beta, JumpReLU's L0,
/// Gated's gate L1). Each factor is a pure function of the step, so a resumed run takes exactly
/// the steps an uninterrupted one does.
///
///     var schedule = Schedule()
///     schedule.warmupSteps = 1_000           // lr x 1/1000, 2/1000, ... 1 over the first 1,000 steps
///     schedule.decay = .cosine               // then from 1 down to `endFactor` at the last step
///     schedule.sparsityWarmupSteps = 5_000   // the penalty's weight x 1/5000 ... 1
///
/// Steps count from 0: step t is the (t + 1)-th update. Warm-ups multiply step t by
/// min(1, (t + 1) / W) (SAELens's form: the first step already moves). A decay starting at step
/// S (`decayStart`, default: the end of the warm-up) of T multiplies step t >= S by
/// e + (1 - e) (T - t) / (T - S) (linear; dictionary_learning's with e = 0) or
/// e + (1 - e) (1 + cos(pi (t - S) / (T - S))) / 2 (cosine), e = `endFactor`.
public struct Schedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, Sendable, CaseIterable { case none, linear, cosine }

    public var warmupSteps = 0
    public var decay = Decay.none
    public var decayStart: Int?
    /// The learning rate the decay ends at, as a fraction of the learning rate.
    public var endFactor = 0.0
    public var sparsityWarmupSteps = 0

    public init(warmupSteps: Int = 0, decay: Decay = .none, decayStart: Int? = nil, endFactor: Double = 0, sparsityWarmupSteps: Int = 0) {
        (self.warmupSteps, self.decay, self.decayStart, self.endFactor, self.sparsityWarmupSteps)
            = (warmupSteps, decay, decayStart, endFactor, sparsityWarmupSteps)
    }

    /// The step the decay starts at.
    public var decayStartStep: Int { decayStart ?? warmupSteps }

    /// Whether the factors depend on how many steps the run has (a decay does): a run extended
    /// to more epochs then differs from one asked for them from the start.
    public var dependsOnLength: Bool { decay != .none }

    /// The learning rate's factor at step `t` of `total`.
    public func learningRateFactor(step t: Int, of total: Int) -> Double {
        var factor = warmupSteps > 0 ? min(1, Double(t + 1) / Double(warmupSteps)) : 1
        let start = decayStartStep
        if decay != .none, t >= start, total > start {
            let progress = Double(t - start) / Double(total - start)
            let fall = decay == .linear ? 1 - progress : (1 + cos(Double.pi * progress)) / 2
            factor *= endFactor + (1 - endFactor) * fall
        }
        return factor
    }

    /// The sparsity coefficient's factor at step `t`.
    public func sparsityFactor(step t: Int) -> Float {
        sparsityWarmupSteps > 0 ? Float(min(1, Double(t + 1) / Double(sparsityWarmupSteps))) : 1
    }

    public func validate() throws {
        guard warmupSteps >= 0 else { throw SAEError.badSetting("--lr-warmup-steps", "must be >= 0, got \(warmupSteps)") }
        guard sparsityWarmupSteps >= 0 else { throw SAEError.badSetting("--sparsity-warmup-steps", "must be >= 0, got \(sparsityWarmupSteps)") }
        guard endFactor >= 0, endFactor <= 1 else { throw SAEError.badSetting("--lr-end", "must be a fraction of the learning rate in [0, 1], got \(endFactor)") }
        if let start = decayStart {
            guard decay != .none else { throw SAEError.badSetting("--lr-decay-start", "needs a decay: add --lr-decay linear or cosine") }
            guard start >= warmupSteps else {
                throw SAEError.badSetting("--lr-decay-start", "must be at or after the warm-up's end (step \(warmupSteps)), got \(start)")
            }
        }
        if decay == .none, endFactor != 0 { throw SAEError.badSetting("--lr-end", "needs a decay: add --lr-decay linear or cosine") }
    }

    /// "warm-up 1000 steps, cosine decay from step 1000 to 0.1 lr, sparsity warm-up 5000 steps".
    public var summaryText: String {
        var parts: [String] = []
        if warmupSteps > 0 { parts.append("warm-up \(warmupSteps) steps") }
        if decay != .none { parts.append("\(decay.rawValue) decay from step \(decayStartStep) to \(endFactor) lr") }
        if sparsityWarmupSteps > 0 { parts.append("sparsity warm-up \(sparsityWarmupSteps) steps") }
        return parts.isEmpty ? "constant" : parts.joined(separator: ", ")
    }
}
