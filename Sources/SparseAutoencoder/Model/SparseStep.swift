import CKernels

/// A dictionary SAE's step at the cost of its sparsity: the step every architecture of
/// `Architectures/` shares (TopK's is written out below; the others choose their pairs otherwise,
/// see `CodeSelection`).
///
/// Only the encoder's forward product has to be dense: it feeds the selection. After it, each
/// sample has its active latents (TopK: k), and the rest of the step works on those (sample,
/// latent, value) "pairs" alone, as sparsify does on the GPU:
///
///     xc   = x - b_dec                                    (B, d)      dense
///     pre  = xc W_enc^T                                   (B, c)      the one dense product
///     (z, j) = topk(relu(pre + b_enc))                    (B, k)      values and latents
///     x^   = b_dec + sum_t z[t] W_dec[j[t]]               (B, d)      k rows per sample
///     G    = dL/dx^ = 2 (x^ - x) / (B d)                  (B, d)
///     dz[t] = G . W_dec[j[t]]   (0 where z[t] = 0)        (B, k)      k dot products per sample
///     dW_dec[j] += z G,  dW_enc[j] += dz xc,  db_enc[j] += dz         active rows only
///
/// The last two lines are one pass, latent by latent: each pair's dot product is taken while
/// its decoder row and output-gradient row are in cache for the sums.
///     db_dec += sum_r G[r] - sum_j (sum dz) W_enc[j]      (output bias and centring)
///
/// AuxK adds pairs of its own: the k_aux largest pre-activations among dead latents reconstruct
/// the residual e = x - x^ (held fixed), with G_aux = dL_aux/de^; their pairs join the main ones.
/// The weight gradients group all pairs by latent (a counting sort), so threads own disjoint
/// latents' rows (no atomics) and each row stays in cache while its pairs are summed; each row's
/// sum runs in pair order, so the bits do not depend on the thread count (only the b_dec
/// partial sums, added in part order, do).
///
/// Both weight matrices are stored latent by latent, (c, d). For TopK the dense path (`forward`
/// and `loss` without `ws.sparse`) computes the same numbers; tests compare the two.
final class SparseBuffers {
    let k: Int
    /// AuxK's k (0 without AuxK).
    let kAux: Int
    /// The batch rows the buffers hold.
    let rows: Int
    /// pre = xc W_enc^T, without b_enc (the selections add it): (B, c).
    let pre: UnsafeMutablePointer<Float>
    /// The pairs: the code's (`mainPairs`, row r's at rowOffsets[r] ..< rowOffsets[r + 1]), then
    /// AuxK's (`auxPairs`, at auxRowOffsets[r] ..< auxRowOffsets[r + 1]): value, latent and sample
    /// of each; `order` groups them by latent. A row may hold any number of pairs (TopK's hold k).
    private(set) var values: UnsafeMutablePointer<Float>
    private(set) var latents, samples, order: UnsafeMutablePointer<CInt>
    /// How many pairs the arrays above hold: enough for training's selections from the start;
    /// an inference selection with more (a threshold) grows them (`reservePairs`).
    private(set) var pairCapacity: Int
    /// (B + 1) each.
    let rowOffsets, auxRowOffsets: UnsafeMutablePointer<CInt>
    var mainPairs = 0, auxPairs = 0
    /// Pairs grouped by latent: latent j's are order[offsets[j] ..< offsets[j + 1]].
    let offsets: UnsafeMutablePointer<CInt>
    /// dL/dx^ (B, d) (and, for a Matryoshka SAE, its other groups' gradients: `mainBlocks` blocks of
    /// (B, d) in all), then AuxK's dL/de^ (B, d), block `auxBlock`. A block is (b, d) for a batch of b.
    let outputGradients: UnsafeMutablePointer<Float>
    let mainBlocks: Int
    var auxBlock: Int { mainBlocks }
    /// AuxK: the residual e = x - x^ and its reconstruction e^: (B, d) each.
    let residual, auxReconstruction: UnsafeMutablePointer<Float>
    /// The latent ranges of the pool's parts in the weight-gradient pass: (parts + 1).
    let partBounds: UnsafeMutablePointer<CInt>
    /// Per pool part: the selections' scratch and b_dec's partial gradient (d).
    let selectionScratch, bDecPartials: UnsafeMutablePointer<Float>
    static func selectionScratchSize(codeSize c: Int) -> Int { 3 * c + 2 * (c / 16) }
    /// The dense route's code Z (B, c) and its gradient's sums (c) (nil: the pairs' route only),
    /// and whether the current step takes it (`DenseCodePass.swift`).
    let denseCode: UnsafeMutablePointer<Float>?
    let denseSums: UnsafeMutablePointer<Float>
    var densePass = false
    /// The share of (sample, latent) entries active above which a step takes the dense route.
    var denseFraction = SparseBuffers.defaultDenseFraction
    private let floats: UnsafeMutableBufferPointer<Float>
    private let ints: UnsafeMutableBufferPointer<CInt>

