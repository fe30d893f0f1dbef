import CKernels
import Foundation

/// A code selection with the dictionary's latents split over MPI ranks (`LatentShard`): this
/// rank's model holds its c / N latents and sees the whole batch. Each selection is one process's.
///
/// TopK's, per sample:
///
///     mine   = topk(relu(pre + b_enc)) over my latents     (B, k)  candidates (value, latent)
///     all    = all-gather(mine)                            (N, B, k)  8 bytes a candidate
///     winners = per row, the k largest positive of all      ties: the earliest latent, as TopK's
///     pairs  = my winners                                   any number per row (k in all)
///     x^     = all-reduce(sum of my pairs' W_dec rows) + b_dec     (B, d)
///
/// A latent outside a row's global top k cannot be in any rank's own top k ahead of one inside it,
/// so the winners are exactly one process's (a value 0 adds nothing and gets no gradient, so zero
/// candidates are dropped). AuxK does the same among the dead latents (their total over the ranks
/// decides whether it runs, and its k).
///
/// BatchTopK's, over the batch: its selection already counts its values over the ranks (the
/// histograms of its cut, summed as a data-parallel run sums them), so each rank's own pairs are
/// its share of the batch's k B; its threshold (inference) is the same on every rank.
///
/// Matryoshka's, BatchTopK's with nested groups: this rank's part of every group (possibly none of
/// some) keeps its group's gradient block; the prefixes' reconstructions are summed as x^ is
/// ((G - 1) more B x d blocks).
///
/// After the exchanges every rank holds the same x^, loss and dL/dx^, and back-propagates through
/// its own pairs only: its latents' gradients, and its share of b_dec's, which the trainer sums
/// over the ranks (d floats). Communication per step: (N - 1) B (k + min(k_aux, c / N rounded
/// up)) candidates received (BatchTopK: two histograms of 2^15 and 2^16 counts instead of the
/// main candidates), two all-reduces of B x d floats (one without AuxK; Matryoshka: G - 1 more),
/// and one of a count: nothing grows with the number of latents.
final class ShardedSelection: CodeSelection {
    /// A candidate as the ranks exchange it: its relu'd value and its latent in the whole dictionary.
    struct Candidate {
        var value: Float
        var latent: Int32
    }

    /// The selection among this rank's latents (the local config's).
    let local: CodeSelection
    /// Whether it selects over the whole batch (BatchTopK): its counts are summed over the ranks.
    let batchWide: Bool
    /// The sums a batch-wide selection takes over the ranks, which hold the same rows.
    private var collectives: RankCollectives!
    let shard: LatentShard
    let communicator: Communicator
    /// The whole dictionary's k and AuxK k (the local config caps AuxK's at the shard's latents).
    let k: Int, auxK: Int
    /// The first failed exchange (a step cannot throw; the trainer checks after each step).
    private(set) var failure: Error?
    /// Seconds spent in the exchanges since the trainer last took them (`takeCommunicationSeconds`).
    private var communicationSeconds = 0.0
    /// Candidates sent (B x max(k, k_aux)), gathered (N times that), and each row's winners of
    /// this rank (B x max(k, k_aux)) with their count; per pool part, a row's candidates to rank.
    private var sent, gathered, mine, ranking: UnsafeMutablePointer<Candidate>
    private var winners: UnsafeMutablePointer<CInt>
    private var capacity = 0
    /// A bias of zeros for the partial decodes.
    private var zeros: [Float] = []

