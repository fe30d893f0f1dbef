import CKernels

/// What a dictionary SAE (Gao et al. 2024; Bricken et al. 2023) adds to the mirrored autoencoder,
/// in one place:
/// - centring: the encoder reads x - b_dec, z = act((x - b_dec) W_enc + b_enc);
/// - AuxK: the k_aux largest pre-activations among dead latents reconstruct the residual;
/// - unit-norm decoder rows: the gradient loses its radial part, and rows are renormalised after
///   each update.
/// The model calls it at fixed points of its step: `forward` centres; `loss` adds AuxK's value
/// (`auxLoss`); `backward` adds AuxK's and the centring's gradients and projects the decoder's;
/// `update` renormalises; the trainer starts b_dec at the mean sample. A TopK dictionary's sparse
/// step (`SparseStep.swift`) does the same inside its own passes. A model without any of these has
/// `dictionary == nil`. Shapes: x (B, d), code z (B, c), W_enc (c, d) stored latent by latent,
/// W_dec (c, d).
struct DictionaryBehaviour {
    /// The encoder (x -> code) and the layer after the code, whose kernel rows are the latents'
    /// directions: W_dec (c, out).
    let encoder: Dense, decoder: Dense
    /// b_dec, the output layer's bias, is subtracted from the input (a dictionary SAE; not a
    /// transcoder, whose b_dec lives in the output's space).
    let centring: Bool
    let auxK: AuxK?
    let unitNormDecoder: Bool
    /// The model's parameters (owned by the model, which owns this).
    let parameters: UnsafeMutablePointer<Float>
    private let outputBias: Int

    init?(config: AutoencoderConfig, layers: [Dense], parameters: UnsafeMutablePointer<Float>) {
        let centring = config.isCentred
        guard config.isDictionary || config.auxK != nil || config.unitNormDecoder else { return nil }
        (encoder, decoder) = (layers[config.codeLayerIndex], layers[config.codeLayerIndex + 1])
        (self.centring, auxK, unitNormDecoder) = (centring, config.auxK, config.unitNormDecoder)
        self.parameters = parameters
        outputBias = layers[layers.count - 1].biasOffset
    }

    var inputSize: Int { encoder.inputSize }
    var codeSize: Int { encoder.outputSize }
    /// The output's width: the input's, or a transcoder's targets'.
    var outputSize: Int { decoder.outputSize }

    // MARK: - Initialisation

    /// A new model's start: unit decoder rows, then the encoder as the decoder's transpose scaled
    /// by 1/sqrt(3) (W_enc[j] = W_dec[j] / sqrt(3), both stored latent by latent), as Gao et al. do.
    /// A transcoder's encoder reads another space than its decoder writes: it is drawn on its own,
    /// U(-1/sqrt(d_in), 1/sqrt(d_in)) (PyTorch's Linear, sparsify's transcoder encoder).
    ///
    /// Why 1/sqrt(3): it is the row norm of PyTorch's default Linear init, U(-1/sqrt(d), 1/sqrt(d)),
    /// with which sparsify starts its encoder (its decoder is that, normalised). The plain
    /// transpose makes the first codes too large: on the benchmark's vectors (bench/make_vectors.py,
    /// d 512, 4,096 latents, k 32, 2 epochs) val FVU 0.675 against 0.661 with 1/sqrt(3)
    /// (sparsify: 0.660); at d 768, 16,384 latents, k 64: 0.570 (sparsify: 0.572).
    func initialize(rng: inout SeededGenerator) {
        if unitNormDecoder { normalizeDecoder() }
        // Only a dictionary's encoder (stored latent by latent) starts from its decoder.
        guard encoder.unitMajor else { return }
        if !centring {
            let a = 1 / Float(inputSize).squareRoot()
            for i in 0..<(inputSize * codeSize) { parameters[encoder.kernelOffset + i] = (2 * rng.nextUnitFloat() - 1) * a }
            return
        }
        let scale = 1 / Float(3).squareRoot()
        for i in 0..<(encoder.inputSize * encoder.outputSize) {
            parameters[encoder.kernelOffset + i] = parameters[decoder.kernelOffset + i] * scale
        }
    }

    /// Sets b_dec to the mean training sample (a transcoder's: the mean target; `sums` of each
    /// feature over `count` samples), so that the encoder starts on centred data and the untrained
    /// model already reconstructs the mean.
    func startDecoderBias(sums: [Double], count: Int) {
        for j in sums.indices { parameters[outputBias + j] = Float(sums[j] / Double(count)) }
    }

