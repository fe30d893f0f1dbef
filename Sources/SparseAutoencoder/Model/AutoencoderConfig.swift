/// Everything needed to rebuild an autoencoder: its architecture, the layer sizes, the
/// bottleneck's activation, its sparsity penalty and the reconstruction loss.
///
/// - `mirrored` (the tutorial's): input -> hidden... -> code -> hidden (mirrored)... -> input, with
///   relu hidden layers and a sigmoid output.
/// - `dictionary` (the single-layer SAE of interpretability work): z = act(W_enc (x - b_dec) + b_enc),
///   x^ = W_dec z + b_dec, a linear output scored by MSE; each decoder row is a latent's direction.
///
///     let l1 = AutoencoderConfig.tutorial(.l1(lambda: 1e-5))          // 784-128-64-128-784, relu code
///     let kl = AutoencoderConfig.tutorial(.kl(rho: 0.05, beta: 3))    // sigmoid code
///     let sae = AutoencoderConfig.dictionary(inputSize: 512, codeSize: 4096, topK: 32, auxK: AuxK(k: 256))
public struct AutoencoderConfig: Codable, Equatable, Sendable {
    /// `mirrored`, `dictionary`, or an architecture of `Architectures/` (`Architecture.swift`).
    public var architecture: Architecture
    public var inputSize: Int
    /// Sizes of the encoder's hidden layers, outermost first; the decoder mirrors them.
    public var hiddenSizes: [Int]
    public var codeSize: Int
    public var codeActivation: Activation
    /// Units each sample keeps when `codeActivation` is `topk`.
    public var topK: Int?
    public var penalty: ActivityPenalty
    public var loss: ReconstructionLoss
    /// Keep the first decoder layer's rows (one per latent) at unit length during training.
    public var unitNormDecoder: Bool
    /// The auxiliary loss that revives dead latents of a topk dictionary (nil: off).
    public var auxK: AuxK?
    /// The architecture's own settings (`ArchitectureSettings`: JumpReLU's L0 penalty,
    /// Matryoshka's groups, Gated's gate L1), each architecture's file naming them
    /// (`config.jumpReLU`, `config.groups`, `config.gateL1`); nil: none.
    public var settings: (any ArchitectureSettings)?
    /// A transcoder's output width: it encodes x and decodes to another vector y of this many
    /// features (trained on pairs, `Dataset.pairing(targets:)`); nil: an autoencoder (y = x).
    public var outputSize: Int?

    public init(architecture: Architecture = .mirrored, inputSize: Int = 784, hiddenSizes: [Int] = [128], codeSize: Int = 64,
                codeActivation: Activation = .relu, topK: Int? = nil, penalty: ActivityPenalty = .none,
                loss: ReconstructionLoss = .bce, unitNormDecoder: Bool = false, auxK: AuxK? = nil,
                settings: (any ArchitectureSettings)? = nil, outputSize: Int? = nil) {
        self.architecture = architecture
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.codeSize = codeSize
        self.codeActivation = codeActivation
        self.topK = topK
        self.penalty = penalty
        self.loss = loss
        self.unitNormDecoder = unitNormDecoder
        self.auxK = auxK
        self.settings = settings
        self.outputSize = outputSize
    }

    /// A single-layer dictionary SAE: relu (or topk when `topK` is given) latents, MSE loss,
    /// unit-norm decoder rows.
    public static func dictionary(inputSize: Int, codeSize: Int, topK: Int? = nil, penalty: ActivityPenalty = .none,
                                  unitNormDecoder: Bool = true, auxK: AuxK? = nil) -> AutoencoderConfig {
        AutoencoderConfig(architecture: .dictionary, inputSize: inputSize, hiddenSizes: [], codeSize: codeSize,
                          codeActivation: topK == nil ? .relu : .topk, topK: topK, penalty: penalty, loss: .mse,
                          unitNormDecoder: unitNormDecoder, auxK: auxK)
    }

    /// Whether the output layer's values are the reconstruction itself (dictionary) rather than
    /// logits of a sigmoid (mirrored).
    public var hasLinearOutput: Bool { isDictionary }

    /// A single-layer SAE with a linear output (every architecture but the tutorial's mirrored one).
    public var isDictionary: Bool { architecture != .mirrored }

    /// Whether the model predicts other vectors than its inputs (`outputSize`).
    public var isTranscoder: Bool { outputSize != nil }

    /// The width of the output: the input's, or a transcoder's `outputSize`.
    public var targetSize: Int { outputSize ?? inputSize }

    /// Whether the encoder reads x - b_dec: a dictionary SAE's does; a transcoder's b_dec lives in
    /// the output's space, so its encoder reads x as it is (as SAELens's and sparsify's).
    public var isCentred: Bool { isDictionary && !isTranscoder }

