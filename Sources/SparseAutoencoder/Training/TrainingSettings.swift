/// How to train: the tutorial's defaults (30 epochs, batches of 256, Adam with Keras's defaults).
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: AdamSettings
    /// Seeds the initial weights and every epoch's shuffle.
    public var seed: UInt64
    /// A code unit is a dead latent once it has not fired (> 0) on this many consecutive training
    /// samples (default: one epoch's worth). AuxK revives the latents dead at each step.
    public var deadAfter: Int?
    /// The number of MPI ranks that share each batch (`mpirun -np N sae train`); nil for one
    /// process. `--resume` needs the same number: it fixes how batches split and sums round.
    public var ranks: Int?
    /// The ranks hold a slice of the latents each and train on every batch whole (`LatentShard`),
    /// rather than the whole model and a slice of each batch; nil or false: data-parallel.
    public var shardLatents: Bool?
    /// How the learning rate and the sparsity coefficient change step by step; nil: constant.
    public var schedule: Schedule?
    /// Each step's gradient is scaled down to this global L2 norm when above it, before Adam
    /// (`GradientClipping`); nil: never. dictionary_learning's clipping at 1.0 is 1 / d here.
    public var maxGradientNorm: Float?

    public init(epochs: Int = 30, batchSize: Int = 256, optimizer: AdamSettings = AdamSettings(), seed: UInt64 = 1,
                deadAfter: Int? = nil, ranks: Int? = nil, schedule: Schedule? = nil, maxGradientNorm: Float? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.seed = seed
        self.deadAfter = deadAfter
        self.ranks = ranks
        self.schedule = schedule
        self.maxGradientNorm = maxGradientNorm
    }

    /// What differs between two settings, as "batch size 256 -> 512".
    static func differences(_ a: TrainingSettings, _ b: TrainingSettings) -> [String] {
        var out: [String] = []
        if a.batchSize != b.batchSize { out.append("batch size \(a.batchSize) -> \(b.batchSize)") }
        if a.seed != b.seed { out.append("seed \(a.seed) -> \(b.seed)") }
        if a.optimizer != b.optimizer { out.append("Adam \(a.optimizer) -> \(b.optimizer)") }
        if a.deadAfter != b.deadAfter { out.append("dead after \(a.deadAfter.map(String.init) ?? "one epoch") -> \(b.deadAfter.map(String.init) ?? "one epoch")") }
        if a.ranks != b.ranks { out.append("ranks \(a.ranks ?? 1) -> \(b.ranks ?? 1)") }
        if (a.shardLatents ?? false) != (b.shardLatents ?? false) { out.append("latents sharded \(a.shardLatents == true ? "yes" : "no") -> \(b.shardLatents == true ? "yes" : "no")") }
        if a.maxGradientNorm != b.maxGradientNorm {
            out.append("gradient norm clipped at \(a.maxGradientNorm.map { "\($0)" } ?? "none") -> \(b.maxGradientNorm.map { "\($0)" } ?? "none")")
        }
        if a.schedule != b.schedule { out.append("schedule \(a.schedule?.summaryText ?? "constant") -> \(b.schedule?.summaryText ?? "constant")") }
        return out.isEmpty ? ["epochs"] : out
    }

    /// 16,777,216 samples: far above any batch an SAE is trained with.
    public static let maximumBatchSize = 1 << 24

    public func validate() throws {
        guard epochs > 0 else { throw SAEError.badSetting("--epochs", "must be > 0, got \(epochs)") }
        guard batchSize > 0 else { throw SAEError.badSetting("--batch-size", "must be > 0, got \(batchSize)") }
        // Bounded so that every count and size derived from it (steps, buffers, byte counts) fits.
        guard batchSize <= Self.maximumBatchSize else {
            throw SAEError.badSetting("--batch-size", "at most \(Self.maximumBatchSize), got \(batchSize)")
        }
        guard epochs <= 1_000_000 else { throw SAEError.badSetting("--epochs", "at most 1000000, got \(epochs)") }
        let o = optimizer
        guard o.beta1 >= 0, o.beta1 < 1, o.beta2 >= 0, o.beta2 < 1, o.epsilon > 0, o.epsilon.isFinite else {
            throw SAEError.badSetting("Adam settings", "need 0 <= beta1, beta2 < 1 and epsilon > 0")
        }
        if let n = deadAfter, n <= 0 { throw SAEError.badSetting("--dead-after", "must be > 0 samples, got \(n)") }
        try schedule?.validate()
        if let limit = maxGradientNorm, !(limit > 0 && limit.isFinite) {
            throw SAEError.badSetting("--max-grad-norm", "must be a finite number > 0 (a 32-bit float: at most 3.4e38), got \(limit)")
        }
        if let n = ranks, n < 2 { throw SAEError.badSetting("ranks", "must be at least 2 (absent for one process), got \(n)") }
        if shardLatents == true && ranks == nil {
            throw SAEError.badSetting("--shard-latents", "splits the latents over MPI ranks: run under mpirun -np N (N at least 2)")
        }
        let lr = optimizer.learningRate
        guard lr.isFinite else { throw SAEError.badSetting("--learning-rate", "must be a number > 0 that a 32-bit float holds (at most 3.4e38), got one out of range") }
        guard lr > 0 else { throw SAEError.badSetting("--learning-rate", "must be > 0, got \(lr)") }
    }
}

/// One epoch's numbers, as Keras's History records them (plus the wall-clock time).
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Sample-weighted mean of the batch losses (reconstruction + penalty) during the epoch.
    public var loss: Double
    /// The same on the validation set after the epoch, if there is one.
    public var valLoss: Double?
    /// Training plus validation time for the epoch.
    public var seconds: Double
    /// Dead latents: code units that fired (> 0) on none of the last `deadWindow` training
    /// samples; nil until that many samples have been trained (or where nothing was tracked).
    public var deadLatents: Int?
    /// The window, in training samples, that `deadLatents` is counted over (nil in older runs,
    /// whose window was one epoch).
    public var deadWindow: Int?
    /// The validation pass's share of `seconds` (training alone: seconds - validationSeconds).
    public var validationSeconds: Double?
    /// MPI runs: seconds this rank (0) spent in the gradients' all-reduce during the epoch, with
    /// its wait for the slowest rank.
    public var allReduceSeconds: Double?

    public init(epoch: Int, loss: Double, valLoss: Double?, seconds: Double, deadLatents: Int? = nil, deadWindow: Int? = nil,
                validationSeconds: Double? = nil, allReduceSeconds: Double? = nil) {
        self.epoch = epoch
        self.loss = loss
        self.valLoss = valLoss
        self.seconds = seconds
        self.deadLatents = deadLatents
        self.deadWindow = deadWindow
        self.validationSeconds = validationSeconds
        self.allReduceSeconds = allReduceSeconds
    }
}

/// What `fit` reports as it goes.
public enum TrainingEvent: Sendable {
    case epochStart(epoch: Int, epochs: Int, steps: Int)
    /// After each step: the running (sample-weighted) mean loss of the epoch so far.
    case step(epoch: Int, step: Int, steps: Int, loss: Double, elapsed: Double)
    case epochEnd(EpochRecord, steps: Int)
}
