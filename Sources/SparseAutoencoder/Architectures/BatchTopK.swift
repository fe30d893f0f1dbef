import CKernels

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
    static let traits = ArchitectureTraits(takesK: true, isBatchWide: true, hasSharedThreshold: true)
    static let tensors = [ArchitectureTensor(name: "threshold", shape: [1], trainable: false, initial: -1)]
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] { tensors }
    /// dictionary_learning's defaults.
    static let thresholdStartStep = 1_000, thresholdBeta: Float = 0.999

    let k: Int, codeSize: Int
    /// θ, in the model's parameters (so that it is saved, loaded and checkpointed with them).
    let threshold: UnsafeMutablePointer<Float>
    /// Per pool part: its counts in 32,768 buckets of the values' top 16 bits; then their sums.
    private var histograms: [UInt32]
    /// The values of the bucket where the count crosses k·B, with their positions, per part.
    private var bucketValues: [Float] = [], bucketPositions: [Int] = [], scratch: [Float] = []
    private var tiePositions: [Int] = []
    private var partCounts: [Int]
    private static let buckets = 1 << 15

    init(k: Int, codeSize: Int, threshold: UnsafeMutablePointer<Float>) {
        (self.k, self.codeSize, self.threshold) = (k, codeSize, threshold)
        let parts = WorkerPool.shared.parts
        histograms = [UInt32](repeating: 0, count: parts * Self.buckets)
        partCounts = [Int](repeating: 0, count: parts + 1)
    }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(k: config.topK ?? config.codeSize, codeSize: config.codeSize, threshold: tensors!)
    }

    func trainingPairs(rows: Int) -> Int { rows * k }

    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool) {
        if training || threshold.pointee < 0 {
            let (cut, ties) = batchThreshold(s, bias: bias, rows: b, keep: min(k * b, b * codeSize))
            emit(s, bias: bias, rows: b, threshold: cut, ties: ties)
        } else {
            emit(s, bias: bias, rows: b, threshold: threshold.pointee, ties: 0)
        }
    }

    /// After a training step: θ follows the smallest value the batch kept (the pairs' minimum).
    func trained(on s: SparseBuffers, rows b: Int, step: Int) {
        guard step > Self.thresholdStartStep, s.mainPairs > 0 else { return }
        var smallest = Float.infinity
        for q in 0..<s.mainPairs where s.values[q] > 0 { smallest = min(smallest, s.values[q]) }
        if smallest == .infinity { smallest = 0 }
        let t = threshold.pointee
        threshold.pointee = t < 0 ? smallest : Self.thresholdBeta * t + (1 - Self.thresholdBeta) * smallest
    }

    // MARK: - The batch's k·B-th largest value

    /// The value v* such that the `keep` largest positive values are those above v* and the first
    /// `ties` values equal to v* (their positions left in `tiePositions`). With fewer positive
    /// values than `keep`, all of them: (0, 0).
    private func batchThreshold(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, keep: Int) -> (Float, Int) {
        let c = codeSize, n = Self.buckets, parts = WorkerPool.shared.parts
        // Count the positive values by bucket, part by part (a part the split leaves idle counts none).
        histograms.withUnsafeMutableBufferPointer { h in
            let base = h.baseAddress!
            base.update(repeating: 0, count: parts * n)
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
                sae_batch_histogram(s.pre + rows.lowerBound * c, bias, rows.count, c, base + part * n)
            }
        }
        // The bucket where the count from the top reaches `keep`.
        var above = 0, bucket = -1
        histograms.withUnsafeBufferPointer { h in
            var j = n - 1
            while j >= 0 {
                var count = 0
                for part in 0..<parts { count += Int(h[part * n + j]) }
                if above + count >= keep { bucket = j; break }
                above += count
                j -= 1
            }
        }
        guard bucket >= 0 else { return (0, 0) }
        // Its values, in batch order (each part's rows after the previous part's, as the same split
        // hands out the same rows), then the (keep - above)-th largest of them.
        var total = 0
        for part in 0..<parts {
            partCounts[part] = total
            total += Int(histograms[part * n + bucket])
        }
        partCounts[parts] = total
        if bucketValues.count < total {
            bucketValues = [Float](repeating: 0, count: total)
            bucketPositions = [Int](repeating: 0, count: total)
            scratch = [Float](repeating: 0, count: total)
        }
        bucketValues.withUnsafeMutableBufferPointer { values in
            bucketPositions.withUnsafeMutableBufferPointer { positions in
                partCounts.withUnsafeBufferPointer { starts in
                    WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
                        _ = sae_batch_bucket_values(s.pre + rows.lowerBound * c, bias, rows.count, c, UInt32(bucket), rows.lowerBound,
                                                    values.baseAddress! + starts[part], positions.baseAddress! + starts[part])
                    }
                }
            }
        }
        let need = keep - above
        for i in 0..<total { scratch[i] = bucketValues[i] }
        let cut = scratch.withUnsafeMutableBufferPointer { kthLargest($0.baseAddress!, count: total, rank: need) }
        var strictlyAbove = 0
        for i in 0..<total where bucketValues[i] > cut { strictlyAbove += 1 }
        tiePositions.removeAll(keepingCapacity: true)
        for i in 0..<total where bucketValues[i] == cut && tiePositions.count < need - strictlyAbove {
            tiePositions.append(bucketPositions[i])
        }
        return (cut, tiePositions.count)
    }

    /// The `rank`-th largest (1-based) of `count` values, reordering them (quickselect).
    private func kthLargest(_ v: UnsafeMutablePointer<Float>, count: Int, rank: Int) -> Float {
        var (lo, hi) = (0, count - 1)
        let target = rank - 1
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var (i, j) = (lo, hi)
            while i <= j {
                while v[i] > pivot { i += 1 }
                while v[j] < pivot { j -= 1 }
                if i <= j { (v[i], v[j]) = (v[j], v[i]); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { break }
        }
        return v[target]
    }

    // MARK: - Pairs

    /// The pairs of every value above `threshold` and the `ties` chosen ties, row by row: counted,
    /// laid out, then written (growing the pair arrays if an inference threshold keeps more).
    private func emit(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, threshold: Float, ties: Int) {
        let c = codeSize
        let counts = s.rowOffsets + 1   // row r's count lands in rowOffsets[r + 1], then the prefix sum
        tiePositions.withUnsafeBufferPointer { tp in
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                let (first, n) = Self.ties(tp, count: ties, from: rows.lowerBound * c, to: rows.upperBound * c)
                _ = sae_batch_count(s.pre + rows.lowerBound * c, bias, rows.count, c, threshold, n, tp.baseAddress.map { $0 + first },
                                    rows.lowerBound, counts + rows.lowerBound)
            }
        }
        s.rowOffsets[0] = 0
        for r in 0..<b { s.rowOffsets[r + 1] += s.rowOffsets[r] }
        let total = Int(s.rowOffsets[b])
        s.reservePairs(total)
        (s.mainPairs, s.auxPairs) = (total, 0)
        tiePositions.withUnsafeBufferPointer { tp in
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                let (first, n) = Self.ties(tp, count: ties, from: rows.lowerBound * c, to: rows.upperBound * c)
                sae_batch_fill(s.pre + rows.lowerBound * c, bias, rows.count, c, threshold, n, tp.baseAddress.map { $0 + first },
                               rows.lowerBound, s.rowOffsets + rows.lowerBound, s.values, s.latents, s.samples)
            }
        }
    }

    /// The chosen ties whose positions fall in lo..<hi: (first index, count).
    private static func ties(_ tp: UnsafeBufferPointer<Int>, count: Int, from lo: Int, to hi: Int) -> (Int, Int) {
        var first = 0
        while first < count && tp[first] < lo { first += 1 }
        var last = first
        while last < count && tp[last] < hi { last += 1 }
        return (first, last - first)
    }
}
