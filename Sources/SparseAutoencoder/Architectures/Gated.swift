import CKernels
import Foundation

extension AutoencoderConfig.Architecture {
    /// A dictionary whose gate and magnitude share the encoder (`Gated`).
    public static let gated = Self(named: "gated")
}

extension AutoencoderConfig {
    /// A gated SAE's L1 weight on its gates (nil: `Gated.defaultL1`; nil in any other config).
    public var gateL1: Float? {
        get { (settings as? GatedSettings)?.l1 }
        set { if let newValue { settings = GatedSettings(l1: newValue) } else if settings is GatedSettings { settings = nil } }
    }
}

/// Gated's setting: the L1 weight on its open gates (config.json: `gateL1`, a number).
public struct GatedSettings: ArchitectureSettings {
    public static let key = "gateL1", option = "--gate-l1"
    public var l1: Float

    public init(l1: Float) { self.l1 = l1 }
    public init(from decoder: Decoder) throws { l1 = try decoder.singleValueContainer().decode(Float.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(l1)
    }
}

/// The Gated SAE (Rajamanoharan et al. 2024; dictionary_learning's `GatedAutoEncoder`, SAELens's
/// `gated`): one encoder W serves a gate, which decides whether a latent is active, and a
/// magnitude, which decides how much. With pre = (x - b_dec) W^T:
///
///     π_gate = pre + b_gate                  open where > 0 (no gradient through the step)
///     z      = relu(exp(r_mag) pre + b_mag)  where the gate is open, else 0
///     x^     = z W_dec + b_dec
///
/// The L1 of relu(π_gate) (λ, `--gate-l1`) makes gates close, and an auxiliary reconstruction from
/// the gates alone, x^_gate = relu(π_gate) W_dec + b_dec with W_dec and b_dec held fixed, gives
/// the gate its reason to open; the magnitude gets the reconstruction's gradient. The L1 needs
/// no decoder norms here: the decoder rows stay at unit length. All three terms are means over
/// B·d as sae's reconstruction is (the peers': a sum over d, a mean over B: sae's objective is
/// theirs divided by d, with the same λ).
///
///     sae train --data-npy acts.npy --architecture gated --gate-l1 0.1 --code 4096 --adam-beta1 0
final class Gated: SparseArchitecture {
    static let architecture = AutoencoderConfig.Architecture.gated
    static let traits = ArchitectureTraits(hasSparsityPenalty: true, clipsGradient: true, saelensArchitecture: "gated", saelensEncoderBias: "b_gate")
    static let help = "gate and magnitude paths sharing the encoder, an L1 on the gates: --gate-l1"
    static let settingsType: (any ArchitectureSettings.Type)? = GatedSettings.self
    static let sweep: ArchitectureSweep? = ArchitectureSweep(list: "gate-l1", label: "l1") { config, value, _ in config.gateL1 = Float(value) }
    /// The magnitude path reads the shifted pre-activations too: b_mag += exp(r_mag) shift.
    static func foldInputShift(_ shift: [Float], into tensors: inout [String: Safetensors.Tensor]) {
        guard let rMag = tensors["r_mag"], let bMag = tensors["b_mag"] else { return }
        tensors["b_mag"]!.values = (0..<shift.count).map { bMag.values[$0] + exp(rMag.values[$0]) * shift[$0] }
    }

    static func objectiveText(_ config: AutoencoderConfig) -> String? {
        "L1 of the gates (lambda \(config.gateL1 ?? defaultL1)) + the gates' reconstruction"
    }

    static func validate(_ config: AutoencoderConfig) throws {
        guard config.topK == nil else { throw SAEError.badSetting("--k", "a gated SAE has no k: its gates choose (use --gate-l1)") }
        guard config.codeActivation == .relu, config.penalty == .none else {
            throw SAEError.badSetting("--penalty", "a gated SAE takes its L1 on the gates (--gate-l1), not --penalty or --code-activation")
        }
        if let l1 = config.gateL1, !(l1 >= 0 && l1.isFinite) { throw SAEError.badSetting("--gate-l1", "must be >= 0, got \(l1)") }
    }
    /// dictionary_learning's `l1_penalty`.
    static let defaultL1: Float = 0.1
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] {
        [ArchitectureTensor(name: "r_mag", shape: [config.codeSize], trainable: true, initial: 0),
         ArchitectureTensor(name: "b_mag", shape: [config.codeSize], trainable: true, initial: 0)]
    }