    init(local: CodeSelection, shard: LatentShard, communicator: Communicator) {
        (self.local, self.shard, self.communicator) = (local, shard, communicator)
        (k, auxK) = (shard.full.topK ?? shard.full.codeSize, shard.full.auxK?.k ?? 0)
        batchWide = shard.full.architecture.isBatchWide
        (sent, gathered, mine, ranking) = (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        winners = .allocate(capacity: 1)
        collectives = RankCollectives(
            sum: { [unowned self] buffer, count in timed { try communicator.allReduce(buffer, count: count) } },
            sumBefore: { [unowned self] value in
                var before = 0.0
                timed { before = try communicator.sumBefore(value) }
                return before
            },
            minimum: { [unowned self] value in
                var v = value
                timed { try communicator.allReduce(&v, count: 1, .min) }
                return v
            },
            splitsRows: false)
    }

    deinit { deallocate() }

    private func deallocate() {
        for buffer in [sent, gathered, mine, ranking] { buffer.deallocate() }
        winners.deallocate()
    }

    /// Buffers for `rows` rows: allocated once for the largest batch (the first step's).
    private func reserve(rows: Int) {
        guard rows > capacity else { return }
        deallocate()
        let width = max(k, min(auxK, largestShard), 1), ranks = shard.ranks
        (sent, mine) = (.allocate(capacity: rows * width), .allocate(capacity: rows * width))
        gathered = .allocate(capacity: ranks * rows * width)
        ranking = .allocate(capacity: WorkerPool.shared.parts * ranks * width)
        winners = .allocate(capacity: rows + 1)
        capacity = rows
    }

    /// The latents of the largest shard (rank 0's): no rank sends more AuxK candidates a row.
    private var largestShard: Int { Communicator.slice(of: shard.full.codeSize, rank: 0, size: shard.ranks).count }

    /// Seconds in the exchanges since the last call.
    func takeCommunicationSeconds() -> Double {
        defer { communicationSeconds = 0 }
        return communicationSeconds
    }

    func trainingPairs(rows: Int) -> Int { local.trainingPairs(rows: rows) }

    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        guard !batchWide else {
            // The batch's selection, counted over the ranks (in training and at inference alike).
            return local.select(s, bias: bias, rows: b, training: training, ranks: collectives)
        }
        local.select(s, bias: bias, rows: b, training: training, ranks: nil)   // k per row, among my latents
        s.mainPairs = exchange(s, rows: b, width: k, keep: k, localWidth: s.mainPairs / max(b, 1), firstPair: 0, rowOffsets: s.rowOffsets)
        s.auxPairs = 0
    }

    func trained(on s: SparseBuffers, rows b: Int, step: Int, ranks: RankCollectives?) {
        local.trained(on: s, rows: b, step: step, ranks: collectives)
    }

