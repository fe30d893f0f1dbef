import CKernels

/// The parts of a dictionary SAE (Gao et al. 2024; Bricken et al. 2023) that the mirrored
/// autoencoder lacks: the encoder reads x - b_dec, the AuxK loss for dead latents, and decoder
/// rows kept at unit length. Shapes: x (B, d), code z (B, c), W_enc (d, c), W_dec (c, d).
extension Autoencoder {
    /// The layer after the code, whose kernel rows are the latents' directions: W_dec (c, out).
    var decoderLayer: Dense { layers[codeLayerIndex + 1] }

    // MARK: - Centring: z = act((x - b_dec) W_enc + b_enc)

    /// centered = x - b_dec.  x, centered: (B, d)
    func center(_ x: UnsafePointer<Float>, into centered: UnsafeMutablePointer<Float>, rows: Int) {
        let d = config.inputSize
        let bDec = UnsafePointer(parameters.baseAddress! + layers[layers.count - 1].biasOffset)
        WorkerPool.shared.split(rows, alignment: 1, minimumPerPart: max(1, 16_384 / d)) { _, r in
            sae_subtract_row(x + r.lowerBound * d, bDec, centered + r.lowerBound * d, r.count, d)
        }
    }

    /// b_dec also enters through the centring: d(b_dec) -= column sums of d(x - b_dec), and
    /// since d(x - b_dec) = dz W_enc^T, those sums are W_enc (column sums of dz): a product
    /// with one vector instead of one with the whole batch.  dz: (B, c), scratch: (c)
    func addCenteringGradient(_ dz: UnsafePointer<Float>, rows: Int, gradients g: UnsafeMutablePointer<Float>,
                              scratch sums: UnsafeMutablePointer<Float>) {
        let (d, c) = (config.inputSize, config.codeSize)
        for j in 0..<c { sums[j] = 0 }
        for r in 0..<rows { for j in 0..<c { sums[j] += dz[r * c + j] } }
        // d(b_dec) -= W_enc sums, with W_enc stored (c, d): (d, c) x (c, 1)
        BLAS.gemm(true, false, m: d, n: 1, k: c, alpha: -1, a: parameters.baseAddress! + layers[0].kernelOffset, lda: d,
                  b: sums, ldb: 1, beta: 1, c: g + layers[layers.count - 1].biasOffset, ldc: 1)
    }

    /// Starts the encoder as the decoder's transpose scaled by 1/sqrt(3): W_enc[i][j] = W_dec[j][i]
    /// / sqrt(3), a scaled copy with the encoder stored latent by latent (c, d).
    ///
    /// Why 1/sqrt(3): it is the row norm of PyTorch's default Linear init, U(-1/sqrt(d), 1/sqrt(d)),
    /// with which sparsify starts its encoder (its decoder is that, normalised). The plain
    /// transpose makes the first codes too large: on the benchmark's vectors (bench/make_vectors.py,
    /// d 512, 4,096 latents, k 32, 2 epochs) val FVU 0.675 against 0.661 with 1/sqrt(3)
    /// (sparsify: 0.660); at d 768, 16,384 latents, k 64: 0.570 (sparsify: 0.572).
    func tieEncoderToDecoder() {
        let (encoder, decoder) = (layers[0], decoderLayer)
        precondition(encoder.unitMajor)
        let (w, scale) = (parameters.baseAddress!, 1 / Float(3).squareRoot())
        for i in 0..<(encoder.inputSize * encoder.outputSize) { w[encoder.kernelOffset + i] = w[decoder.kernelOffset + i] * scale }
    }

    // MARK: - AuxK

    /// The code layer's forward pass that also keeps its pre-activations (AuxK picks dead
    /// latents from them): pre = x W + b, y = act(pre).  x: (B, in), y, pre: (B, c)
    func forwardKeepingPreActivations(_ layer: Dense, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                      _ pre: UnsafeMutablePointer<Float>, batch: Int) {
        let p = UnsafePointer(parameters.baseAddress!)
        var linear = Dense(inputSize: layer.inputSize, outputSize: layer.outputSize, activation: .linear,
                           kernelOffset: layer.kernelOffset, biasOffset: layer.biasOffset)
        linear.unitMajor = layer.unitMajor
        linear.forward(x, pre, batch: batch, parameters: p)
        let (c, topk) = (layer.outputSize, layer.activation == .topk)
        WorkerPool.shared.split(batch, alignment: 1, minimumPerPart: 16) { _, rows in
            for i in (rows.lowerBound * c)..<(rows.upperBound * c) { y[i] = max(pre[i], 0) }
            if topk { sae_topk_rows(y + rows.lowerBound * c, rows.count, c, layer.k) }
        }
    }

