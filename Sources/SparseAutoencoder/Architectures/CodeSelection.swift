/// How a dictionary SAE's sparse step chooses its code from the encoder's pre-activations: the
/// part of an architecture that differs between TopK, BatchTopK and the ones to come. Each is one
/// file in this folder and one line in `CodeSelections.make`.
///
/// The sparse step (`SparseTopK.swift`) computes pre = (x - b_dec) W_enc^T, asks the selection for
/// the batch's pairs (value, latent, sample; row r's at `rowOffsets[r] ..< rowOffsets[r + 1]`, in
/// any number), then decodes, scores and back-propagates through them alone. A pair's value is
/// relu(pre + b_enc) and its gradient reaches pre wherever the value is positive.
///
///     let selection = CodeSelections.make(for: config, state: model.selectionState)
///     selection.select(s, bias: bEnc, rows: b, training: true)      // s.mainPairs pairs
///     selection.trained(on: s, rows: b, step: adam.step)            // after the step
protocol CodeSelection: AnyObject {
    /// The most pairs a training selection makes for `rows` samples (the buffers' size).
    func trainingPairs(rows: Int) -> Int
    /// The pairs of rows 0..<b of `s.pre` (+ `bias`), into `s` (values, latents, samples, rowOffsets
    /// and mainPairs): for a training step, or for inference (encode, validation, analysis).
    func select(_ s: SparseBuffers, bias: UnsafePointer<Float>, rows b: Int, training: Bool)
    /// After training step `step`'s selection (0-based), with its pairs still in `s`: running
    /// statistics (BatchTopK's threshold).
    func trained(on s: SparseBuffers, rows b: Int, step: Int)
}

extension CodeSelection {
    func trained(on s: SparseBuffers, rows b: Int, step: Int) {}
}

/// The registry: which selection a config asks for, and the tensors it keeps in the model besides
/// the layers' kernels and biases (saved with the weights and checkpoints; Adam leaves them alone,
/// as their gradient is zero).
enum CodeSelections {
    static func make(for config: AutoencoderConfig, state: UnsafeMutablePointer<Float>?) -> CodeSelection? {
        switch config.architecture {
        case .dictionary where config.codeActivation == .topk: TopK(k: config.topK ?? config.codeSize, codeSize: config.codeSize)
        case .batchtopk: BatchTopK(k: config.topK ?? config.codeSize, codeSize: config.codeSize, threshold: state!)
        default: nil
        }
    }

    /// (name in files, shape) of each state tensor, in order.
    static func stateTensors(for config: AutoencoderConfig) -> [(name: String, shape: [Int])] {
        config.architecture == .batchtopk ? BatchTopK.stateTensors : []
    }

    /// A new model's state values that are not zero: (tensor, first value).
    static func initialState(for config: AutoencoderConfig) -> [(name: String, value: Float)] {
        config.architecture == .batchtopk ? [("threshold", -1)] : []
    }
}
