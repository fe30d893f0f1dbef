/// The seam between an SAE architecture and the rest of sae. An architecture of the sparse step is
/// one file in this folder and one line in `Architectures.all`: its file declares its name (an
/// `AutoencoderConfig.Architecture`), its settings (an `ArchitectureSettings` value in the
/// config, written to config.json under its own key), its tensors, its checks, how `sae sweep`
/// varies it, how it reads from SAELens, and, as a `CodeSelection`, its forward, loss terms and
/// backward. Nothing elsewhere names it. Its command-line options, if it has any, are one small
/// file of the tool (`Sources/sae/Architectures/`).
///
///     extension AutoencoderConfig.Architecture {
///         static let mine = Self(named: "mine")
///     }
///     struct MySettings: ArchitectureSettings { static let key = "mine", option = "--my-option"; var strength: Float }
///     final class Mine: SparseArchitecture {
///         static let architecture = AutoencoderConfig.Architecture.mine
///         static let settingsType: (any ArchitectureSettings.Type)? = MySettings.self
///         ...
///     }

extension AutoencoderConfig {
    /// `--architecture`'s value: `mirrored` (the tutorial's autoencoder) and `dictionary` (a relu
    /// or topk dictionary SAE) here; every other one is declared in its file in `Architectures/`.
    /// Written to config.json as its name.
    public struct Architecture: RawRepresentable, Hashable, Codable, Sendable, CaseIterable, CustomStringConvertible {
        public let rawValue: String

        /// A known architecture by its name; nil for any other.
        public init?(rawValue: String) {
            guard let known = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = known
        }

        /// The one place a name becomes an architecture: `mirrored`, `dictionary`, and each
        /// architecture file's own.
        init(named name: String) { rawValue = name }

        public static let mirrored = Self(named: "mirrored")
        public static let dictionary = Self(named: "dictionary")

        public static var allCases: [Architecture] { [.mirrored, .dictionary] + Architectures.all.map { $0.architecture }.filter { $0 != .dictionary } }

        public var description: String { rawValue }

        public init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer(), name = try container.decode(String.self)
            guard let known = Self(rawValue: name) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription:
                    "unknown architecture \"\(name)\" (this sae knows \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            self = known
        }

        /// Every architecture with what it is, for `--architecture`'s help.
        public static var help: String {
            let own = Architectures.all.filter { $0.architecture != .dictionary }.map { "\($0.architecture) (\($0.help))" }
            return (["mirrored (the tutorial's: hidden layers, sigmoid output)",
                     "dictionary (one layer: x - b_dec -> code -> linear output + b_dec, MSE; relu, or topk with --k)"] + own)
                .joined(separator: ", ")
        }
    }
}

/// An architecture's own settings (JumpReLU's L0 penalty, Matryoshka's groups, Gated's gate L1):
/// `AutoencoderConfig.settings`, written into config.json's model object under `key`.
public protocol ArchitectureSettings: Codable, Equatable, Sendable {
    /// Its key in config.json.
    static var key: String { get }
    /// The command-line option that gives it, for messages.
    static var option: String { get }
}

extension ArchitectureSettings {
    func isEqual(to other: any ArchitectureSettings) -> Bool { (other as? Self) == self }

    func encode(into encoder: Encoder) throws {
        var container = encoder.container(keyedBy: SettingsKey.self)
        try container.encode(self, forKey: SettingsKey(stringValue: Self.key))
    }

    static func decode(from decoder: Decoder) throws -> Self? {
        try decoder.container(keyedBy: SettingsKey.self).decodeIfPresent(Self.self, forKey: SettingsKey(stringValue: key))
    }
}

/// A key of config.json's model object that an architecture names.
struct SettingsKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { nil }
}

/// A tensor an architecture keeps in the model besides its layers' kernels and biases: saved with
/// the weights and in checkpoints, updated by Adam when `trainable` (else its gradient stays zero
/// and Adam leaves it as the selection sets it).
struct ArchitectureTensor {
    let name: String
    let shape: [Int]
    let trainable: Bool
    /// Its value in a new model.
    let initial: Float
}

/// How `sae sweep` varies an architecture: which of the sweep's lists its values come from, and
/// what a value sets.
package struct ArchitectureSweep: Sendable {
    /// The list: `k` (the sweep's `--k`, which JumpReLU takes as its target L0 too) or an option
    /// of the sweep's own (`gate-l1`).
    package let list: String
    /// Its label in run names: "k" (topk_k32), "l0" (jumprelu_l032), "l1" (gated_l10.3).
    package let label: String
    /// Puts `value` into a dictionary config of this architecture; `lists` are all the sweep's
    /// (Matryoshka reads its `groups` fractions there).
    package let apply: @Sendable (_ config: inout AutoencoderConfig, _ value: Double, _ lists: [String: [Double]]) -> Void
}