    /// The tutorial's model for a penalty: relu code for L1 and none, sigmoid code for KL.
    public static func tutorial(_ penalty: ActivityPenalty) -> AutoencoderConfig {
        AutoencoderConfig(codeActivation: defaultCodeActivation(for: penalty), penalty: penalty)
    }

    public static func defaultCodeActivation(for penalty: ActivityPenalty) -> Activation {
        if case .kl = penalty { return .sigmoid }
        return .relu
    }

    /// (input size, output size, activation) of each layer in order; the last one is the
    /// sigmoid output, stored as logits (see `ReconstructionLoss`).
    public var layerShapes: [(inputSize: Int, outputSize: Int, activation: Activation)] {
        let sizes = [inputSize] + hiddenSizes + [codeSize] + hiddenSizes.reversed() + [targetSize]
        let activations = hiddenSizes.map { _ in Activation.relu } + [codeActivation]
            + hiddenSizes.map { _ in Activation.relu } + [.linear]
        return (0..<activations.count).map { (sizes[$0], sizes[$0 + 1], activations[$0]) }
    }

    /// Index of the layer whose output is the code.
    public var codeLayerIndex: Int { hiddenSizes.count }

    /// Models larger than this many parameters (4 GiB of floats) are refused before anything is
    /// allocated: no CPU autoencoder here needs more, and a typo should not exhaust memory.
    public static let maximumParameters = 1 << 30

    /// "68.0 million", "1.6 billion": a parameter count in words.
    static func describeCount(_ n: Double) -> String {
        n >= 1e9 ? String(format: "%.1f billion", n / 1e9) : n >= 1e6 ? String(format: "%.1f million", n / 1e6) : String(Int(n))
    }

    public func validate() throws {
        guard inputSize > 0 else { throw SAEError.badSetting("input size", "must be > 0, got \(inputSize)") }
        guard codeSize > 0 else { throw SAEError.badSetting("--code", "must be > 0, got \(codeSize)") }
        if let outputSize {
            guard outputSize > 0 else { throw SAEError.badSetting("output size", "must be > 0, got \(outputSize)") }
            guard isDictionary else {
                throw SAEError.badSetting("--target-npy", "a transcoder is a dictionary SAE (one layer each way): use --architecture dictionary or another dictionary architecture, not mirrored")
            }
        }
        for h in hiddenSizes where h <= 0 {
            throw SAEError.badSetting("--hidden", "layer sizes must be > 0, got \(h)")
        }
        // Each architecture's own settings are checked in its file (Architectures/).
        try Architectures.validate(self)
        if architecture.takesK {
            let name = architecture.rawValue
            guard let k = topK, k >= 1, k <= codeSize else {
                throw SAEError.badSetting("--k", "a \(name) SAE needs 1 <= k <= code size (\(codeSize)) latents per sample on average, got \(topK.map(String.init) ?? "none")")
            }
            guard codeActivation == .relu else { throw SAEError.badSetting("--code-activation", "a \(name) SAE's latents are relu'd, not \(codeActivation.rawValue)") }
            guard penalty == .none else { throw SAEError.badSetting("--penalty", "a \(name) SAE takes no penalty (its batch selection is the sparsity)") }
        } else if codeActivation == .topk {
            guard let k = topK, k >= 1, k <= codeSize else {
                throw SAEError.badSetting("--k", "a topk code needs 1 <= k <= code size (\(codeSize)), got \(topK.map(String.init) ?? "none")")
            }
        } else if topK != nil {
            throw SAEError.badSetting("--k", "only a topk code takes k (use --code-activation topk)")
        }
        guard hiddenSizes.count <= 16 else { throw SAEError.badSetting("--hidden", "at most 16 hidden layers, got \(hiddenSizes.count)") }
        // Count parameters without overflowing, whatever the sizes.
        let sizes = [max(inputSize, targetSize)] + hiddenSizes + [codeSize]
        var total = 0
        for (a, b) in zip(sizes, sizes.dropFirst()) {
            let (weights, o1) = a.multipliedReportingOverflow(by: b)
            let (layer, o2) = weights.addingReportingOverflow(b)
            let (sum, o3) = total.addingReportingOverflow(2 * min(layer, Self.maximumParameters))
            guard !o1, !o2, !o3, sum <= Self.maximumParameters else {
                let estimate = zip(sizes, sizes.dropFirst()).reduce(0.0) { $0 + 2 * (Double($1.0) * Double($1.1) + Double($1.1)) }
                throw SAEError("the model would have about \(Self.describeCount(estimate)) parameters, more than the \(Self.maximumParameters) "
                    + "(4 GiB of floats) sae trains; use smaller --hidden or --code sizes")
            }
            total = sum
        }
        try penalty.validate(codeActivation: codeActivation)
        if isDictionary {
            guard hiddenSizes.isEmpty else { throw SAEError.badSetting("--hidden", "a dictionary SAE has no hidden layers (use --hidden none)") }
            guard loss == .mse else { throw SAEError.badSetting("--loss", "a dictionary SAE has a linear output and is trained with mse") }
        }
        if let auxK {
            guard architecture.takesK || (architecture == .dictionary && codeActivation == .topk) else {
                let k = Architecture.allCases.filter(\.takesK).map(\.rawValue).joined(separator: ", ")
                throw SAEError.badSetting("--auxk", "the AuxK loss needs a dictionary SAE that takes k (--k with --architecture dictionary, \(k))")
            }
            try auxK.validate(codeSize: codeSize)
        }
    }
}

