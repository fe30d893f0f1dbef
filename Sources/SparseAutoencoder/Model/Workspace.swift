/// Every buffer one batch needs, allocated once (in one allocation) and reused for every step,
/// so the training loop allocates nothing.
///
/// For layer l with output width n_l and a batch of at most `capacity` rows:
/// - input: (B, inputSize), the batch itself (and the reconstruction target);
/// - outputs[l]: (B, n_l), the layer's activations (the last layer's are logits);
/// - deltas[l]: (B, n_l), the loss gradient with respect to outputs[l] during backward;
/// - scratch: (codeSize), per-unit statistics for the penalty.
final class Workspace {
    let capacity: Int
    let input: UnsafeMutablePointer<Float>
    let outputs: [UnsafeMutablePointer<Float>]
    let deltas: [UnsafeMutablePointer<Float>]
    let scratch: UnsafeMutablePointer<Float>
    private let storage: UnsafeMutableBufferPointer<Float>

    init(model: Autoencoder, capacity: Int) {
        self.capacity = capacity
        let widths = model.layers.map(\.outputSize)
        let scratchSize = model.config.codeSize
        let total = capacity * (model.config.inputSize + 2 * widths.reduce(0, +)) + scratchSize
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0)
        var next = storage.baseAddress!
        func take(_ n: Int) -> UnsafeMutablePointer<Float> {
            defer { next += n }
            return next
        }
        input = take(capacity * model.config.inputSize)
        outputs = widths.map { take(capacity * $0) }
        deltas = widths.map { take(capacity * $0) }
        scratch = take(scratchSize)
    }

    deinit { storage.deallocate() }

    /// The input of layer l: the batch for the first layer, else the previous layer's output.
    @inline(__always)
    func layerInput(_ l: Int) -> UnsafePointer<Float> {
        UnsafePointer(l == 0 ? input : outputs[l - 1])
    }
}