    /// `mainPairs`: how many pairs the code's training selection makes at most for `capacity` rows.
    /// `outputSize` (d below): the output's width, which the gradients and residuals have.
    /// `denseCodes`: keep a dense copy of the code for the dense route (`DenseCodePass.swift`).
    init(capacity b: Int, outputSize d: Int, codeSize c: Int, k: Int, kAux: Int, mainPairs: Int? = nil, gradientBlocks: Int = 1,
         denseCodes: Bool = false) {
        (self.k, self.kAux, rows, mainBlocks) = (k, kAux, b, gradientBlocks)
        let parts = WorkerPool.shared.parts
        let scratch = SparseBuffers.selectionScratchSize(codeSize: c)
        floats = .allocate(capacity: b * c + (gradientBlocks + 3) * b * d + parts * (scratch + d) + (denseCodes ? b * c + c : 0))
        floats.initialize(repeating: 0)
        ints = .allocate(capacity: 2 * (b + 1) + (c + 1) + parts + 1)
        ints.initialize(repeating: 0)
        var f = floats.baseAddress!, i = ints.baseAddress!
        func take(_ n: Int) -> UnsafeMutablePointer<Float> { defer { f += n }; return f }
        func takeInts(_ n: Int) -> UnsafeMutablePointer<CInt> { defer { i += n }; return i }
        pre = take(b * c)
        outputGradients = take((gradientBlocks + 1) * b * d)
        (residual, auxReconstruction) = (take(b * d), take(b * d))
        (selectionScratch, bDecPartials) = (take(parts * scratch), take(parts * d))
        (denseCode, denseSums) = denseCodes ? (take(b * c), take(c)) : (nil, f)
        (rowOffsets, auxRowOffsets) = (takeInts(b + 1), takeInts(b + 1))
        offsets = takeInts(c + 1)
        partBounds = takeInts(parts + 1)
        pairCapacity = (mainPairs ?? b * k) + b * kAux
        (values, latents, samples, order) = SparseBuffers.allocatePairs(pairCapacity)
    }

    private static func allocatePairs(_ n: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<CInt>,
                                                     UnsafeMutablePointer<CInt>, UnsafeMutablePointer<CInt>) {
        let (v, l, s, o) = (UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1)), UnsafeMutablePointer<CInt>.allocate(capacity: max(n, 1)),
                            UnsafeMutablePointer<CInt>.allocate(capacity: max(n, 1)), UnsafeMutablePointer<CInt>.allocate(capacity: max(n, 1)))
        v.initialize(repeating: 0, count: max(n, 1))
        for p in [l, s, o] { p.initialize(repeating: 0, count: max(n, 1)) }
        return (v, l, s, o)
    }

    /// Makes room for `n` main pairs (and AuxK's after them), keeping none of the current pairs.
    func reservePairs(_ n: Int) {
        let needed = n + rows * kAux
        guard needed > pairCapacity else { return }
        deallocatePairs()
        pairCapacity = needed
        (values, latents, samples, order) = SparseBuffers.allocatePairs(needed)
    }

    private func deallocatePairs() {
        values.deallocate()
        for p in [latents, samples, order] { p.deallocate() }
    }

    deinit {
        floats.deallocate()
        ints.deallocate()
        deallocatePairs()
    }
}

extension Autoencoder {
    /// The sparse step serves single-layer TopK dictionaries without an activity penalty (the
    /// TopK selection is their sparsity); everything else takes the dense path.
    package var supportsSparseStep: Bool {
        selection != nil && config.penalty == .none && layers[0].unitMajor
    }

    // MARK: - Forward