    // The rest is the local selection's (its terms are computed alike on every rank).
    var gradientBlocks: Int { local.gradientBlocks }
    var latentBlocks: UnsafePointer<CInt>? { local.latentBlocks }
    var mayBeDense: Bool { local.mayBeDense }
    func weightGradients(_ pass: PairsPass) -> Bool { local.weightGradients(pass) }
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double { local.penalty(s, rows: b, context: context) }
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>) {
        local.addGradients(s, rows: b, context: context, gradients: g)
    }

    func decode(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputSize d: Int,
                into out: UnsafeMutablePointer<Float>) {
        // This rank's partial reconstructions (no bias), summed over the ranks, then b_dec.
        if zeros.count < d { zeros = [Float](repeating: 0, count: d) }
        zeros.withUnsafeBufferPointer { local.decode(s, rows: b, decoder: w, bias: $0.baseAddress!, outputSize: d, into: out) }
        sum(out, count: b * d)
        for r in 0..<b { for j in 0..<d { out[r * d + j] += bias[j] } }
        local.withPartialReconstructions(rows: b, outputSize: d) { prefixes, count in
            sum(prefixes, count: count)
            for q in 0..<(count / d) { for j in 0..<d { prefixes[q * d + j] += bias[j] } }
        }
    }

    func selectAuxiliary(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, dead: DeadLatents, k _: Int) -> Bool {
        // Whether any latent is dead anywhere, and how many: every rank decides alike.
        var total = Double(dead.count)
        timed { try communicator.allReduce(&total, count: 1) }
        guard total > 0 else { return false }
        let keep = min(auxK, Int(total)), mineHere = min(keep, dead.count), c = dead.codeSize, mainPairs = s.mainPairs
        // No rank sends more than its latents: the blocks are as wide as the largest shard (rank 0's).
        let width = min(keep, largestShard)
        if mineHere > 0 {
            let scratch = SparseBuffers.selectionScratchSize(codeSize: c)
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
                let r0 = rows.lowerBound
                sae_topk_select_among(s.pre + r0 * c, bias, rows.count, c, dead.indices, dead.count, mineHere,
                                      s.values + mainPairs + r0 * mineHere, s.latents + mainPairs + r0 * mineHere, s.selectionScratch + part * scratch)
            }
        }
        s.auxPairs = exchange(s, rows: b, width: width, keep: keep, localWidth: mineHere, firstPair: mainPairs, rowOffsets: s.auxRowOffsets)
        return true
    }

    func decodeAuxiliary(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, outputSize d: Int,
                         into out: UnsafeMutablePointer<Float>) {
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            sae_sparse_decode(s.values, s.latents, s.auxRowOffsets + rows.lowerBound, rows.count, w, nil, d, out + rows.lowerBound * d)
        }
        sum(out, count: b * d)
    }

    // MARK: - The exchange

    /// Rows 0..<b hold `localWidth` candidates each at pairs firstPair + r localWidth (values and
    /// this rank's latent indices): sends them (padded to `width`), gathers every rank's, and writes
    /// this rank's winners among each row's `keep` largest positive back as pairs from `firstPair`
    /// on (rows at `rowOffsets`, b + 1 entries). Returns how many.
    private func exchange(_ s: SparseBuffers, rows b: Int, width: Int, keep: Int, localWidth: Int, firstPair: Int,
                          rowOffsets: UnsafeMutablePointer<CInt>) -> Int {
        reserve(rows: b)
        let first = Int32(shard.latents.lowerBound), ranks = shard.ranks
        for r in 0..<b {
            for t in 0..<width {
                let q = firstPair + r * localWidth + t
                sent[r * width + t] = t < localWidth ? Candidate(value: s.values[q], latent: first + s.latents[q]) : Candidate(value: 0, latent: .max)
            }
        }
        timed { try communicator.allGather(sent, bytes: b * width * MemoryLayout<Candidate>.stride, into: gathered) }
        // Each row's winners: its candidates of every rank ranked by value (ties: the earliest latent).
        let (latents, mineOut, counts, ranking) = (shard.latents, mine, winners, ranking)
        let all = UnsafePointer(gathered)
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
            let row = UnsafeMutableBufferPointer(start: ranking + part * ranks * width, count: ranks * width)
            for r in rows {
                var n = 0
                for rank in 0..<ranks {
                    let from = all + (rank * b + r) * width
                    for t in 0..<width where from[t].value > 0 { row[n] = from[t]; n += 1 }
                }
                var kept = UnsafeMutableBufferPointer(rebasing: row[0..<n])
                kept.sort(by: Self.ranksAhead)
                var m = 0
                for candidate in kept.prefix(keep) where latents.contains(Int(candidate.latent)) {
                    mineOut[r * width + m] = candidate
                    m += 1
                }
                counts[r] = CInt(m)
            }
        }
        var q = firstPair
        for r in 0..<b {
            rowOffsets[r] = CInt(q)
            for t in 0..<Int(counts[r]) {
                let candidate = mine[r * width + t]
                (s.values[q], s.latents[q], s.samples[q]) = (candidate.value, candidate.latent - first, CInt(r))
                q += 1
            }
        }
        rowOffsets[b] = CInt(q)
        return q - firstPair
    }

    /// Whether `a` is kept before `b`: the larger value, or at a tie the earlier latent (TopK's rule).
    private static func ranksAhead(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.value != b.value { return a.value > b.value }
        return a.latent < b.latent
    }

    /// In place: the sum over the ranks of `count` floats.
    private func sum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        timed { try communicator.allReduce(buffer, count: count) }
    }

    private func timed(_ body: () throws -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        do { try body() } catch { if failure == nil { failure = error } }
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }
}
