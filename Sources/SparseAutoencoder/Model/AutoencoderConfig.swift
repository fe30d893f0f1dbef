/// Everything needed to rebuild an autoencoder: the layer sizes, the bottleneck's activation,
/// its sparsity penalty and the reconstruction loss.
///
/// The network is input -> hidden... -> code -> hidden (mirrored)... -> input, with relu hidden
/// layers and a sigmoid output:
///
///     let l1 = AutoencoderConfig.tutorial(.l1(lambda: 1e-5))          // 784-128-64-128-784, relu code
///     let kl = AutoencoderConfig.tutorial(.kl(rho: 0.05, beta: 3))    // sigmoid code
public struct AutoencoderConfig: Codable, Equatable, Sendable {
    public var inputSize: Int
    /// Sizes of the encoder's hidden layers, outermost first; the decoder mirrors them.
    public var hiddenSizes: [Int]
    public var codeSize: Int
    public var codeActivation: Activation
    /// Units each sample keeps when `codeActivation` is `topk`.
    public var topK: Int?
    public var penalty: ActivityPenalty
    public var loss: ReconstructionLoss

    public init(inputSize: Int = 784, hiddenSizes: [Int] = [128], codeSize: Int = 64,
                codeActivation: Activation = .relu, topK: Int? = nil, penalty: ActivityPenalty = .none,
                loss: ReconstructionLoss = .bce) {
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.codeSize = codeSize
        self.codeActivation = codeActivation
        self.topK = topK
        self.penalty = penalty
        self.loss = loss
    }

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
        let sizes = [inputSize] + hiddenSizes + [codeSize] + hiddenSizes.reversed() + [inputSize]
        let activations = hiddenSizes.map { _ in Activation.relu } + [codeActivation]
            + hiddenSizes.map { _ in Activation.relu } + [.linear]
        return (0..<activations.count).map { (sizes[$0], sizes[$0 + 1], activations[$0]) }
    }

    /// Index of the layer whose output is the code.
    public var codeLayerIndex: Int { hiddenSizes.count }

    /// Models larger than this many parameters (4 GiB of floats) are refused before anything is
    /// allocated: no CPU autoencoder here needs more, and a typo should not exhaust memory.
    public static let maximumParameters = 1 << 30

    public func validate() throws {
        guard inputSize > 0 else { throw SAEError.badSetting("input size", "must be > 0, got \(inputSize)") }
        guard codeSize > 0 else { throw SAEError.badSetting("--code", "must be > 0, got \(codeSize)") }
        for h in hiddenSizes where h <= 0 {
            throw SAEError.badSetting("--hidden", "layer sizes must be > 0, got \(h)")
        }
        if codeActivation == .topk {
            guard let k = topK, k >= 1, k <= codeSize else {
                throw SAEError.badSetting("--k", "a topk code needs 1 <= k <= code size (\(codeSize)), got \(topK.map(String.init) ?? "none")")
            }
            guard codeSize <= 4096 else { throw SAEError.badSetting("--code", "a topk code has at most 4096 units") }
        } else if topK != nil {
            throw SAEError.badSetting("--k", "only a topk code takes k (use --code-activation topk)")
        }
        guard hiddenSizes.count <= 16 else { throw SAEError.badSetting("--hidden", "at most 16 hidden layers, got \(hiddenSizes.count)") }
        // Count parameters without overflowing, whatever the sizes.
        let sizes = [inputSize] + hiddenSizes + [codeSize]
        var total = 0
        for (a, b) in zip(sizes, sizes.dropFirst()) {
            let (weights, o1) = a.multipliedReportingOverflow(by: b)
            let (layer, o2) = weights.addingReportingOverflow(b)
            let (sum, o3) = total.addingReportingOverflow(2 * min(layer, Self.maximumParameters))
            guard !o1, !o2, !o3, sum <= Self.maximumParameters else {
                throw SAEError("the model would have more than \(Self.maximumParameters) parameters; use smaller --hidden or --code sizes")
            }
            total = sum
        }
        try penalty.validate(codeActivation: codeActivation)
    }
}
