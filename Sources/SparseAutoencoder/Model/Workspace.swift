/// Every buffer one batch needs, allocated once and reused for every step, so the training loop
/// allocates nothing.
///
/// For layer l with output width n_l and a batch of at most `capacity` rows:
/// - input: (B, inputSize), the batch itself;
/// - target: (B, outputSize), what the output should be: the input itself for an autoencoder, a
///   buffer of its own for a transcoder;
/// - outputs[l]: (B, n_l), the layer's activations (the last layer's are logits);
/// - deltas[l]: (B, n_l), the loss gradient with respect to outputs[l]: `loss` leaves the last
///   layer's, `backward` fills the others from it;
/// - scratch: (codeSize), per-unit terms: KL's gradient terms from `loss` to `backward`, then the
///   centring gradient's column sums.
/// A dictionary SAE (not a transcoder) also has `centered` = x - b_dec, (B, inputSize). The dense path keeps AuxK's
/// buffers in `aux`; a TopK dictionary's sparse step keeps its own in `sparse` (and no `deltas`).
final class Workspace {
    let capacity: Int
    let input: UnsafeMutablePointer<Float>
    let target: UnsafeMutablePointer<Float>
    let outputs: [UnsafeMutablePointer<Float>]
    let deltas: [UnsafeMutablePointer<Float>]
    let scratch: UnsafeMutablePointer<Float>
    let centered: UnsafeMutablePointer<Float>?
    let aux: AuxBuffers?
    let sparse: SparseBuffers?
    /// Whether outputs[code] holds the dense code (B, codeSize). The sparse step keeps its code as
    /// pairs and writes the dense one only for a workspace made with `denseCode` (analysis wants
    /// it; training and validation do not, and do not allocate it: 4 B c bytes).
    let writesDenseCode: Bool
    /// Data-parallel training (MPI): this rank holds a slice of a batch of `lossBatch` samples.
    /// Losses are then means over the whole batch (this rank's rows contribute their share) and
    /// the KL penalty's batch means are completed over every rank by `sumAcrossRanks` (which,
    /// on failure, leaves the error in `collectiveFailure`); only the rank with
    /// `countsBatchTerms` adds the penalty's batch-level value to its loss. nil: one process.
    var lossBatch: Int?
    var sumAcrossRanks: ((UnsafeMutablePointer<Float>, Int) -> Void)?
    var countsBatchTerms = true
    /// Whether this process adds the output bias's share of b_dec's gradient (the column sums of
    /// dL/dx^): false on all ranks but one of a latent-sharded step, where every rank has the
    /// whole dL/dx^ and the ranks' b_dec gradients are summed.
    var addsOutputBiasGradient = true
    /// Whether the batch is a training step's (the trainer sets it around one): a code selection
    /// may choose differently in training than at inference (BatchTopK).
    /// The sparsity coefficient's factor in this step (a `Schedule`'s warm-up; 1 outside training).
    var sparsityScale: Float = 1
    var training = false
    /// A training step's sums over the MPI ranks for batch-wide architectures (nil: one process).
    var collectives: RankCollectives?
    var collectiveFailure: Error?
    private let storage: UnsafeMutableBufferPointer<Float>

    /// AuxK's buffers for the dense path, for the n = `deadCount` dead latents it used this step
    /// (0: AuxK did not run): pre-activations (B, codeSize); the dead latents' code and its
    /// gradient (B, n); the residual, its reconstruction by dead latents and that one's gradient
    /// (B, inputSize); the dead latents' decoder rows or their gradient (n, inputSize); their indices.
    final class AuxBuffers {
        let preCode, code, codeDelta, residual, reconstruction, reconstructionDelta, decoderRows: UnsafeMutablePointer<Float>
        let deadIndices: UnsafeMutablePointer<Int>
        var deadCount = 0

        init(take: (Int) -> UnsafeMutablePointer<Float>, capacity: Int, inputSize d: Int, codeSize c: Int) {
            (preCode, code, codeDelta) = (take(capacity * c), take(capacity * c), take(capacity * c))
            (residual, reconstruction, reconstructionDelta) = (take(capacity * d), take(capacity * d), take(capacity * d))
            decoderRows = take(c * d)
            deadIndices = .allocate(capacity: c)
            deadIndices.initialize(repeating: 0, count: c)
        }

        static func floats(capacity: Int, inputSize d: Int, codeSize c: Int) -> Int { capacity * (3 * c + 3 * d) + c * d }

        deinit { deadIndices.deallocate() }
    }

    /// `sparseStep`: false forces the dense path on a model that allows the sparse TopK step
    /// (tests compare the two).
    init(model: Autoencoder, capacity: Int, sparseStep: Bool = true, denseCode: Bool = true) {
        self.capacity = capacity
        let config = model.config
        let widths = model.layers.map(\.outputSize)
        let (d, c, out) = (config.inputSize, config.codeSize, config.targetSize)
        let centring = config.isCentred
        let useSparse = sparseStep && model.supportsSparseStep
        let writesDenseCode = denseCode || !useSparse, code = model.codeLayerIndex
        self.writesDenseCode = writesDenseCode
        let outputWidths = widths.indices.map { $0 == code && !writesDenseCode ? 0 : widths[$0] }
        let total = capacity * (d + outputWidths.reduce(0, +) + (useSparse ? 0 : widths.reduce(0, +))) + c
            + (centring ? capacity * d : 0) + (config.isTranscoder ? capacity * out : 0)
            + (config.auxK != nil && !useSparse ? AuxBuffers.floats(capacity: capacity, inputSize: out, codeSize: c) : 0)
        storage = .allocate(capacity: total)
        storage.initialize(repeating: 0)
        var next = storage.baseAddress!
        func take(_ n: Int) -> UnsafeMutablePointer<Float> {
            defer { next += n }
            return next
        }
        input = take(capacity * d)
        target = config.isTranscoder ? take(capacity * out) : input
        outputs = outputWidths.map { take(capacity * $0) }
        deltas = useSparse ? [] : widths.map { take(capacity * $0) }
        scratch = take(c)
        centered = centring ? take(capacity * d) : nil
        aux = config.auxK == nil || useSparse ? nil : AuxBuffers(take: take, capacity: capacity, inputSize: out, codeSize: c)
        sparse = useSparse ? SparseBuffers(capacity: capacity, outputSize: out, codeSize: c, k: config.topK ?? c, kAux: config.auxK?.k ?? 0,
                                           mainPairs: model.selection!.trainingPairs(rows: capacity),
                                           gradientBlocks: model.selection!.gradientBlocks,
                                           denseCodes: model.selection!.mayBeDense) : nil
    }

    deinit { storage.deallocate() }

    /// Gathers `data`'s samples at `rows` into `input` (and, for a transcoder, their targets into
    /// `target`).
    @inline(__always)
    func load(_ data: Dataset, rows: UnsafeBufferPointer<Int>) {
        data.gather(rows, into: input)
        if let targets = data.targets { targets.gather(rows, into: target) }
    }

    /// The input of layer l: the (centred) batch for the first layer, else the previous layer's output.
    @inline(__always)
    func layerInput(_ l: Int) -> UnsafePointer<Float> {
        UnsafePointer(l == 0 ? centered ?? input : outputs[l - 1])
    }
}