/// The auxiliary loss of Gao et al. (2024) for dead latents of a topk dictionary SAE. Each step,
/// the `k` largest pre-activations among latents dead at that point (not fired for the trainer's
/// `deadAfter` samples) reconstruct the main model's residual e = x - x^ through the decoder's
/// weights: L_aux = coefficient * mean((W_dec z_aux - e)^2). Its gradient reaches only dead
/// latents, giving them a reason to fire again; the reported loss leaves it out.
public struct AuxK: Codable, Equatable, Sendable {
    public var k: Int
    public var coefficient: Float

    public init(k: Int, coefficient: Float = 1.0 / 32) {
        self.k = k
        self.coefficient = coefficient
    }

    func validate(codeSize: Int) throws {
        guard k >= 1, k <= codeSize else { throw SAEError.badSetting("--auxk", "k_aux must be in 1...\(codeSize), got \(k)") }
        guard coefficient >= 0, coefficient.isFinite else {
            throw SAEError.badSetting("--auxk-coefficient", "must be >= 0, got \(coefficient)")
        }
    }
}

extension AutoencoderConfig {
    private enum CodingKeys: String, CodingKey {
        case architecture, inputSize, hiddenSizes, codeSize, codeActivation, topK, penalty, loss, unitNormDecoder, auxK, outputSize
    }

    /// Configs written before `architecture`, `unitNormDecoder` and `auxK` existed are mirrored
    /// models without either option. The architecture's settings are read by its type, under
    /// its key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(architecture: try c.decodeIfPresent(Architecture.self, forKey: .architecture) ?? .mirrored,
                  inputSize: try c.decode(Int.self, forKey: .inputSize),
                  hiddenSizes: try c.decode([Int].self, forKey: .hiddenSizes),
                  codeSize: try c.decode(Int.self, forKey: .codeSize),
                  codeActivation: try c.decode(Activation.self, forKey: .codeActivation),
                  topK: try c.decodeIfPresent(Int.self, forKey: .topK),
                  penalty: try c.decode(ActivityPenalty.self, forKey: .penalty),
                  loss: try c.decode(ReconstructionLoss.self, forKey: .loss),
                  unitNormDecoder: try c.decodeIfPresent(Bool.self, forKey: .unitNormDecoder) ?? false,
                  auxK: try c.decodeIfPresent(AuxK.self, forKey: .auxK),
                  outputSize: try c.decodeIfPresent(Int.self, forKey: .outputSize))
        settings = try Architectures.type(for: self)?.settingsType?.decode(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(inputSize, forKey: .inputSize)
        try c.encode(hiddenSizes, forKey: .hiddenSizes)
        try c.encode(codeSize, forKey: .codeSize)
        try c.encode(codeActivation, forKey: .codeActivation)
        try c.encodeIfPresent(topK, forKey: .topK)
        try c.encode(penalty, forKey: .penalty)
        try c.encode(loss, forKey: .loss)
        try c.encode(unitNormDecoder, forKey: .unitNormDecoder)
        try c.encodeIfPresent(auxK, forKey: .auxK)
        try c.encodeIfPresent(outputSize, forKey: .outputSize)
        try settings?.encode(into: encoder)
    }

    public static func == (a: AutoencoderConfig, b: AutoencoderConfig) -> Bool {
        let sameSettings = switch (a.settings, b.settings) {
        case (nil, nil): true
        case let (x?, y?): x.isEqual(to: y)
        default: false
        }
        return sameSettings && a.architecture == b.architecture && a.inputSize == b.inputSize && a.hiddenSizes == b.hiddenSizes
            && a.codeSize == b.codeSize && a.codeActivation == b.codeActivation && a.topK == b.topK && a.penalty == b.penalty
            && a.loss == b.loss && a.unitNormDecoder == b.unitNormDecoder && a.auxK == b.auxK && a.outputSize == b.outputSize
    }
}
