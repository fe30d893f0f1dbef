import Foundation

/// A sparsity penalty on the code h (the bottleneck's output), added to the batch loss.
///
/// As in Keras >= 3.14 (and tf.keras 2.x), the penalty is divided by the batch size B:
/// - `l1(lambda)`: lambda * sum_ij |h_ij| / B
/// - `kl(rho, beta)`: beta * sum_j KL(rho || rho_hat_j) / B, with rho_hat_j = mean_i h_ij clamped
///   into [1e-7, 1 - 1e-7]; KL(p||q) = p log(p/q) + (1-p) log((1-p)/(1-q)). Needs h in (0, 1).
public enum ActivityPenalty: Equatable, Sendable {
    case none
    case l1(lambda: Float)
    case kl(rho: Float, beta: Float)

    public static let klClamp: Float = 1e-7

    /// The KL target, if this is a KL penalty.
    public var rho: Float? {
        if case .kl(let rho, _) = self { return rho }
        return nil
    }

    public var name: String {
        switch self {
        case .none: "none"
        case .l1: "l1"
        case .kl: "kl"
        }
    }

    /// Checks the settings make sense; `codeActivation` is the bottleneck's activation.
    public func validate(codeActivation: Activation) throws {
        switch self {
        case .none: break
        case .l1(let lambda):
            guard lambda >= 0, lambda.isFinite else { throw SAEError.badSetting("--l1", "lambda must be >= 0, got \(lambda)") }
        case .kl(let rho, let beta):
            guard rho > 0, rho < 1 else { throw SAEError.badSetting("--rho", "must be strictly between 0 and 1, got \(rho)") }
            guard beta >= 0, beta.isFinite else { throw SAEError.badSetting("--beta", "must be >= 0, got \(beta)") }
            guard codeActivation.isBoundedToUnitInterval else {
                throw SAEError("the KL penalty needs a code in (0, 1), but a \(codeActivation.rawValue) code can leave it "
                    + "(relu outputs can exceed 1 and reach 0, breaking the logs); use --code-activation sigmoid")
            }
        }
    }

    /// The penalty with its weight (L1's lambda, KL's beta) times `factor` (a warm-up's).
    func scaled(by factor: Float) -> ActivityPenalty {
        switch self {
        case .none: .none
        case .l1(let lambda): .l1(lambda: lambda * factor)
        case .kl(let rho, let beta): .kl(rho: rho, beta: beta * factor)
        }
    }

    /// The penalty for one batch (already divided by B), the penalty's forward half. KL leaves
    /// in `scratch` (at least `cols` floats) each unit's gradient term, which `addGradient` reads.
    /// h: (rows = B, cols = code size)
    ///
    /// Data-parallel (MPI): `rows` are this rank's slice of a batch of `batch` samples; KL's column
    /// sums are completed over the ranks by `sumAcrossRanks`, and its value (the same on every rank)
    /// is counted only where `countsBatchTerms`; L1's value is this rank's share of the batch's.
    @inline(__always)
    func value(code h: UnsafePointer<Float>, rows: Int, cols: Int, scratch: UnsafeMutablePointer<Float>,
               batch: Int? = nil, sumAcrossRanks: ((UnsafeMutablePointer<Float>, Int) -> Void)? = nil,
               countsBatchTerms: Bool = true) -> Double {
        let invB = 1 / Float(batch ?? rows)
        switch self {
        case .none:
            return 0
        case .l1(let lambda):
            var total: Float = 0
            for i in 0..<(rows * cols) { total += abs(h[i]) }
            return Double(lambda * total * invB)
        case .kl(let rho, let beta):
            // rho_hat: (cols) column means
            for j in 0..<cols { scratch[j] = 0 }
            for r in 0..<rows { for j in 0..<cols { scratch[j] += h[r * cols + j] } }
            sumAcrossRanks?(scratch, cols)
            var divergence = 0.0
            for j in 0..<cols {
                let mean = scratch[j] * invB
                let q = min(max(mean, Self.klClamp), 1 - Self.klClamp)
                divergence += Double(rho * logf(rho / q) + (1 - rho) * logf((1 - rho) / (1 - q)))
                // dR/dh_ij = beta * (-(rho/q) + (1-rho)/(1-q)) / B, then / B again for the penalty;
                // zero where the clamp is active (as a clip's gradient is).
                let clamped = mean < Self.klClamp || mean > 1 - Self.klClamp
                scratch[j] = clamped ? 0 : beta * (-(rho / q) + (1 - rho) / (1 - q)) * invB * invB
            }
            return countsBatchTerms ? Double(beta) * divergence * Double(invB) : 0
        }
    }

    /// The backward half, after `value` on the same code: adds dPenalty/dh into `gradient`.
    /// h, gradient: (rows = B, cols = code size); scratch: KL's per-unit terms from `value`.
    @inline(__always)
    func addGradient(code h: UnsafePointer<Float>, rows: Int, cols: Int, scratch: UnsafePointer<Float>,
                     batch: Int? = nil, into g: UnsafeMutablePointer<Float>) {
        switch self {
        case .none:
            return
        case .l1(let lambda):
            let step = lambda * (1 / Float(batch ?? rows))
            // d|h|/dh = sign(h), 0 at 0 (as TensorFlow's).
            for i in 0..<(rows * cols) { g[i] += h[i] > 0 ? step : (h[i] < 0 ? -step : 0) }
        case .kl:
            for r in 0..<rows { for j in 0..<cols { g[r * cols + j] += scratch[j] } }
        }
    }
}

extension ActivityPenalty: Codable {
    private enum Keys: String, CodingKey { case kind, lambda, rho, beta }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "none": self = .none
        case "l1": self = .l1(lambda: try c.decode(Float.self, forKey: .lambda))
        case "kl": self = .kl(rho: try c.decode(Float.self, forKey: .rho), beta: try c.decode(Float.self, forKey: .beta))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown penalty kind \"\(other)\" (expected none, l1 or kl)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(name, forKey: .kind)
        switch self {
        case .none: break
        case .l1(let lambda): try c.encode(lambda, forKey: .lambda)
        case .kl(let rho, let beta): try c.encode(rho, forKey: .rho); try c.encode(beta, forKey: .beta)
        }
    }
}