    /// xc = x - b_dec (a transcoder's encoder reads x itself); pre = xc W_enc^T; the TopK pairs; x^
    /// (or a transcoder's y^) into outputs[1]; and, if the workspace asks for it, the dense code
    /// into outputs[0].
    func sparseForward(_ ws: Workspace, _ s: SparseBuffers, batch b: Int) {
        let (d, dIn, c) = (config.targetSize, config.inputSize, config.codeSize)
        let p = parameters.baseAddress!
        let (encoder, decoder) = (layers[0], layers[1])
        if let centered = ws.centered { dictionary!.center(ws.input, into: centered, rows: b) }
        // pre: (B, c) = xc (B, d_in) x W_enc^T (d_in, c)
        // (A rank without rows in a batch-wide architecture's step still takes part in its selection.)
        if b > 0 { BLAS.gemm(false, true, m: b, n: c, k: dIn, a: ws.layerInput(0), lda: dIn, b: p + encoder.kernelOffset, ldb: dIn, c: s.pre, ldc: c) }
        let bEnc = UnsafePointer(p + encoder.biasOffset), wDec = UnsafePointer(p + decoder.kernelOffset)
        let bDec = UnsafePointer(p + decoder.biasOffset), xHat = ws.outputs[1]
        // The code: the architecture's selection (TopK's per sample, BatchTopK's per batch, ...).
        selection!.select(s, bias: bEnc, rows: b, training: ws.training, ranks: ws.training ? ws.collectives : nil)
        if s.prepareDenseCode(rows: b, codeSize: c) {
            denseCodeDecode(s, rows: b, into: xHat)
        } else {
            selection!.decode(s, rows: b, decoder: wDec, bias: bDec, outputSize: d, into: xHat)
        }
        guard ws.writesDenseCode else { return }
        let code = ws.outputs[0]
        code.update(repeating: 0, count: b * c)
        for q in 0..<s.mainPairs { code[Int(s.samples[q]) * c + Int(s.latents[q])] = s.values[q] }
    }

    // MARK: - Loss

    /// After `sparseForward`: the batch's MSE, with dL/dx^ kept for `sparseBackward` when asked,
    /// and AuxK's loss (its pairs and dL_aux/de^ kept) when `dead` has dead latents.
    func sparseLoss(_ ws: Workspace, _ s: SparseBuffers, batch b: Int, dead: DeadLatents?, keepingGradient: Bool) -> BatchLoss {
        let d = config.targetSize
        let scale = 1 / Float((ws.lossBatch ?? b) * d)
        let reconstruction = ReconstructionLoss.mse.evaluate(
            logits: ws.outputs[1], targets: ws.target, rows: b, cols: d,
            gradient: keepingGradient ? s.outputGradients : nil, scale: scale, linear: true) * Double(scale)
        let aux = dead.map { sparseAuxLoss(ws, s, batch: b, dead: $0) } ?? 0
        // The architecture's own term (JumpReLU's L0 penalty).
        let penalty = selection!.penalty(s, rows: b, context: selectionContext(ws, batch: b, keepingGradient: keepingGradient))
        return BatchLoss(reconstruction: reconstruction, penalty: penalty, aux: aux)
    }

    /// What the code selection's penalty and gradient read.
    func selectionContext(_ ws: Workspace, batch b: Int, keepingGradient: Bool = true) -> SelectionContext {
        SelectionContext(parameters: UnsafePointer(parameters.baseAddress!), decoderOffset: layers[1].kernelOffset,
                         decoderBiasOffset: layers[1].biasOffset, outputSize: config.targetSize,
                         tensorsOffset: architectureTensors.first?.offset ?? parameterCount, lossBatch: ws.lossBatch ?? b,
                         target: UnsafePointer(ws.target), keepingGradient: keepingGradient,
                         ranks: ws.training ? ws.collectives : nil, countsBatchTerms: ws.countsBatchTerms || !ws.training,
                         sparsityScale: ws.sparsityScale, addsOutputBiasGradient: ws.addsOutputBiasGradient)
    }