    /// L_aux = coefficient * mean((z_aux W_dec - e)^2) with e = x - x^ held fixed and z_aux the
    /// k_aux largest pre-activations among the latents marked dead (relu'd). Works on the n dead
    /// latents only (their decoder rows gathered), so it costs n/c of the main step's products.
    /// Adds dW_dec and leaves dL/dz_aux, masked to the latents used, in `aux.codeDelta` for the
    /// code layer's backward pass. Returns nil (and touches nothing) when no latent is dead.
    func auxLoss(_ aux: Workspace.AuxBuffers, _ ws: Workspace, batch: Int, gradients g: UnsafeMutablePointer<Float>) -> Double? {
        guard let settings = config.auxK, let dead = ws.dead else { return nil }
        let (d, c) = (config.inputSize, config.codeSize)
        var n = 0
        for j in 0..<c where dead[j] != 0 {
            aux.deadIndices[n] = j
            n += 1
        }
        aux.deadCount = n
        guard n > 0 else { return nil }
        let decoder = decoderLayer, output = ws.outputs[layers.count - 1]
        let wDec = parameters.baseAddress! + decoder.kernelOffset
        // z_aux: (B, n); the dead latents' decoder rows W_n: (n, d)
        sae_topk_among(aux.preCode, dead, aux.code, batch, c, settings.k)
        for t in 0..<n { (aux.decoderRows + t * d).update(from: wDec + aux.deadIndices[t] * d, count: d) }
        // e = x - x^: (B, d)
        for i in 0..<(batch * d) { aux.residual[i] = ws.input[i] - output[i] }
        // e^ = z_aux W_n: (B, d)
        BLAS.gemm(false, false, m: batch, n: d, k: n, a: aux.code, lda: n, b: aux.decoderRows, ldb: d, c: aux.reconstruction, ldc: d)
        // d(e^) = scale * 2 (e^ - e)
        let scale = settings.coefficient / Float((ws.lossBatch ?? batch) * d)
        let loss = ReconstructionLoss.mse.evaluate(logits: aux.reconstruction, targets: aux.residual, rows: batch, cols: d,
                                                   gradient: aux.reconstructionDelta, scale: scale, linear: true) * Double(scale)
        // d(z_aux) = d(e^) W_n^T: (B, n), through relu and the selection.
        BLAS.gemm(false, true, m: batch, n: n, k: d, a: aux.reconstructionDelta, lda: d, b: aux.decoderRows, ldb: d, c: aux.codeDelta, ldc: n)
        for i in 0..<(batch * n) where aux.code[i] <= 0 { aux.codeDelta[i] = 0 }
        // dW_n = z_aux^T d(e^): (n, d), into the rows' buffer, then added to the dead latents' rows.
        BLAS.gemm(true, false, m: n, n: d, k: batch, a: aux.code, lda: n, b: aux.reconstructionDelta, ldb: d, c: aux.decoderRows, ldc: d)
        for t in 0..<n {
            let (src, dst) = (aux.decoderRows + t * d, g + decoder.kernelOffset + aux.deadIndices[t] * d)
            for i in 0..<d { dst[i] += src[i] }
        }
        return loss
    }

    /// dz += d(z_aux) (scattered to the dead latents' columns) and db_enc += its column sums.  dz: (B, c)
    func addAuxCodeGradient(_ aux: Workspace.AuxBuffers, into dz: UnsafeMutablePointer<Float>,
                            biasGradient db: UnsafeMutablePointer<Float>, rows: Int) {
        let (c, n) = (config.codeSize, aux.deadCount)
        for r in 0..<rows {
            for t in 0..<n {
                let v = aux.codeDelta[r * n + t], j = aux.deadIndices[t]
                dz[r * c + j] += v
                db[j] += v
            }
        }
    }

    // MARK: - Unit-norm decoder rows

    /// Scales every decoder row (one latent's direction) to unit length, rows split over the pool.
    func normalizeDecoder() {
        let layer = decoderLayer, n = layer.outputSize
        let w = parameters.baseAddress! + layer.kernelOffset
        WorkerPool.shared.split(layer.inputSize, alignment: 1, minimumPerPart: max(1, 8192 / n)) { _, rows in
            sae_normalize_rows(w + rows.lowerBound * n, rows.count, n)
        }
    }

    /// Removes from each decoder row's gradient its component along the (unit) row,
    /// g_j -= (g_j . w_j) w_j, so a step turns the direction rather than lengthening it.
    func projectDecoderGradient(_ g: UnsafeMutablePointer<Float>) {
        let layer = decoderLayer, n = layer.outputSize
        for j in 0..<layer.inputSize {
            let w = parameters.baseAddress! + layer.kernelOffset + j * n, gj = g + layer.kernelOffset + j * n
            var dot: Float = 0
            for i in 0..<n { dot += gj[i] * w[i] }
            for i in 0..<n { gj[i] -= dot * w[i] }
        }
    }
}

extension Autoencoder {
    /// Sets b_dec to the mean training sample, so that the encoder starts on centred data and the
    /// untrained model already reconstructs the mean (the trainer does this before a dictionary's
    /// first step).
    func startDecoderBiasAtMean(of data: Dataset) {
        let d = config.inputSize
        var sums = [Double](repeating: 0, count: d)
        let chunk = 1024
        for start in stride(from: 0, to: data.count, by: chunk) {
            let rows = data.floats(start..<min(start + chunk, data.count))
            for (i, v) in rows.enumerated() { sums[i % d] += Double(v) }
        }
        let bias = layers[layers.count - 1].biasOffset
        for j in 0..<d { parameters[bias + j] = Float(sums[j] / Double(data.count)) }
    }
}
