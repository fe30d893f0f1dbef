import CKernels

extension AutoencoderConfig.Architecture {
    /// A dictionary whose batch keeps k latents per sample on average (`BatchTopK`).
    public static let batchtopk = Self(named: "batchtopk")
}

/// BatchTopK (Bussmann et al. 2024; dictionary_learning's `BatchTopKSAE`): a training batch of B
/// samples keeps its k·B largest relu(pre + b_enc) over all samples and latents together, so a
/// sample holds as many latents as it needs and the batch k on average (ties keep the earliest in
/// sample-then-latent order). At inference a sample is encoded on its own, by a threshold θ:
/// z = relu(pre + b_enc) where it exceeds θ. θ is a running average of the smallest value each
/// training batch kept, as dictionary_learning keeps it: from training step 1,001 on (0-based step
/// > 1,000), θ = 0.999 θ + 0.001 min (the first time: min itself). θ is stored with the weights
/// (`threshold`, shape [1]; -1 until set); before it is set, inference selects as training does.
///
///     sae train --data-npy acts.npy --architecture batchtopk --k 32 --auxk 256 --code 4096
final class BatchTopK: SparseArchitecture {
    static let architecture = AutoencoderConfig.Architecture.batchtopk
    static let traits = ArchitectureTraits(takesK: true, isBatchWide: true, hasSharedThreshold: true, shardsLatents: true)
    static let help = "a dictionary whose batch keeps its k x batch-size largest latents; at inference a threshold"
    static let sweep: ArchitectureSweep? = ArchitectureSweep(list: "k", label: "k") { config, value, _ in config.topK = Int(value) }
    static let tensors = [ArchitectureTensor(name: "threshold", shape: [1], trainable: false, initial: -1)]
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] { tensors }
    /// dictionary_learning's defaults.
    static let thresholdStartStep = 1_000, thresholdBeta: Float = 0.999

    let k: Int, codeSize: Int
    /// θ, in the model's parameters (so that it is saved, loaded and checkpointed with them).
    let threshold: UnsafeMutablePointer<Float>
    /// Per pool part: its counts of the values by their top 16 bits, then (in the bucket where the
    /// count crosses k·B) by their low 16 bits; and their sums over the parts (and ranks).
    private var high: [UInt32], low: [UInt32], totals: [Double]
    /// Per pool part: how many of the values equal to the cut it keeps.
    private var tieQuota: [Int]
    private static let highBuckets = 1 << 15, lowBuckets = 1 << 16

    init(k: Int, codeSize: Int, threshold: UnsafeMutablePointer<Float>) {
        (self.k, self.codeSize, self.threshold) = (k, codeSize, threshold)
        let parts = WorkerPool.shared.parts
        high = [UInt32](repeating: 0, count: parts * Self.highBuckets)
        low = [UInt32](repeating: 0, count: parts * Self.lowBuckets)
        totals = [Double](repeating: 0, count: Self.lowBuckets)
        tieQuota = [Int](repeating: 0, count: parts)
    }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(k: config.topK ?? config.codeSize, codeSize: config.codeSize, threshold: tensors!)
    }

    func trainingPairs(rows: Int) -> Int { rows * k }

    /// Training (and inference before θ is set): the batch's k·B largest values, over every rank's
    /// rows under MPI (`ranks`). Inference: the values above θ.
    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        if training || threshold.pointee < 0 {
            var batch = Double(b)
            if ranks?.splitsRows == true { ranks?.sum(&batch, 1) }
            let keep = min(k * Int(batch), Int(batch) * codeSize)
            let cut = batchCut(s, bias: bias, rows: b, keep: keep, ranks: ranks)
            emit(s, bias: bias, rows: b, threshold: cut, quota: true)
        } else {
            emit(s, bias: bias, rows: b, threshold: threshold.pointee, quota: false)
        }
    }

    /// After a training step: θ follows the smallest value the batch kept (over every rank's).
    func trained(on s: SparseBuffers, rows b: Int, step: Int, ranks: RankCollectives?) {
        guard step > Self.thresholdStartStep else { return }
        var smallest = Float.infinity
        for q in 0..<s.mainPairs where s.values[q] > 0 { smallest = min(smallest, s.values[q]) }
        if let ranks { smallest = ranks.minimum(smallest) }
        if smallest == .infinity { smallest = 0 }
        let t = threshold.pointee
        threshold.pointee = t < 0 ? smallest : Self.thresholdBeta * t + (1 - Self.thresholdBeta) * smallest
    }

    // MARK: - The batch's k·B-th largest value

    /// The cut v* such that the `keep` largest positive values are those above v* and the first
    /// values equal to v* (in row order, ranks in order): leaves each part's share of those in
    /// `tieQuota`. With fewer positive values than `keep`, all of them: 0, no ties.
    private func batchCut(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, keep: Int, ranks: RankCollectives?) -> Float {
        let c = codeSize, parts = WorkerPool.shared.parts, (nh, nl) = (Self.highBuckets, Self.lowBuckets)
        for part in 0..<parts { tieQuota[part] = 0 }
        // The top 16 bits: the bucket where the count from the top reaches `keep`.
        count(&high, buckets: nh, rows: b) { part, r0, n, out in sae_batch_histogram(s.pre + r0 * c, bias, n, c, out) }
        let (bucket, aboveHigh) = crossing(high, buckets: nh, keep: keep, ranks: ranks)
        guard bucket >= 0 else { return 0 }
        // Its low 16 bits: the value itself.
        count(&low, buckets: nl, rows: b) { part, r0, n, out in sae_batch_histogram_low(s.pre + r0 * c, bias, n, c, UInt32(bucket), out) }
        let (lowBits, aboveLow) = crossing(low, buckets: nl, keep: keep - aboveHigh, ranks: ranks)
        let cut = Float(bitPattern: UInt32(bucket) << 16 | UInt32(lowBits))
        // The ties kept: the first (keep - above) values equal to the cut, part by part, after
        // those of the ranks before this one.
        var ties = Double(keep - aboveHigh - aboveLow)
        var mine = 0.0
        for part in 0..<parts { mine += Double(low[part * nl + lowBits]) }
        if let ranks { ties = max(0, ties - ranks.sumBefore(mine)) }
        for part in 0..<parts {
            let here = Double(low[part * nl + lowBits]), taken = min(here, ties)
            tieQuota[part] = Int(taken)
            ties -= taken
        }
        return cut
    }

    /// Each part's counts into its slice of `histogram` (zeroed first: a part the split leaves
    /// idle counts none).
    private func count(_ histogram: inout [UInt32], buckets: Int, rows b: Int,
                       _ body: (Int, Int, Int, UnsafeMutablePointer<UInt32>) -> Void) {
        histogram.withUnsafeMutableBufferPointer { h in
            let base = h.baseAddress!
            base.update(repeating: 0, count: h.count)
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
                body(part, rows.lowerBound, rows.count, base + part * buckets)
            }
        }
    }

    /// The bucket where the count from the top (summed over the parts and ranks) reaches `keep`,
    /// and the count above it; (-1, all) if it never does.
    private func crossing(_ histogram: [UInt32], buckets n: Int, keep: Int, ranks: RankCollectives?) -> (Int, Int) {
        totals.withUnsafeMutableBufferPointer { t in
            sae_histogram_totals(histogram, WorkerPool.shared.parts, n, t.baseAddress!)
            ranks?.sum(t.baseAddress!, n)
            var above = 0
            let bucket = sae_histogram_crossing(t.baseAddress!, n, keep, &above)
            return (bucket, above)
        }
    }

    // MARK: - Pairs

    /// The pairs of every value above `threshold` and, with `quota`, the ties each part keeps:
    /// counted row by row, laid out, then written (growing the pair arrays if an inference
    /// threshold keeps more than training's k·B).
    private func emit(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, threshold: Float, quota: Bool) {
        let c = codeSize
        let counts = s.rowOffsets + 1   // row r's count lands in rowOffsets[r + 1], then the prefix sum
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
            _ = sae_batch_count(s.pre + rows.lowerBound * c, bias, rows.count, c, threshold, quota ? tieQuota[part] : 0,
                                counts + rows.lowerBound)
        }
        s.rowOffsets[0] = 0
        for r in 0..<b { s.rowOffsets[r + 1] += s.rowOffsets[r] }
        let total = Int(s.rowOffsets[b])
        s.reservePairs(total)
        (s.mainPairs, s.auxPairs) = (total, 0)
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
            sae_batch_fill(s.pre + rows.lowerBound * c, bias, rows.count, c, threshold, quota ? tieQuota[part] : 0, rows.lowerBound,
                           s.rowOffsets + rows.lowerBound, s.values, s.latents, s.samples)
        }
    }
}
