import CKernels

extension AutoencoderConfig.Architecture {
    /// A dictionary with a learned threshold per latent (`JumpReLU`).
    public static let jumprelu = Self(named: "jumprelu")
}

extension AutoencoderConfig {
    /// A jumprelu SAE's thresholds and L0 penalty (nil in any other config).
    public var jumpReLU: JumpReLUSettings? {
        get { settings as? JumpReLUSettings }
        set { if let newValue { settings = newValue } else if jumpReLU != nil { settings = nil } }
    }
}

/// JumpReLU's settings: the straight-through window, and the L0 penalty in one of two forms.
public struct JumpReLUSettings: ArchitectureSettings {
    public static let key = "jumprelu", option = "--target-l0"

    /// ε, the width of the rectangle kernel through which the thresholds get their gradient.
    public var bandwidth: Float
    /// λ: the penalty's weight.
    public var coefficient: Float
    /// With a target: dictionary_learning's λ (L0 / target - 1)²; without: the paper's λ L0.
    public var targetL0: Float?

    public init(bandwidth: Float = 0.001, coefficient: Float = 1, targetL0: Float? = 20) {
        (self.bandwidth, self.coefficient, self.targetL0) = (bandwidth, coefficient, targetL0)
    }

    func validate() throws {
        guard bandwidth > 0, bandwidth.isFinite else { throw SAEError.badSetting("--bandwidth", "must be > 0, got \(bandwidth)") }
        guard coefficient >= 0, coefficient.isFinite else { throw SAEError.badSetting("--l0-coefficient", "must be >= 0, got \(coefficient)") }
        if let t = targetL0, !(t > 0 && t.isFinite) { throw SAEError.badSetting("--target-l0", "must be > 0, got \(t)") }
    }
}

/// JumpReLU (Rajamanoharan et al. 2024; dictionary_learning's `JumpReluTrainer`, SAELens's
/// `jumprelu`): each latent j has a learned threshold θ_j, and z = v H(v - θ_j) for v = pre + b_enc
/// (relu'd, as SAELens encodes: a value must also be positive). The code keeps what clears its
/// threshold, in training and at inference alike, so a sample holds any number of latents.
///
/// H has no gradient; the thresholds get one through straight-through estimators with a rectangle
/// kernel K of width ε (`bandwidth`) around each threshold: dz/dθ_j = -(θ_j / ε) K((v - θ_j) / ε)
/// and, for the L0 (the mean number of active latents per sample), dH/dθ_j = -(1 / ε) K(...).
/// Choices, against the peers' known traps:
/// - θ is stored as it is (initialised to 0.001, dictionary_learning's), not as log θ, whose
///   gradient vanishes as θ does and freezes it (SAELens issues #494, #382; SAELens moved so too);
/// - the L0's window is taken on the pre-activation v, not on z (dictionary_learning #55 takes it
///   on z, which is 0 below the threshold, so only latents just above it ever feel the penalty);
/// - the penalty keeps its ratio to the reconstruction term: sae's reconstruction term is a mean
///   over B·d elements, the peers' a sum over d then a mean over B, so the penalty is divided by d
///   too: sae's objective is theirs divided by d, with the same minimum and the same λ.
/// - the gradient is clipped at 1/d by default (`clipsGradient`, dictionary_learning's clipping at
///   1.0 on its d-times larger loss): the thresholds' gradients are large while the code is dense,
///   and unclipped, Adam's memory of them keeps the thresholds' later steps far below the learning
///   rate (target L0 8 after 768 steps on d 512: L0 132 clipped, 325 not).
/// The thresholds' gradient is theirs alone (no weight feels the L0), so Adam, which rescales each
/// parameter's steps, makes a λ large enough to dominate it act like any other large λ (SAELens
/// #719): that is the method's, and `sae sweep --target-l0` is the way to a chosen L0.
///
///     sae train --data-npy acts.npy --architecture jumprelu --target-l0 32 --code 4096
final class JumpReLU: SparseArchitecture {
    static let architecture = AutoencoderConfig.Architecture.jumprelu
    static let traits = ArchitectureTraits(isBatchWide: true, hasSparsityPenalty: true, clipsGradient: true)
    static let help = "a dictionary with a learned threshold per latent and an L0 penalty: --target-l0"
    static let settingsType: (any ArchitectureSettings.Type)? = JumpReLUSettings.self
    /// `sae sweep --k` gives its target L0s.
    static let sweep: ArchitectureSweep? = ArchitectureSweep(list: "k", label: "l0") { config, value, _ in
        config.jumpReLU = JumpReLUSettings(targetL0: Float(value))
    }
    /// (Its L0 penalty is training's alone: the defaults.)
    static func imported(_ config: inout AutoencoderConfig) { config.jumpReLU = JumpReLUSettings() }

    static func objectiveText(_ config: AutoencoderConfig) -> String? {
        config.jumpReLU.map { j in
            "L0" + (j.targetL0.map { " (lambda \(j.coefficient), target \($0)" } ?? " (lambda \(j.coefficient)") + ", bandwidth \(j.bandwidth))"
        }
    }

