/// Every buffer one batch needs, allocated once (in one allocation) and reused for every step,
/// so the training loop allocates nothing.
///
/// For layer l with output width n_l and a batch of at most `capacity` rows:
/// - input: (B, inputSize), the batch itself (and the reconstruction target);
/// - outputs[l]: (B, n_l), the layer's activations (the last layer's are logits);
/// - deltas[l]: (B, n_l), the loss gradient with respect to outputs[l] during backward;
/// - scratch: (codeSize), per-unit statistics for the penalty.
/// A dictionary SAE also has `centered` = x - b_dec, (B, inputSize); with AuxK, `aux` holds its
/// buffers.
final class Workspace {
    let capacity: Int
    let input: UnsafeMutablePointer<Float>
    let outputs: [UnsafeMutablePointer<Float>]
    let deltas: [UnsafeMutablePointer<Float>]
    let scratch: UnsafeMutablePointer<Float>
    let centered: UnsafeMutablePointer<Float>?
    let aux: AuxBuffers?
    private let storage: UnsafeMutableBufferPointer<Float>

    /// AuxK's buffers, for n dead latents: pre-activations (B, codeSize); the dead latents' code
    /// and its gradient (B, n); the residual, its reconstruction by dead latents and that one's
    /// gradient (B, inputSize); the dead latents' decoder rows or their gradient (n, inputSize);
    /// which latents are dead (set by the trainer before each step) and their indices.
    final class AuxBuffers {
        let preCode, code, codeDelta, residual, reconstruction, reconstructionDelta, decoderRows: UnsafeMutablePointer<Float>
        let dead: UnsafeMutablePointer<UInt8>
        let deadIndices: UnsafeMutablePointer<Int>
        var deadCount = 0

        init(take: (Int) -> UnsafeMutablePointer<Float>, capacity: Int, inputSize d: Int, codeSize c: Int) {
            (preCode, code, codeDelta) = (take(capacity * c), take(capacity * c), take(capacity * c))
            (residual, reconstruction, reconstructionDelta) = (take(capacity * d), take(capacity * d), take(capacity * d))
            decoderRows = take(c * d)
            dead = .allocate(capacity: c)
            dead.initialize(repeating: 0, count: c)
            deadIndices = .allocate(capacity: c)
            deadIndices.initialize(repeating: 0, count: c)
        }

        deinit {
            dead.deallocate()
            deadIndices.deallocate()
        }
    }

    init(model: Autoencoder, capacity: Int) {
        self.capacity = capacity
        let config = model.config
        let widths = model.layers.map(\.outputSize)
        let (d, c) = (config.inputSize, config.codeSize)
        let dictionary = config.architecture == .dictionary
        let total = capacity * (d + 2 * widths.reduce(0, +)) + c
            + (dictionary ? capacity * d : 0)
            + (config.auxK != nil ? capacity * (3 * c + 3 * d) + c * d : 0)
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0)
        var next = storage.baseAddress!
        func take(_ n: Int) -> UnsafeMutablePointer<Float> {
            defer { next += n }
            return next
        }
        input = take(capacity * d)
        outputs = widths.map { take(capacity * $0) }
        deltas = widths.map { take(capacity * $0) }
        scratch = take(c)
        centered = dictionary ? take(capacity * d) : nil
        aux = config.auxK == nil ? nil : AuxBuffers(take: take, capacity: capacity, inputSize: d, codeSize: c)
    }

    deinit { storage.deallocate() }

    /// The input of layer l: the (centred) batch for the first layer, else the previous layer's output.
    @inline(__always)
    func layerInput(_ l: Int) -> UnsafePointer<Float> {
        UnsafePointer(l == 0 ? centered ?? input : outputs[l - 1])
    }
}
