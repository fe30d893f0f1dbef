import Foundation

/// The sparse step's route for a code that is not sparse: a selection without a fixed k (JumpReLU
/// early in training, while its thresholds are still near their start of 0.001) can keep a
/// fifth of the latents or more. The pairs' passes cost about 3 d scattered multiply-adds per
/// pair, sgemm about 6 d per (sample, latent) at ten times the speed: past `denseFraction` of
/// the latents active, decoding and the weight gradients go through sgemm on a dense copy of the
/// code instead (the numbers are the pairs' passes', in another summation order):
///
///     Z    = the pairs, scattered                         (B, c)
///     x^   = b_dec + Z W_dec                              (B, d)     sgemm
///     dZ   = (G W_dec^T) where Z > 0                      (B, c)     sgemm (into pre, no longer needed)
///     dW_dec += Z^T G,  dW_enc += dZ^T xc                 (c, d)     sgemm
///     db_enc += sums of dZ,  db_dec -= W_enc^T (sums of dZ)  (the centring's share)
///
/// Only for a selection that asks for it (`CodeSelection.mayBeDense`), whose latents are
/// relu(pre + b_enc) with the common pairs' pass, and without AuxK's pairs.
extension SparseBuffers {
    /// The share of a batch's (sample, latent) entries above which the dense route is faster: 1/8,
    /// measured at d 512, 4,096 latents, batch 1,024 on AVX-512 and AVX2 (see README, Speed).
    /// `SAE_DENSE_CODE_FRACTION` overrides it (0: always, 2: never); tests set `denseFraction`.
    static let defaultDenseFraction: Double = {
        if let text = ProcessInfo.processInfo.environment["SAE_DENSE_CODE_FRACTION"], let value = Double(text), value >= 0 { return value }
        return 1.0 / 8
    }()

    /// Whether the current pairs of `b` rows take the dense route: scatters them into `denseCode`
    /// when they do.
    func prepareDenseCode(rows b: Int, codeSize c: Int) -> Bool {
        guard let z = denseCode, auxPairs == 0, b > 0, Double(mainPairs) > denseFraction * Double(b * c) else {
            densePass = false
            return false
        }
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            (z + rows.lowerBound * c).update(repeating: 0, count: rows.count * c)
            for q in Int(rowOffsets[rows.lowerBound])..<Int(rowOffsets[rows.upperBound]) {
                z[Int(samples[q]) * c + Int(latents[q])] = values[q]
            }
        }
        densePass = true
        return true
    }
}

extension Autoencoder {
    /// x^ = b_dec + Z W_dec for rows 0..<b.  Z: (B, c), out: (B, d)
    func denseCodeDecode(_ s: SparseBuffers, rows b: Int, into out: UnsafeMutablePointer<Float>) {
        let (c, d) = (config.codeSize, config.targetSize), p = UnsafePointer(parameters.baseAddress!)
        let bDec = p + layers[1].biasOffset
        for r in 0..<b { (out + r * d).update(from: bDec, count: d) }
        BLAS.gemm(false, false, m: b, n: d, k: c, a: s.denseCode!, lda: c, b: p + layers[1].kernelOffset, ldb: d, beta: 1, c: out, ldc: d)
    }

    /// The weight gradients of the dense route (see above), given G = dL/dx^ in s.outputGradients;
    /// W_dec's come out projected for a unit-norm decoder. Overwrites s.pre with dZ.
    func denseCodeBackward(_ s: SparseBuffers, rows b: Int, inputs: UnsafePointer<Float>, centring: Bool,
                           gradients g: UnsafeMutablePointer<Float>) {
        let (c, d, dIn) = (config.codeSize, config.targetSize, config.inputSize)
        let p = UnsafePointer(parameters.baseAddress!), (encoder, decoder) = (layers[0], layers[1])
        let (z, dz, grad) = (UnsafePointer(s.denseCode!), s.pre, UnsafePointer(s.outputGradients))
        // dZ = G W_dec^T: (B, d) x (d, c), then relu's mask.
        BLAS.gemm(false, true, m: b, n: c, k: d, a: grad, lda: d, b: p + decoder.kernelOffset, ldb: d, c: dz, ldc: c)
        WorkerPool.shared.split(b * c, alignment: 16, minimumPerPart: 1 << 14) { _, r in
            for i in r where z[i] <= 0 { dz[i] = 0 }
        }
        // dW_dec += Z^T G: (c, B) x (B, d); dW_enc += dZ^T xc: (c, B) x (B, d_in)
        BLAS.gemm(true, false, m: c, n: d, k: b, a: z, lda: c, b: grad, ldb: d, beta: 1, c: g + decoder.kernelOffset, ldc: d)
        BLAS.gemm(true, false, m: c, n: dIn, k: b, a: dz, lda: c, b: inputs, ldb: dIn, beta: 1, c: g + encoder.kernelOffset, ldc: dIn)
        // The sums of dZ over the batch: db_enc's, and through the centring b_dec's.
        let sums = s.denseSums
        sums.update(repeating: 0, count: c)
        for r in 0..<b {
            let row = dz + r * c
            for j in 0..<c { sums[j] += row[j] }
        }
        let bEnc = g + encoder.biasOffset
        for j in 0..<c { bEnc[j] += sums[j] }
        if centring {
            // d(b_dec) -= W_enc^T sums: (d, c) x (c, 1), W_enc stored (c, d)
            BLAS.gemm(true, false, m: dIn, n: 1, k: c, alpha: -1, a: p + encoder.kernelOffset, lda: dIn, b: sums, ldb: 1,
                      beta: 1, c: g + decoder.biasOffset, ldc: 1)
        }
        if config.unitNormDecoder { dictionary!.projectDecoderGradient(g) }
    }
}