    static func validate(_ config: AutoencoderConfig) throws {
        guard let settings = config.jumpReLU else { throw SAEError.badSetting("--target-l0", "a jumprelu SAE needs its L0 penalty: --target-l0 or --l0-coefficient") }
        try settings.validate()
        guard config.topK == nil else { throw SAEError.badSetting("--k", "a jumprelu SAE has no k: its thresholds choose (use --target-l0)") }
        guard config.codeActivation == .relu else { throw SAEError.badSetting("--code-activation", "a jumprelu SAE's latents are relu'd, not \(config.codeActivation.rawValue)") }
        guard config.penalty == .none else { throw SAEError.badSetting("--penalty", "a jumprelu SAE takes its L0 penalty, not --penalty") }
    }
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] {
        [ArchitectureTensor(name: "threshold", shape: [config.codeSize], trainable: true, initial: 0.001)]
    }

    let settings: JumpReLUSettings
    let codeSize: Int
    /// θ (c), in the model's parameters.
    let thresholds: UnsafeMutablePointer<Float>
    /// The training selection's window entries (latent, sample), and per row where they start.
    private var nearLatents: [CInt] = [], nearSamples: [CInt] = [], nearOffsets: [CInt] = [], nearCount = 0
    /// dObjective/dθ_j's share per window entry from the penalty, set by `penalty`.
    private var l0Step: Float = 0

    init(settings: JumpReLUSettings, codeSize: Int, thresholds: UnsafeMutablePointer<Float>) {
        (self.settings, self.codeSize, self.thresholds) = (settings, codeSize, thresholds)
    }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(settings: config.jumpReLU ?? JumpReLUSettings(), codeSize: config.codeSize, thresholds: tensors!)
    }

    func trainingPairs(rows: Int) -> Int { rows * min(codeSize, 64) }
    /// Its thresholds start at 0.001: a fifth of the latents or more fire in the first steps.
    var mayBeDense: Bool { true }

    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        let c = codeSize, half = settings.bandwidth / 2, theta = UnsafePointer(thresholds)
        if nearOffsets.count < b + 1 { nearOffsets = [CInt](repeating: 0, count: b + 1) }
        // Count per row (active into rowOffsets[r + 1], window into nearOffsets[r + 1]), lay out, fill.
        nearOffsets.withUnsafeMutableBufferPointer { near in
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                _ = sae_jump_count(s.pre + rows.lowerBound * c, bias, theta, half, rows.count, c,
                                   s.rowOffsets + 1 + rows.lowerBound, near.baseAddress! + 1 + rows.lowerBound)
            }
            s.rowOffsets[0] = 0
            near[0] = 0
            for r in 0..<b {
                s.rowOffsets[r + 1] += s.rowOffsets[r]
                near[r + 1] += near[r]
            }
        }
        let total = Int(s.rowOffsets[b])
        nearCount = training ? Int(nearOffsets[b]) : 0
        s.reservePairs(total)
        (s.mainPairs, s.auxPairs) = (total, 0)
        if nearLatents.count < nearCount {
            nearLatents = [CInt](repeating: 0, count: nearCount * 2)
            nearSamples = nearLatents
        }
        nearOffsets.withUnsafeBufferPointer { near in
            nearLatents.withUnsafeMutableBufferPointer { nl in
                nearSamples.withUnsafeMutableBufferPointer { ns in
                    WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                        sae_jump_fill(s.pre + rows.lowerBound * c, bias, theta, half, rows.count, c, rows.lowerBound,
                                      s.rowOffsets + rows.lowerBound, training ? near.baseAddress! + rows.lowerBound : nil,
                                      s.values, s.latents, s.samples, nl.baseAddress, ns.baseAddress)
                    }
                }
            }
        }
    }

    /// The L0 penalty of the last selection, divided by d (see above); leaves its gradient's share
    /// per window entry for `addGradients`.
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double {
        let (batch, d) = (Float(context.lossBatch), Float(context.outputSize))
        // Under MPI, the L0 of the whole batch: every rank's active latents (a count, exact in Double).
        var active = Double(s.mainPairs)
        context.ranks?.sum(&active, 1)
        let l0 = Float(active) / batch, lambda = settings.coefficient * context.sparsityScale
        let (value, slope): (Float, Float)
        if let target = settings.targetL0 {
            (value, slope) = (lambda * (l0 / target - 1) * (l0 / target - 1), 2 * lambda * (l0 / target - 1) / target)
        } else {
            (value, slope) = (lambda * l0, lambda)
        }
        // dL0/dθ_j = (1 / B) sum over the window of -(1 / ε).
        l0Step = -slope / d / (settings.bandwidth * batch)
        return context.countsBatchTerms ? Double(value / d) : 0
    }

    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>) {
        nearLatents.withUnsafeBufferPointer { nl in
            nearSamples.withUnsafeBufferPointer { ns in
                sae_jump_threshold_gradient(nl.baseAddress, ns.baseAddress, nearCount, s.outputGradients,
                                            context.parameters + context.decoderOffset, context.outputSize, thresholds,
                                            1 / settings.bandwidth, l0Step, g + context.tensorsOffset)
            }
        }
    }
}