    let l1: Float, codeSize: Int
    /// r_mag then b_mag (c each), in the model's parameters.
    let rMag: UnsafeMutablePointer<Float>
    var bMag: UnsafeMutablePointer<Float> { rMag + codeSize }
    /// exp(r_mag), for the step.
    private var scale: [Float]
    /// Per pair: the open gate's value and the pre-activation.
    private var gates: [Float] = [], pres: [Float] = []
    /// x^_gate and dL_aux/dx^_gate: (B, d) each.
    private var gateReconstruction: [Float] = [], auxGradients: [Float] = []
    private var l1Step: Float = 0
    /// The dense route's gates (B, c) and its per-part sums (parts, 3c): `DenseCodePass.swift`.
    private var denseGates: [Float] = [], denseSums: [Float] = []

    init(l1: Float, codeSize: Int, tensors: UnsafeMutablePointer<Float>) {
        (self.l1, self.codeSize, rMag) = (l1, codeSize, tensors)
        scale = [Float](repeating: 1, count: codeSize)
    }

    convenience init(config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) {
        self.init(l1: config.gateL1 ?? Gated.defaultL1, codeSize: config.codeSize, tensors: tensors!)
    }

    func trainingPairs(rows: Int) -> Int { rows * min(codeSize, 64) }
    /// Its gates start open for about half the latents.
    var mayBeDense: Bool { true }