    /// AuxK's pairs, residual and dL_aux/de^ (rows B..<2B of the output gradients); returns its
    /// loss (0 when no latent is dead, and then no pairs).
    private func sparseAuxLoss(_ ws: Workspace, _ s: SparseBuffers, batch b: Int, dead: DeadLatents) -> Double {
        s.auxPairs = 0
        guard let settings = config.auxK else { return 0 }
        let d = config.targetSize
        let p = parameters.baseAddress!
        let bEnc = UnsafePointer(p + layers[0].biasOffset), wDec = UnsafePointer(p + layers[1].kernelOffset)
        guard selection!.selectAuxiliary(s, bias: bEnc, rows: b, dead: dead, k: settings.k) else { return 0 }
        // e = x - x^; e^ = z_aux W_dec (no bias)
        let output = UnsafePointer(ws.outputs[1])
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            for i in (rows.lowerBound * d)..<(rows.upperBound * d) { s.residual[i] = ws.target[i] - output[i] }
        }
        selection!.decodeAuxiliary(s, rows: b, decoder: wDec, outputSize: d, into: s.auxReconstruction)
        let scale = settings.coefficient / Float((ws.lossBatch ?? b) * d)
        return ReconstructionLoss.mse.evaluate(logits: s.auxReconstruction, targets: s.residual, rows: b, cols: d,
                                               gradient: s.outputGradients + s.auxBlock * b * d, scale: scale, linear: true) * Double(scale)
    }

    // MARK: - Backward

    /// After `sparseLoss(keepingGradient: true)`: adds every parameter's gradient, given the output
    /// gradients (and AuxK's pairs, if any); a unit-norm decoder's comes out projected.
    func sparseBackward(_ ws: Workspace, _ s: SparseBuffers, batch b: Int, gradients g: UnsafeMutablePointer<Float>) {
        let (d, dIn, c) = (config.targetSize, config.inputSize, config.codeSize)
        let p = UnsafePointer(parameters.baseAddress!)
        let (encoder, decoder) = (layers[0], layers[1])
        let wDec = p + decoder.kernelOffset, pairs = s.mainPairs + s.auxPairs
        // What the encoder read (x - b_dec, or a transcoder's x), and whether b_dec has a share through it.
        let inputs = ws.layerInput(0), centring = ws.centered != nil
        // db_dec += column sums of G (the output bias's share; on one rank of a latent-sharded
        // step, where every rank has the whole G: the ranks' b_dec gradients are then summed)
        if b > 0 && ws.addsOutputBiasGradient { Activation.linear.backward(output: ws.outputs[1], gradient: s.outputGradients, biasGradient: g + decoder.biasOffset, rows: b, cols: d) }
        // A code too dense for pairs goes through sgemm (DenseCodePass.swift); else the pairs are
        // grouped by latent and the pool's parts get about equal numbers of them.
        let dense = s.densePass && s.auxPairs == 0
        let parts = WorkerPool.shared.parts, bounds = s.partBounds
        if !dense {
            sae_group_by_latent(s.latents, pairs, c, s.offsets, s.order)
            balanceLatents(s.offsets, latents: c, pairs: pairs, into: bounds, parts: parts)
        }
        let pass = PairsPass(s: s, rows: b, outputSize: d, inputSize: dIn, bounds: bounds, inputs: inputs,
                             bDecPartials: centring ? s.bDecPartials : nil, parameters: p, gradients: g,
                             encoderOffset: encoder.kernelOffset, encoderBiasOffset: encoder.biasOffset,
                             decoderOffset: decoder.kernelOffset, tensorsOffset: architectureTensors.first?.offset ?? parameterCount,
                             projectDecoder: config.unitNormDecoder, dense: dense)
        var partials = centring
        if selection!.weightGradients(pass) {
            // The architecture's own pass (Gated's two paths), b_dec's share left in the partials.
        } else if dense {
            denseCodeBackward(s, rows: b, inputs: inputs, centring: centring, gradients: g)
            partials = false
        } else {
            var description = sae_pairs(rows: b, d: d, d_in: dIn, main_pairs: s.mainPairs, values: s.values, samples: s.samples,
                                        offsets: s.offsets, order: s.order, inputs: inputs, output_gradients: s.outputGradients,
                                        blocks: selection!.latentBlocks, aux_block: s.auxBlock)
            let project: CInt = config.unitNormDecoder ? 1 : 0
            withUnsafePointer(to: &description) { pairsPointer in
                WorkerPool.shared.run { part in
                    sae_sparse_weight_gradients(pairsPointer, Int(bounds[part]), Int(bounds[part + 1]), p + encoder.kernelOffset, wDec,
                                                g + encoder.kernelOffset, g + encoder.biasOffset, g + decoder.kernelOffset,
                                                pass.bDecPartial(part), project)
                }
            }
        }
        // db_dec += the centring's share, part by part in a fixed order.
        let bDec = g + decoder.biasOffset
        for part in 0..<parts where partials {
            let partial = s.bDecPartials + part * d
            for i in 0..<d { bDec[i] += partial[i] }
        }
        // The architecture's own tensors (JumpReLU's thresholds).
        selection!.addGradients(s, rows: b, context: selectionContext(ws, batch: b), gradients: g)
    }

    /// Splits 0..<latents into `parts` ranges holding about equal numbers of pairs: bounds
    /// (parts + 1), part i's latents bounds[i] ..< bounds[i + 1].
    private func balanceLatents(_ offsets: UnsafePointer<CInt>, latents c: Int, pairs: Int,
                                into bounds: UnsafeMutablePointer<CInt>, parts: Int) {
        bounds[0] = 0
        var j = 0
        for part in 1..<max(parts, 1) {
            let target = pairs * part / parts
            while j < c && Int(offsets[j]) < target { j += 1 }
            bounds[part] = CInt(j)
        }
        bounds[parts] = CInt(c)
    }
}
