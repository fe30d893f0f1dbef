import CKernels

extension AutoencoderConfig.Architecture {
    /// A batchtopk dictionary whose nested groups of latents each reconstruct (`Matryoshka`).
    public static let matryoshka = Self(named: "matryoshka")
}

extension AutoencoderConfig {
    /// A matryoshka dictionary's nested groups: their sizes, first to last, summing to codeSize
    /// (nil in any other config).
    public var groups: [Int]? {
        get { (settings as? MatryoshkaGroups)?.sizes }
        set { if let newValue { settings = MatryoshkaGroups(sizes: newValue) } else if settings is MatryoshkaGroups { settings = nil } }
    }
}

/// Matryoshka's setting: its groups' sizes (config.json: `groups`, a list).
public struct MatryoshkaGroups: ArchitectureSettings {
    public static let key = "groups", option = "--groups"
    public var sizes: [Int]

    public init(sizes: [Int]) { self.sizes = sizes }
    public init(from decoder: Decoder) throws { sizes = try decoder.singleValueContainer().decode([Int].self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(sizes)
    }

    /// Sizes from fractions of `code` adding up to 1, the last group taking what rounding leaves.
    public static func sizes(fractions: [Double], code: Int) -> [Int] {
        var sizes = fractions.dropLast().map { Int($0 * Double(code)) }
        sizes.append(code - sizes.reduce(0, +))
        return sizes
    }
}

/// Matryoshka BatchTopK (Bussmann et al. 2025; dictionary_learning's `MatryoshkaBatchTopKSAE`,
/// SAELens's `matryoshka_batchtopk`): the latents come in nested groups, and every prefix of
/// groups (the first, the first two, ..., all) must reconstruct x on its own, so the first latents
/// learn the broad features and later ones refine them. The code is BatchTopK's over all latents
/// (its threshold at inference, saved and exported the same way).
///
/// The objective is the sum of the prefixes' losses: the whole model's reconstruction (what sae
/// reports as the reconstruction term) plus the smaller prefixes' (the penalty term), each a
/// mean over B·d as sae's reconstruction is. SAELens sums them so; dictionary_learning averages
/// them with weights 1/G (its objective is sae's divided by G², and by d: the same minimum).
/// A latent of group g feels every prefix from g on: its output gradient is
/// H_g = G_all + sum over g <= i < last of G_i, one (B, d) block per group.
///
///     sae train --data-npy acts.npy --architecture matryoshka --k 32 --groups 0.0625,0.125,0.25,0.5625 --code 4096
final class Matryoshka: SparseArchitecture {
    static let architecture = AutoencoderConfig.Architecture.matryoshka
    static let traits = BatchTopK.traits
    static let help = "batchtopk whose nested groups of latents each reconstruct: --groups"
    static let settingsType: (any ArchitectureSettings.Type)? = MatryoshkaGroups.self
    /// `sae sweep --k`, its groups the sweep's `groups` fractions.
    static let sweep: ArchitectureSweep? = ArchitectureSweep(list: "k", label: "k") { config, value, lists in
        config.topK = Int(value)
        if let fractions = lists["groups"] { config.groups = MatryoshkaGroups.sizes(fractions: fractions, code: config.codeSize) }
    }

    static func summaryDetails(_ config: AutoencoderConfig) -> [String] {
        config.groups.map { ["groups \($0.map(String.init).joined(separator: ","))"] } ?? []
    }

    /// A shard's own config holds one group of its latents; the selection it is cut to knows the
    /// whole dictionary's (`cut(to:)`).
    static func local(_ config: inout AutoencoderConfig, of shard: LatentShard) {
        if config.groups != nil { config.groups = [shard.latents.count] }
    }

    static func objectiveText(_ config: AutoencoderConfig) -> String? {
        config.groups.map { "the smaller prefixes' losses (groups \($0.map(String.init).joined(separator: ", ")))" }
    }

    static func validate(_ config: AutoencoderConfig) throws {
        guard let groups = config.groups, !groups.isEmpty, groups.allSatisfy({ $0 > 0 }), groups.reduce(0, { $0 &+ $1 }) == config.codeSize else {
            throw SAEError.badSetting("--groups", "a matryoshka SAE needs group sizes > 0 that add up to the code size (\(config.codeSize)), got \(config.groups.map { "\($0)" } ?? "none")")
        }
    }
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] { BatchTopK.tensors }

    let batchTopK: BatchTopK
    /// Each group's end (cumulative sizes): group g is latents ends[g - 1] ..< ends[g].
    let ends: [CInt]
    /// Per latent, its block of output gradients: 0 for the last group (dL/dx^ itself), g + 1 for
    /// group g before it.
    private let blocks: UnsafeMutablePointer<CInt>
    /// The prefixes' reconstructions, groups 0 ..< G - 1: (G - 1) blocks of (b, d) for the last
    /// decode's b rows.
    private var prefixes: [Float] = []
    private var prefixRows = 0