    func select(_ s: SparseBuffers, bias bGate: UnsafePointer<Float>, rows b: Int, training: Bool, ranks: RankCollectives?) {
        let c = codeSize
        for j in 0..<c { scale[j] = Foundation.exp(rMag[j]) }
        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
            _ = sae_gated_count(s.pre + rows.lowerBound * c, bGate, rows.count, c, s.rowOffsets + 1 + rows.lowerBound)
        }
        s.rowOffsets[0] = 0
        for r in 0..<b { s.rowOffsets[r + 1] += s.rowOffsets[r] }
        let total = Int(s.rowOffsets[b])
        s.reservePairs(total)
        (s.mainPairs, s.auxPairs) = (total, 0)
        if gates.count < s.pairCapacity { (gates, pres) = ([Float](repeating: 0, count: s.pairCapacity), [Float](repeating: 0, count: s.pairCapacity)) }
        let bMag = UnsafePointer(self.bMag)
        scale.withUnsafeBufferPointer { sc in
            gates.withUnsafeMutableBufferPointer { gt in
                pres.withUnsafeMutableBufferPointer { pr in
                    WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                        sae_gated_fill(s.pre + rows.lowerBound * c, bGate, sc.baseAddress!, bMag, rows.count, c, rows.lowerBound,
                                       s.rowOffsets + rows.lowerBound, s.values, gt.baseAddress!, pr.baseAddress!, s.latents, s.samples)
                    }
                }
            }
        }
    }

    /// λ times the mean L1 of the open gates, plus the gates' own reconstruction's error (its
    /// gradient kept for the pairs' pass).
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double {
        let d = context.outputSize, n = b * d, scale = 1 / Float(context.lossBatch * d)
        if gateReconstruction.count < n { (gateReconstruction, auxGradients) = ([Float](repeating: 0, count: n), [Float](repeating: 0, count: n)) }
        var l1Sum: Float = 0
        for q in 0..<s.mainPairs { l1Sum += gates[q] }
        let l1 = self.l1 * context.sparsityScale
        l1Step = l1 * scale
        let wDec = context.parameters + context.decoderOffset, bDec = context.parameters + context.decoderBiasOffset
        let aux = gates.withUnsafeBufferPointer { gt in
            gateReconstruction.withUnsafeMutableBufferPointer { out in
                auxGradients.withUnsafeMutableBufferPointer { grad -> Double in
                    if s.densePass {
                        denseGateDecode(s, rows: b, gates: gt.baseAddress!, decoder: wDec, bias: bDec, outputSize: d, into: out.baseAddress!)
                    } else {
                        WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                            sae_sparse_decode(gt.baseAddress!, s.latents, s.rowOffsets + rows.lowerBound, rows.count, wDec, bDec, d,
                                              out.baseAddress! + rows.lowerBound * d)
                        }
                    }
                    return ReconstructionLoss.mse.evaluate(logits: out.baseAddress!, targets: context.target, rows: b, cols: d,
                                                           gradient: context.keepingGradient ? grad.baseAddress! : nil, scale: scale,
                                                           linear: true) * Double(scale)
                }
            }
        }
        return Double(l1 * l1Sum * scale) + aux
    }

    /// Both paths through the shared encoder, the gate's and the magnitude's tensors, and the
    /// decoder's gradient from the magnitude alone (`sae_gated_weight_gradients`).
    func weightGradients(_ pass: PairsPass) -> Bool {
        if pass.dense { return denseWeightGradients(pass) }
        let (s, c, d) = (pass.s, codeSize, pass.outputSize)
        pres.withUnsafeBufferPointer { pr in
            auxGradients.withUnsafeBufferPointer { aux in
                scale.withUnsafeBufferPointer { sc in
                    var description = sae_gated_pairs(rows: pass.rows, d: d, d_in: pass.inputSize, values: s.values, pres: pr.baseAddress!, samples: s.samples,
                                                      offsets: s.offsets, order: s.order, inputs: pass.inputs,
                                                      output_gradients: s.outputGradients, aux_gradients: aux.baseAddress!, l1_step: l1Step)
                    withUnsafePointer(to: &description) { pairs in
                        let g = pass.gradients
                        WorkerPool.shared.run { part in
                            sae_gated_weight_gradients(pairs, Int(pass.bounds[part]), Int(pass.bounds[part + 1]),
                                                       pass.parameters + pass.encoderOffset, pass.parameters + pass.decoderOffset,
                                                       sc.baseAddress!, g + pass.encoderOffset, g + pass.encoderBiasOffset,
                                                       g + pass.tensorsOffset, g + pass.tensorsOffset + c, g + pass.decoderOffset,
                                                       pass.bDecPartial(part), pass.projectDecoder ? 1 : 0)
                        }
                    }
                }
            }
        }
        return true
    }

    // MARK: - The dense route (DenseCodePass.swift), for gates open on more than 1/8 of the entries

    /// x^_gate = b_dec + Gt W_dec, Gt the open gates scattered: (B, c) x (c, d).
    private func denseGateDecode(_ s: SparseBuffers, rows b: Int, gates: UnsafePointer<Float>, decoder wDec: UnsafePointer<Float>,
                                 bias bDec: UnsafePointer<Float>, outputSize d: Int, into out: UnsafeMutablePointer<Float>) {
        let c = codeSize
        if denseGates.count < s.rows * c { denseGates = [Float](repeating: 0, count: s.rows * c) }
        denseGates.withUnsafeMutableBufferPointer { gt in
            let z = gt.baseAddress!
            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { _, rows in
                (z + rows.lowerBound * c).update(repeating: 0, count: rows.count * c)
                for q in Int(s.rowOffsets[rows.lowerBound])..<Int(s.rowOffsets[rows.upperBound]) {
                    z[Int(s.samples[q]) * c + Int(s.latents[q])] = gates[q]
                }
            }
            for r in 0..<b { (out + r * d).update(from: bDec, count: d) }
            BLAS.gemm(false, false, m: b, n: d, k: c, a: z, lda: c, b: wDec, ldb: d, beta: 1, c: out, ldc: d)
        }
    }

    /// The weight gradients through sgemm, as `sae_gated_weight_gradients` computes them pair by pair:
    ///
    ///     dW_dec += V^T G                                  (c, d)   the magnitudes V = s.denseCode
    ///     dz = G W_dec^T,  da = G_aux W_dec^T              (B, c)   into s.pre and the gates' buffer
    ///     per open entry: d(gate) = λ-step + da, d_enc = d(gate) + exp(r_mag) dz (value > 0)
    ///     dW += D_enc^T xc,  db_gate += sums of d(gate),  db_mag += sums of dz,  dr_mag += exp(r_mag) sums of dz pre
    ///     db_dec -= W^T (sums of d_enc)                    (the centring, left in the first part's partial)
    private func denseWeightGradients(_ pass: PairsPass) -> Bool {
        let (s, c, d, dIn, b) = (pass.s, codeSize, pass.outputSize, pass.inputSize, pass.rows)
        let p = pass.parameters, g = pass.gradients, wDec = p + pass.decoderOffset
        let (values, dz, dEnc) = (UnsafePointer(s.denseCode!), s.pre, s.denseCode!)
        let parts = WorkerPool.shared.parts
        if denseSums.count < parts * 3 * c { denseSums = [Float](repeating: 0, count: parts * 3 * c) }
        BLAS.gemm(true, false, m: c, n: d, k: b, a: values, lda: c, b: s.outputGradients, ldb: d, beta: 1, c: g + pass.decoderOffset, ldc: d)
        BLAS.gemm(false, true, m: b, n: c, k: d, a: s.outputGradients, lda: d, b: wDec, ldb: d, c: dz, ldc: c)
        auxGradients.withUnsafeBufferPointer { aux in
            denseGates.withUnsafeMutableBufferPointer { da in
                BLAS.gemm(false, true, m: b, n: c, k: d, a: aux.baseAddress!, lda: d, b: wDec, ldb: d, c: da.baseAddress!, ldc: c)
                scale.withUnsafeBufferPointer { sc in
                    pres.withUnsafeBufferPointer { pr in
                        denseSums.withUnsafeMutableBufferPointer { sums in
                            sums.update(repeating: 0)
                            // d_enc replaces the magnitudes (their product is done), row range by row range.
                            WorkerPool.shared.split(b, alignment: 1, minimumPerPart: 8) { part, rows in
                                let mine = sums.baseAddress! + part * 3 * c
                                (dEnc + rows.lowerBound * c).update(repeating: 0, count: rows.count * c)
                                sae_gated_dense_terms(Int(s.rowOffsets[rows.lowerBound]), Int(s.rowOffsets[rows.upperBound]), s.samples, s.latents,
                                                      s.values, pr.baseAddress!, sc.baseAddress!, dz, da.baseAddress!, l1Step, c, dEnc,
                                                      mine, mine + c, mine + 2 * c)
                            }
                        }
                    }
                }
            }
        }
        BLAS.gemm(true, false, m: c, n: dIn, k: b, a: dEnc, lda: c, b: pass.inputs, ldb: dIn, beta: 1, c: g + pass.encoderOffset, ldc: dIn)
        // The parts' sums in a fixed order.
        let (gGate, gRMag, gBMag) = (g + pass.encoderBiasOffset, g + pass.tensorsOffset, g + pass.tensorsOffset + c)
        denseSums.withUnsafeMutableBufferPointer { sums in
            for part in 0..<parts {
                let mine = sums.baseAddress! + part * 3 * c
                for j in 0..<c {
                    gGate[j] += mine[j]
                    gBMag[j] += mine[c + j]
                    gRMag[j] += scale[j] * mine[2 * c + j]
                }
            }
            // b_dec's share through the centring, from d_enc's column sums (in the first part's room),
            // left in the first part's partial for the step to add (the others zero).
            guard let first = pass.bDecPartial(0) else { return }
            for part in 1..<max(parts, 1) { _ = pass.bDecPartial(part) }
            let encSums = sums.baseAddress!
            encSums.update(repeating: 0, count: c)
            for r in 0..<b { for j in 0..<c { encSums[j] += dEnc[r * c + j] } }
            BLAS.gemm(true, false, m: dIn, n: 1, k: c, alpha: -1, a: p + pass.encoderOffset, lda: dIn, b: encSums, ldb: 1,
                      c: first, ldc: 1)
        }
        // Unit-norm decoder rows: each row's gradient loses its component along the row.
        if pass.projectDecoder {
            let gDec = g + pass.decoderOffset
            WorkerPool.shared.split(c, alignment: 1, minimumPerPart: 64) { _, rows in
                for j in rows {
                    let (gj, wj) = (gDec + j * d, wDec + j * d)
                    var along: Float = 0
                    for i in 0..<d { along += gj[i] * wj[i] }
                    for i in 0..<d { gj[i] -= along * wj[i] }
                }
            }
        }
        return true
    }
}