    /// Per-feature sums of `data`'s samples `rows`: (d).
    static func featureSums(of data: Dataset, rows: Range<Int>) -> [Double] {
        let d = data.featureCount
        var sums = [Double](repeating: 0, count: d)
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: 1024) {
            let chunk = data.floats(start..<min(start + 1024, rows.upperBound))
            for (i, v) in chunk.enumerated() { sums[i % d] += Double(v) }
        }
        return sums
    }

    // MARK: - Forward: centring, and the pre-activations AuxK picks from

    /// centered = x - b_dec.  x, centered: (B, d)
    func center(_ x: UnsafePointer<Float>, into centered: UnsafeMutablePointer<Float>, rows: Int) {
        let d = inputSize, bDec = UnsafePointer(parameters + outputBias)
        WorkerPool.shared.split(rows, alignment: 1, minimumPerPart: max(1, 16_384 / d)) { _, r in
            sae_subtract_row(x + r.lowerBound * d, bDec, centered + r.lowerBound * d, r.count, d)
        }
    }

    /// The code layer's forward pass that also keeps its pre-activations (AuxK picks dead
    /// latents from them): pre = x W + b, y = act(pre).  x: (B, in), y, pre: (B, c)
    func encodeKeepingPreActivations(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                     _ pre: UnsafeMutablePointer<Float>, batch: Int) {
        var linear = Dense(inputSize: encoder.inputSize, outputSize: encoder.outputSize, activation: .linear,
                           kernelOffset: encoder.kernelOffset, biasOffset: encoder.biasOffset)
        linear.unitMajor = encoder.unitMajor
        linear.forward(x, pre, batch: batch, parameters: parameters)
        let (c, k, topk) = (codeSize, encoder.k, encoder.activation == .topk)
        WorkerPool.shared.split(batch, alignment: 1, minimumPerPart: 16) { _, rows in
            for i in (rows.lowerBound * c)..<(rows.upperBound * c) { y[i] = max(pre[i], 0) }
            if topk { sae_topk_rows(y + rows.lowerBound * c, rows.count, c, k) }
        }
    }

    // MARK: - AuxK (dense path)

    /// L_aux = coefficient * mean((z_aux W_dec - e)^2) with e = x - x^ held fixed and z_aux the
    /// k_aux largest pre-activations among the `dead` latents (relu'd). Works on the n dead latents
    /// only (their decoder rows gathered), so it costs n/c of the main step's products. Leaves
    /// dL_aux/de^ for `auxBackward`; returns 0 (and sets `aux.deadCount` to 0) when none is dead.
    func auxLoss(_ aux: Workspace.AuxBuffers, _ ws: Workspace, output: UnsafePointer<Float>, batch: Int,
                 dead: DeadLatents) -> Double {
        aux.deadCount = 0
        guard let settings = auxK, dead.count > 0 else { return 0 }
        let (d, c, n) = (outputSize, codeSize, dead.count)
        for t in 0..<n { aux.deadIndices[t] = Int(dead.indices[t]) }
        aux.deadCount = n
        let wDec = parameters + decoder.kernelOffset
        // z_aux: (B, n); the dead latents' decoder rows W_n: (n, d)
        sae_topk_among(aux.preCode, dead.mask, aux.code, batch, c, settings.k)
        for t in 0..<n { (aux.decoderRows + t * d).update(from: wDec + aux.deadIndices[t] * d, count: d) }
        // e = x - x^: (B, d)
        for i in 0..<(batch * d) { aux.residual[i] = ws.target[i] - output[i] }
        // e^ = z_aux W_n: (B, d)
        BLAS.gemm(false, false, m: batch, n: d, k: n, a: aux.code, lda: n, b: aux.decoderRows, ldb: d, c: aux.reconstruction, ldc: d)
        // d(e^) = scale * 2 (e^ - e)
        let scale = settings.coefficient / Float((ws.lossBatch ?? batch) * d)
        return ReconstructionLoss.mse.evaluate(logits: aux.reconstruction, targets: aux.residual, rows: batch, cols: d,
                                               gradient: aux.reconstructionDelta, scale: scale, linear: true) * Double(scale)
    }

    /// After `auxLoss`: d(z_aux) = d(e^) W_n^T masked to the latents used (left in
    /// `aux.codeDelta` for the code layer), and dW_n = z_aux^T d(e^) added to the dead rows of g.
    func auxBackward(_ aux: Workspace.AuxBuffers, batch: Int, gradients g: UnsafeMutablePointer<Float>) {
        let (d, n) = (outputSize, aux.deadCount)
        guard n > 0 else { return }
        // d(z_aux): (B, n), through relu and the selection.
        BLAS.gemm(false, true, m: batch, n: n, k: d, a: aux.reconstructionDelta, lda: d, b: aux.decoderRows, ldb: d, c: aux.codeDelta, ldc: n)
        for i in 0..<(batch * n) where aux.code[i] <= 0 { aux.codeDelta[i] = 0 }
        // dW_n: (n, d), into the rows' buffer (W_n is no longer needed), then added to the dead latents' rows.
        BLAS.gemm(true, false, m: n, n: d, k: batch, a: aux.code, lda: n, b: aux.reconstructionDelta, ldb: d, c: aux.decoderRows, ldc: d)
        for t in 0..<n {
            let (src, dst) = (aux.decoderRows + t * d, g + decoder.kernelOffset + aux.deadIndices[t] * d)
            for i in 0..<d { dst[i] += src[i] }
        }
    }

    /// At the code layer, past the main code's mask: dz += d(z_aux) (scattered to the dead
    /// latents' columns) and db_enc += its column sums.  dz: (B, c)
    func addAuxCodeGradient(_ aux: Workspace.AuxBuffers, into dz: UnsafeMutablePointer<Float>,
                            gradients g: UnsafeMutablePointer<Float>, rows: Int) {
        let (c, n, db) = (codeSize, aux.deadCount, g + encoder.biasOffset)
        for r in 0..<rows {
            for t in 0..<n {
                let v = aux.codeDelta[r * n + t], j = aux.deadIndices[t]
                dz[r * c + j] += v
                db[j] += v
            }
        }
    }

    // MARK: - Backward: centring and the unit-norm projection (dense path)

    /// The end of the dense backward pass, given dz = dL/d(code pre-activation) (B, c): b_dec's
    /// share through the centring, then the decoder gradient's projection.
    func finishBackward(codeDelta dz: UnsafePointer<Float>, rows: Int, gradients g: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>) {
        if centring { addCenteringGradient(dz, rows: rows, gradients: g, scratch: scratch) }
        if unitNormDecoder { projectDecoderGradient(g) }
    }

    /// b_dec also enters through the centring: d(b_dec) -= column sums of d(x - b_dec), and
    /// since d(x - b_dec) = dz W_enc^T, those sums are W_enc (column sums of dz): a product
    /// with one vector instead of one with the whole batch.  dz: (B, c), scratch: (c)
    func addCenteringGradient(_ dz: UnsafePointer<Float>, rows: Int, gradients g: UnsafeMutablePointer<Float>,
                              scratch sums: UnsafeMutablePointer<Float>) {
        let (d, c) = (inputSize, codeSize)
        for j in 0..<c { sums[j] = 0 }
        for r in 0..<rows { for j in 0..<c { sums[j] += dz[r * c + j] } }
        // d(b_dec) -= W_enc sums, with W_enc stored (c, d): (d, c) x (c, 1)
        BLAS.gemm(true, false, m: d, n: 1, k: c, alpha: -1, a: parameters + encoder.kernelOffset, lda: d,
                  b: sums, ldb: 1, beta: 1, c: g + outputBias, ldc: 1)
    }

    /// Removes from each decoder row's gradient its component along the (unit) row,
    /// g_j -= (g_j . w_j) w_j, so a step turns the direction rather than lengthening it. Linear
    /// in g: projecting each MPI rank's share before the sum gives the projected sum.
    func projectDecoderGradient(_ g: UnsafeMutablePointer<Float>) {
        let n = decoder.outputSize
        for j in 0..<decoder.inputSize {
            let w = parameters + decoder.kernelOffset + j * n, gj = g + decoder.kernelOffset + j * n
            var dot: Float = 0
            for i in 0..<n { dot += gj[i] * w[i] }
            for i in 0..<n { gj[i] -= dot * w[i] }
        }
    }

    // MARK: - Update

    /// Scales every decoder row (one latent's direction) back to unit length after a step.
    func normalizeDecoder() {
        let n = decoder.outputSize, w = parameters + decoder.kernelOffset
        WorkerPool.shared.split(decoder.inputSize, alignment: 1, minimumPerPart: max(1, 8192 / n)) { _, rows in
            sae_normalize_rows(w + rows.lowerBound * n, rows.count, n)
        }
    }
}
