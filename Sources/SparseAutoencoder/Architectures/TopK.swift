import CKernels

/// TopK (Gao et al. 2024; sparsify's): each sample keeps its k largest relu(pre + b_enc), in
/// training and at inference alike; ties keep the earliest latents.
final class TopK: SparseArchitecture {
    /// A dictionary with `--code-activation topk` (what --k gives a dictionary).
    static let architecture = AutoencoderConfig.Architecture.dictionary
    static let name = "topk"
    static let traits = ArchitectureTraits(shardsLatents: true, saelensArchitecture: "topk")
    static let help = "each sample keeps its k largest latents: --architecture dictionary --k"
    static let sweep: ArchitectureSweep? = ArchitectureSweep(list: "k", label: "k") { config, value, _ in
        (config.codeActivation, config.topK) = (.topk, Int(value))
    }

    let k: Int, codeSize: Int

    init(k: Int, codeSize: Int) { (self.k, self.codeSize) = (k, codeSize) }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(k: config.topK ?? config.codeSize, codeSize: config.codeSize)
    }

    func trainingPairs(rows: Int) -> Int { rows * k }

    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        let (c, k) = (codeSize, self.k), scratch = SparseBuffers.selectionScratchSize(codeSize: c)
        sae_uniform_rows(b, k, 0, s.rowOffsets, s.samples)
        (s.mainPairs, s.auxPairs) = (b * k, 0)
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
            let (values, latents) = (s.values + rows.lowerBound * k, s.latents + rows.lowerBound * k)
            sae_topk_select(s.pre + rows.lowerBound * c, bias, rows.count, c, k, values, latents, s.selectionScratch + part * scratch)
        }
    }
}
