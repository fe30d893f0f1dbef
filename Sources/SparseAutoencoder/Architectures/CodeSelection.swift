import CKernels

/// How a dictionary SAE's sparse step chooses its code from the encoder's pre-activations, and
/// what else that choice adds to the step: the part of an architecture that differs between TopK,
/// BatchTopK, JumpReLU and the ones to come. Each is one file in this folder and one line in
/// `Architectures.all`; `Architecture.swift` says what else an architecture tells the rest of sae.
///
/// The sparse step (`SparseStep.swift`) computes pre = (x - b_dec) W_enc^T, asks the selection for
/// the batch's pairs (value, latent, sample; row r's at `rowOffsets[r] ..< rowOffsets[r + 1]`, in
/// any number), then decodes, scores and back-propagates through them alone. A pair's value is
/// relu(pre + b_enc) and its gradient reaches pre wherever the value is positive. A selection may
/// keep tensors of its own in the model (`SparseArchitecture.tensors`: BatchTopK's threshold, learned
/// or not), add a penalty to the loss and the gradient of its own tensors.
///
///     let selection = Architectures.make(for: config, tensors: pointer)
///     selection.select(s, bias: bEnc, rows: b, training: true)      // s.mainPairs pairs
///     selection.trained(on: s, rows: b, step: adam.step)            // after the forward pass
///     let penalty = selection.penalty(s, rows: b, context: ws)      // in the loss
///     selection.addGradients(s, rows: b, context: ws, gradients: g) // in backward
protocol CodeSelection: AnyObject {
    /// The most pairs a training selection makes for `rows` samples (the buffers' first size; a
    /// selection without a bound grows them as it needs).
    func trainingPairs(rows: Int) -> Int
    /// The pairs of rows 0..<b of `s.pre` (+ `bias`), into `s` (values, latents, samples, rowOffsets
    /// and mainPairs): for a training step, or for inference (encode, validation, analysis).
    /// Under MPI, a training step's batch-wide selection completes its counts over the ranks
    /// (`ranks`; nil in one process and at inference).
    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?)
    /// After training step `step`'s selection (0-based), with its pairs still in `s`: running
    /// statistics (BatchTopK's threshold).
    func trained(on s: SparseBuffers, rows b: Int, step: Int, ranks: RankCollectives?)
    /// The selection's own term of the objective (JumpReLU's L0 penalty), for the last selection.
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double
    /// After the weight gradients (`s.outputGradients` holds dL/dx^): adds the gradient of the
    /// selection's own tensors into `g`.
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>)
    /// Blocks of (B, d) output gradients the code's pairs use (1: dL/dx^ alone), and each latent's
    /// block (nil: all block 0): a Matryoshka SAE's latents feel every prefix they are part of.
    var gradientBlocks: Int { get }
    var latentBlocks: UnsafePointer<CInt>? { get }
    /// x^ = b_dec + the pairs' decoder rows, rows 0..<b into `out` (B, d); a Matryoshka SAE also
    /// keeps its prefixes' reconstructions.
    func decode(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputSize d: Int,
                into out: UnsafeMutablePointer<Float>)
    /// The pairs' pass over the weights, when the architecture's latents do not come out of the
    /// encoder as relu(pre + b_enc) (Gated's two paths): returns false to leave it to the common
    /// pass (`sae_sparse_weight_gradients`).
    func weightGradients(_ pass: PairsPass) -> Bool
    /// AuxK's pairs after the code's (at `s.mainPairs`, rows at `s.auxRowOffsets`, count in
    /// `s.auxPairs`): per row, the `k` largest relu(pre + b_enc) among the `dead` latents (all of
    /// them if fewer). Returns false, with no pairs, when no latent is dead.
    func selectAuxiliary(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, dead: DeadLatents, k: Int) -> Bool
    /// e^ = the AuxK pairs' decoder rows (no bias), rows 0..<b into `out` (B, d).
    func decodeAuxiliary(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, outputSize d: Int,
                         into out: UnsafeMutablePointer<Float>)
    /// This selection for one rank's latents of a latent-sharded dictionary (`LatentShard`), made
    /// from the local config's: the same, unless the architecture's structure spans the latents
    /// (Matryoshka's groups).
    func cut(to shard: LatentShard) -> CodeSelection
    /// Reconstructions it keeps besides x^ (Matryoshka's prefixes: `count` floats at the pointer),
    /// which a latent-sharded decode sums over the ranks as it sums x^; none by default.
    func withPartialReconstructions(rows b: Int, outputSize d: Int, _ body: (UnsafeMutablePointer<Float>, Int) -> Void)
    /// Whether the code can be dense enough for the step's dense route (`DenseCodePass.swift`):
    /// a selection without a fixed k whose latents go through the common pairs' pass.
    var mayBeDense: Bool { get }
}