/// An architecture of the sparse step, described by its own file: which config it serves, its
/// tensors, how it is built over them, and what the rest of sae needs to know of it.
protocol SparseArchitecture: CodeSelection, SendableMetatype {
    /// The `--architecture` it answers to.
    static var architecture: AutoencoderConfig.Architecture { get }
    /// Its name where sae names architectures (`sae sweep --architecture`, summaries): the
    /// architecture's, or TopK's "topk".
    static var name: String { get }
    static var traits: ArchitectureTraits { get }
    /// What it is, in a few words, for `--architecture`'s help ("a dictionary with a learned
    /// threshold per latent and an L0 penalty: --target-l0").
    static var help: String { get }
    /// The type of its settings in the config (nil: it has none).
    static var settingsType: (any ArchitectureSettings.Type)? { get }
    /// Its tensors besides the layers' kernels and biases, in order.
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor]
    /// Built over the model's parameters; `tensors`: where its own start.
    init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?)
    /// Checks a config of this architecture: its own settings, and the common ones it rules out.
    static func validate(_ config: AutoencoderConfig) throws
    /// What it adds to the reconstruction loss, with its settings, for banners and summaries
    /// (nil: nothing of its own; the activity penalty's text is used).
    static func objectiveText(_ config: AutoencoderConfig) -> String?
    /// Its settings as a model's summary lists them ("groups 256,768,3072").
    static func summaryDetails(_ config: AutoencoderConfig) -> [String]
    /// How `sae sweep` varies it (nil: it is not swept).
    static var sweep: ArchitectureSweep? { get }
    /// A latent shard's config (`LatentShard.local`: `config` with the shard's latents) where its
    /// settings span the latents (Matryoshka's groups).
    static func local(_ config: inout AutoencoderConfig, of shard: LatentShard)
    /// A config read from a SAELens SAE of its `traits.saelensArchitecture`: its settings (those
    /// that only training uses at their defaults).
    static func imported(_ config: inout AutoencoderConfig)
    /// A SAELens SAE whose encoder reads x itself (apply_b_dec_to_input false) is read as one that
    /// reads x - b_dec by adding shift = b_dec W_enc to the encoder's bias; an architecture with
    /// another path from the pre-activations folds it there too (Gated's b_mag).
    static func foldInputShift(_ shift: [Float], into tensors: inout [String: Safetensors.Tensor])
}

extension SparseArchitecture {
    static var name: String { architecture.rawValue }
    static var settingsType: (any ArchitectureSettings.Type)? { nil }
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] { [] }
    static func validate(_ config: AutoencoderConfig) throws {}
    static func objectiveText(_ config: AutoencoderConfig) -> String? { nil }
    static func summaryDetails(_ config: AutoencoderConfig) -> [String] { [] }
    static var sweep: ArchitectureSweep? { nil }
    static func local(_ config: inout AutoencoderConfig, of shard: LatentShard) {}
    static func imported(_ config: inout AutoencoderConfig) {}
    static func foldInputShift(_ shift: [Float], into tensors: inout [String: Safetensors.Tensor]) {}
}

/// What the rest of sae asks of an architecture instead of naming it.
struct ArchitectureTraits {
    /// Takes k, the latents a sample keeps (on average over a batch).
    var takesK = false
    /// Has terms over the whole batch (a batch-wide selection, or JumpReLU's mean L0): under MPI
    /// every rank takes part in them at every step, rows or not.
    var isBatchWide = false
    /// Encodes at inference with one threshold for every latent (saved as SAELens saves its own
    /// BatchTopK SAEs: a JumpReLU).
    var hasSharedThreshold = false
    /// Adds a sparsity penalty to the reconstruction loss (JumpReLU's L0, Gated's L1), rather
    /// than being sparse by selection.
    var hasSparsityPenalty = false
    /// Trains with its latents split over MPI ranks (`--shard-latents`, `LatentShard`).
    var shardsLatents = false
    /// Clips the gradient by default as dictionary_learning does (`defaultMaxGradientNorm`):
    /// JumpReLU's thresholds and Gated's gates learn from gradients that are large while the code
    /// is dense and small later, which Adam's memory of the large ones slows down.
    var clipsGradient = false
    /// SAELens's name for it, and for its encoder's bias.
    var saelensArchitecture = "jumprelu"
    var saelensEncoderBias = "b_enc"
}

