/// How a dictionary SAE's sparse step chooses its code from the encoder's pre-activations, and
/// what else that choice adds to the step: the part of an architecture that differs between TopK,
/// BatchTopK, JumpReLU and the ones to come. Each is one file in this folder and one line in
/// `CodeSelections.make`.
///
/// The sparse step (`SparseTopK.swift`) computes pre = (x - b_dec) W_enc^T, asks the selection for
/// the batch's pairs (value, latent, sample; row r's at `rowOffsets[r] ..< rowOffsets[r + 1]`, in
/// any number), then decodes, scores and back-propagates through them alone. A pair's value is
/// relu(pre + b_enc) and its gradient reaches pre wherever the value is positive. A selection may
/// keep tensors of its own in the model (`CodeSelections.tensors`: BatchTopK's threshold, learned
/// or not), add a penalty to the loss and the gradient of its own tensors.
///
///     let selection = CodeSelections.make(for: config, tensors: pointer)
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
    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool)
    /// After training step `step`'s selection (0-based), with its pairs still in `s`: running
    /// statistics (BatchTopK's threshold).
    func trained(on s: SparseBuffers, rows b: Int, step: Int)
    /// The selection's own term of the objective (JumpReLU's L0 penalty), for the last selection.
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double
    /// After the weight gradients (`s.outputGradients` holds dL/dx^): adds the gradient of the
    /// selection's own tensors into `g`.
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>)
}

extension CodeSelection {
    func trained(on s: SparseBuffers, rows b: Int, step: Int) {}
    func penalty(_ s: SparseBuffers, rows b: Int, context: SelectionContext) -> Double { 0 }
    func addGradients(_ s: SparseBuffers, rows b: Int, context: SelectionContext, gradients g: UnsafeMutablePointer<Float>) {}
}

/// What a selection's penalty and gradient need from the model and the step.
struct SelectionContext {
    /// The parameters and gradients' layout: where W_dec (c, d) is, and the selection's tensors.
    let parameters: UnsafePointer<Float>
    let decoderOffset: Int, inputSize: Int
    /// Where the selection's tensors start, in the parameters and in the gradients.
    let tensorsOffset: Int
    /// The batch the loss is a mean over (this rank's rows are part of it under MPI).
    let lossBatch: Int
}

/// A tensor an architecture keeps in the model besides its layers' kernels and biases: saved with
/// the weights and in checkpoints, updated by Adam when `trainable` (else its gradient stays zero
/// and Adam leaves it as the selection sets it).
struct ArchitectureTensor {
    let name: String
    let shape: [Int]
    let trainable: Bool
    /// Its value in a new model.
    let initial: Float
}

/// The registry: which selection a config asks for, and the tensors it keeps.
enum CodeSelections {
    /// `tensors`: the first of the selection's tensors in the model's parameters.
    static func make(for config: AutoencoderConfig, tensors: UnsafeMutablePointer<Float>?) -> CodeSelection? {
        let (c, k) = (config.codeSize, config.topK ?? config.codeSize)
        switch config.architecture {
        case .dictionary where config.codeActivation == .topk: return TopK(k: k, codeSize: c)
        case .batchtopk: return BatchTopK(k: k, codeSize: c, threshold: tensors!)
        case .jumprelu: return JumpReLU(settings: config.jumpReLU ?? JumpReLUSettings(), codeSize: c, thresholds: tensors!)
        default: return nil
        }
    }

    /// The selection's tensors, in order, after the layers'.
    static func tensors(for config: AutoencoderConfig) -> [ArchitectureTensor] {
        switch config.architecture {
        case .batchtopk: BatchTopK.tensors
        case .jumprelu: JumpReLU.tensors(codeSize: config.codeSize)
        default: []
        }
    }
}