/// What the pairs' pass over the weights works with: the pairs grouped by latent, the latent
/// ranges of the pool's parts, and where the weights and their gradients are.
struct PairsPass {
    let s: SparseBuffers
    /// The output's width d (W_dec's rows) and the input's d_in (W_enc's; equal but for a transcoder).
    let rows: Int, outputSize: Int, inputSize: Int
    /// Part i's latents are bounds[i] ..< bounds[i + 1].
    let bounds: UnsafePointer<CInt>
    /// What the encoder read: x - b_dec, or a transcoder's x: (rows, d_in).
    let inputs: UnsafePointer<Float>
    /// Per pool part, b_dec's share through the centring: (parts, d); nil for a transcoder (none).
    let bDecPartials: UnsafeMutablePointer<Float>?
    let parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
    /// W_enc's and b_enc's, W_dec's offsets; the selection's tensors' first.
    let encoderOffset: Int, encoderBiasOffset: Int, decoderOffset: Int, tensorsOffset: Int
    let projectDecoder: Bool
    /// Whether the step takes the dense route (`DenseCodePass.swift`): the code is in s.denseCode
    /// and the pairs are not grouped by latent (`bounds` unset).
    let dense: Bool
}

extension PairsPass {
    /// Part `part`'s b_dec partial sum, zeroed for the pass (nil without centring).
    func bDecPartial(_ part: Int) -> UnsafeMutablePointer<Float>? {
        guard let partials = bDecPartials else { return nil }
        let partial = partials + part * outputSize
        partial.update(repeating: 0, count: outputSize)
        return partial
    }
}

extension CodeSelection {
    func weightGradients(_ pass: PairsPass) -> Bool { false }
    var mayBeDense: Bool { false }
    var gradientBlocks: Int { 1 }
    var latentBlocks: UnsafePointer<CInt>? { nil }

    func decode(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, bias: UnsafePointer<Float>, outputSize d: Int,
                into out: UnsafeMutablePointer<Float>) {
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            sae_sparse_decode(s.values, s.latents, s.rowOffsets + rows.lowerBound, rows.count, w, bias, d, out + rows.lowerBound * d)
        }
    }

    func selectAuxiliary(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, dead: DeadLatents, k: Int) -> Bool {
        guard dead.count > 0 else { return false }
        let (c, n) = (dead.codeSize, dead.count)
        let keep = min(k, n), mainPairs = s.mainPairs
        s.auxPairs = b * keep
        sae_uniform_rows(b, keep, CInt(mainPairs), s.auxRowOffsets, s.samples + mainPairs)
        let (values, latents) = (s.values + mainPairs, s.latents + mainPairs)
        let scratch = SparseBuffers.selectionScratchSize(codeSize: c)
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
            let r0 = rows.lowerBound
            sae_topk_select_among(s.pre + r0 * c, bias, rows.count, c, dead.indices, n, keep, values + r0 * keep, latents + r0 * keep,
                                  s.selectionScratch + part * scratch)
        }
        return true
    }

    func decodeAuxiliary(_ s: SparseBuffers, rows b: Int, decoder w: UnsafePointer<Float>, outputSize d: Int,
                         into out: UnsafeMutablePointer<Float>) {
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            sae_sparse_decode(s.values, s.latents, s.auxRowOffsets + rows.lowerBound, rows.count, w, nil, d, out + rows.lowerBound * d)
        }
    }

    func trained(on s: SparseBuffers, rows b: Int, step: Int, ranks: RankCollectives?) {}
    func cut(to shard: LatentShard) -> CodeSelection { self }
    func withPartialReconstructions(rows b: Int, outputSize d: Int, _ body: (UnsafeMutablePointer<Float>, Int) -> Void) {}
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double { 0 }
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>) {}
}

/// What a selection's penalty and gradient need from the model and the step.
struct SelectionContext {
    /// The parameters and gradients' layout: where W_dec (c, d) and b_dec (d) are, and the
    /// selection's tensors.
    let parameters: UnsafePointer<Float>
    let decoderOffset: Int, decoderBiasOffset: Int, outputSize: Int
    /// Where the selection's tensors start, in the parameters and in the gradients.
    let tensorsOffset: Int
    /// The batch the loss is a mean over (this rank's rows are part of it under MPI).
    let lossBatch: Int
    /// What x^ should be (B, d): the batch itself, or a transcoder's targets.
    let target: UnsafePointer<Float>
    /// Whether the loss keeps its gradient for backward (a training step) or only its value.
    let keepingGradient: Bool
    /// A training step's sums over the MPI ranks (nil in one process, and at inference).
    let ranks: RankCollectives?
    /// Whether this process adds the batch-wide terms to its loss (one rank does under MPI).
    let countsBatchTerms: Bool
    /// The factor on the selection's penalty weight in this step (a `Schedule`'s warm-up).
    var sparsityScale: Float = 1
    /// Whether this process adds b_dec's terms that every rank of a latent-sharded step computes
    /// alike (`Workspace.addsOutputBiasGradient`: one rank does).
    var addsOutputBiasGradient = true
}

/// The collectives a batch-wide architecture needs during a data-parallel training step: every
/// rank calls them in the same order (a rank without rows too). A failure is kept for the
/// trainer (`Workspace.collectiveFailure`), and the call returns its input.
struct RankCollectives {
    /// In place: the sum over the ranks.
    let sum: (UnsafeMutablePointer<Double>, Int) -> Void
    /// The sum of `value` over the ranks before this one.
    let sumBefore: (Double) -> Double
    /// The smallest `value` over the ranks.
    let minimum: (Float) -> Float
    /// Whether the ranks hold different rows of the batch (data-parallel), or the same rows and
    /// different latents (`LatentShard`): then the batch's size is one rank's.
    var splitsRows = true
}