/// The registry: one line per architecture.
enum Architectures {
    static let all: [any SparseArchitecture.Type] = [TopK.self, BatchTopK.self, JumpReLU.self, Matryoshka.self, Gated.self]

    /// The architecture a config asks for (a dictionary with a topk code is TopK), nil for the
    /// dense path (the tutorial's models, relu dictionaries).
    static func type(for config: AutoencoderConfig) -> (any SparseArchitecture.Type)? {
        if config.architecture == .dictionary { return config.codeActivation == .topk ? TopK.self : nil }
        return all.first { $0.architecture == config.architecture }
    }

    /// The architecture of this name (`SparseArchitecture.name`: "topk" is TopK).
    static func named(_ name: String) -> (any SparseArchitecture.Type)? { all.first { $0.name == name } }

    static func make(for config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) -> CodeSelection? {
        type(for: config).map { $0.init(config: config, tensors: tensors) }
    }

    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] {
        type(for: config)?.tensors(for: config) ?? []
    }

    /// The config's settings belong to its architecture (another's are refused by their option),
    /// and the architecture's own checks pass.
    static func validate(_ config: AutoencoderConfig) throws {
        let type = type(for: config)
        if let settings = config.settings, Swift.type(of: settings) != type?.settingsType {
            let owner = all.first { $0.settingsType == Swift.type(of: settings) }.map { $0.architecture.rawValue } ?? "another"
            throw SAEError.badSetting(Swift.type(of: settings).option, "only a \(owner) SAE takes it (use --architecture \(owner))")
        }
        if config.architecture != .dictionary { try type?.validate(config) }
    }
}

extension AutoencoderConfig.Architecture {
    /// Chooses its code with a selection of its own (relu'd pre-activations), not a code activation.
    public var selectsItsCode: Bool { self != .mirrored && self != .dictionary }
    /// (A dictionary's are the standard SAE's; with a topk code it is TopK, which the export names.)
    var traits: ArchitectureTraits {
        guard selectsItsCode, let type = Architectures.all.first(where: { $0.architecture == self }) else {
            return ArchitectureTraits(saelensArchitecture: "standard")
        }
        return type.traits
    }
    public var takesK: Bool { traits.takesK }
    public var isBatchWide: Bool { traits.isBatchWide }
    var hasSharedThreshold: Bool { traits.hasSharedThreshold }
    var saelensArchitecture: String { traits.saelensArchitecture }
    var saelensEncoderBias: String { traits.saelensEncoderBias }
}

extension AutoencoderConfig {
    /// Whether training adds a sparsity term to the reconstruction loss (an activity penalty,
    /// JumpReLU's L0, Gated's L1); a TopK or BatchTopK code is sparse by selection instead.
    package var hasSparsityPenalty: Bool { penalty != .none || architecture.traits.hasSparsityPenalty }

    /// The gradient-norm limit training uses unless told otherwise (`--max-grad-norm`): for an
    /// architecture that `clipsGradient`, dictionary_learning's clipping at 1.0 on its loss, which
    /// sums over the d output features where sae's averages: 1 / d; nil (none) for the others.
    package var defaultMaxGradientNorm: Float? {
        architecture.traits.clipsGradient ? 1 / Float(targetSize) : nil
    }

    /// The name sae gives this model's kind: "topk", "standard" (a relu dictionary), an
    /// architecture's ("batchtopk", ...), or "mirrored".
    package var architectureName: String {
        Architectures.type(for: self)?.name ?? (architecture == .dictionary ? "standard" : architecture.rawValue)
    }

    /// The names `sae sweep --architecture` takes: every architecture of the sparse step, and the
    /// standard (L1) dictionary.
    package static var sweptArchitectures: [String] {
        Architectures.all.filter { $0.sweep != nil }.map { $0.name } + ["standard"]
    }

    /// How `sae sweep` varies the architecture of this name (nil for "standard" and unknown names).
    package static func sweep(of name: String) -> ArchitectureSweep? { Architectures.named(name)?.sweep }

    /// The architecture of this `sae sweep` name, and a dictionary config of it.
    package static func dictionary(named name: String, inputSize: Int, codeSize: Int) -> AutoencoderConfig {
        var config = AutoencoderConfig.dictionary(inputSize: inputSize, codeSize: codeSize)
        if let type = Architectures.named(name), type.architecture != .dictionary { config.architecture = type.architecture }
        return config
    }
}