    init(k: Int, groupSizes: [Int], codeSize: Int, threshold: UnsafeMutablePointer<Float>) {
        batchTopK = BatchTopK(k: k, codeSize: codeSize, threshold: threshold)
        var ends: [CInt] = [], total = 0
        for size in groupSizes { total += size; ends.append(CInt(total)) }
        self.ends = ends
        blocks = .allocate(capacity: codeSize)
        var g = 0
        for j in 0..<codeSize {
            while j >= Int(ends[g]) { g += 1 }
            blocks[j] = g == ends.count - 1 ? 0 : CInt(g + 1)
        }
    }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(k: config.topK ?? config.codeSize, groupSizes: config.groups ?? [config.codeSize], codeSize: config.codeSize, threshold: tensors!)
    }

    deinit { blocks.deallocate() }

    var groups: Int { ends.count }
    var gradientBlocks: Int { groups }
    var latentBlocks: UnsafePointer<CInt>? { UnsafePointer(blocks) }

    func trainingPairs(rows: Int) -> Int { batchTopK.trainingPairs(rows: rows) }

    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        batchTopK.select(s, bias: bias, rows: b, training: training, ranks: ranks)
    }

    func trained(on s: SparseBuffers, rows b: Int, step: Int, ranks: RankCollectives?) {
        batchTopK.trained(on: s, rows: b, step: step, ranks: ranks)
    }

    /// x^ and the smaller prefixes' reconstructions in one pass over each row's pairs (in latent order).
    func decode(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputSize d: Int,
                into out: UnsafeMutablePointer<Float>) {
        if prefixRows < b || prefixes.isEmpty {
            prefixes = [Float](repeating: 0, count: max(groups - 1, 1) * s.rows * d)
            prefixRows = s.rows
        }
        prefixes.withUnsafeMutableBufferPointer { p in
            ends.withUnsafeBufferPointer { e in
                WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                    let r0 = rows.lowerBound
                    sae_sparse_decode_prefixes(s.values, s.latents, s.rowOffsets + r0, rows.count, w, bias, d, e.baseAddress!, groups,
                                               p.baseAddress! + r0 * d, b * d, out + r0 * d)
                }
            }
        }
    }

    /// The smaller prefixes' losses; with the gradient, each group's block H_g (block 0, dL/dx^,
    /// is already there).
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double {
        let d = context.outputSize, scale = 1 / Float(context.lossBatch * d), n = b * d
        var total = 0.0
        prefixes.withUnsafeBufferPointer { p in
            for g in 0..<(groups - 1) {
                let gradient = context.keepingGradient ? s.outputGradients + (g + 1) * n : nil
                total += ReconstructionLoss.mse.evaluate(logits: p.baseAddress! + g * n, targets: context.target, rows: b, cols: d,
                                                         gradient: gradient, scale: scale, linear: true) * Double(scale)
            }
        }
        guard context.keepingGradient else { return total }
        // Suffix sums: H_(G-2) = G_all + G_(G-2), ..., H_0 = H_1 + G_0 (block g + 1 holds group g's).
        for g in stride(from: groups - 2, through: 0, by: -1) {
            let (mine, next) = (s.outputGradients + (g + 1) * n, s.outputGradients + (g == groups - 2 ? 0 : g + 2) * n)
            for i in 0..<n { mine[i] += next[i] }
        }
        return total
    }

    /// b_dec is in every prefix: its gradient gains the column sums of the smaller prefixes'
    /// gradients, H_0 - G_all (on one rank of a latent-sharded step, where all have them alike).
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>) {
        guard groups > 1, context.addsOutputBiasGradient else { return }
        let d = context.outputSize, (h0, all) = (s.outputGradients + b * d, s.outputGradients), bDec = g + context.decoderBiasOffset
        for r in 0..<b { for i in 0..<d { bDec[i] += h0[r * d + i] - all[r * d + i] } }
    }
}

extension Matryoshka {
    /// The smaller prefixes' reconstructions of the last decode of `b` rows: (G - 1) blocks of (b, d).
    func withPartialReconstructions(rows b: Int, outputSize d: Int, _ body: (UnsafeMutablePointer<Float>, Int) -> Void) {
        guard groups > 1 else { return }
        prefixes.withUnsafeMutableBufferPointer { body($0.baseAddress!, (groups - 1) * b * d) }
    }

    /// A shard's part of every group (none of a group on other ranks), so that each latent keeps
    /// its group's gradient block.
    func cut(to shard: LatentShard) -> CodeSelection {
        var start = 0
        let sizes = (shard.full.groups ?? [shard.full.codeSize]).map { size in
            defer { start += size }
            return max(0, min(start + size, shard.latents.upperBound) - max(start, shard.latents.lowerBound))
        }
        return Matryoshka(k: batchTopK.k, groupSizes: sizes, codeSize: shard.latents.count, threshold: batchTopK.threshold)
    }
}
