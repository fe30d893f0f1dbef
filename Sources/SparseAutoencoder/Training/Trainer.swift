import Foundation

/// Trains an `Autoencoder` the way Keras's `fit` does: a fresh random permutation each epoch,
/// batches in that order with the last partial batch kept, one Adam step per batch, then a
/// validation pass in batches of the same size. Reported losses include the penalty.
///
/// All buffers (workspace, gradients, Adam's moments) are allocated once; a training step
/// allocates nothing. Training can stop between any two steps and continue exactly where it
/// stopped (see `Checkpoint.swift`): each epoch's permutation is drawn from the generator as it
/// was at the epoch's start, which a checkpoint stores with the step reached.
///
/// Data-parallel over MPI ranks (`communicator`, see `Trainer+Distributed.swift`): every rank
/// draws the same permutation, takes its contiguous slice of each batch, and adds its rows'
/// gradients scaled by the whole batch; one all-reduce sums them, and every rank takes the same
/// Adam step, so the ranks hold the same weights and train on a single process's batches.
public final class Trainer {
    public let model: Autoencoder
    public let settings: TrainingSettings
    public internal(set) var history: [EpochRecord] = []
    let optimizer: Adam
    /// The generator as it is at the start of the current (or next) epoch.
    var rng: SeededGenerator
    /// Progress inside the current epoch: steps done, their sample-weighted loss sum, seconds.
    var stepInEpoch = 0
    /// The run's steps from first to last (epochs x steps per epoch): a decaying schedule's length.
    var totalSteps = 0
    var epochLossSum = 0.0
    var epochSeconds = 0.0
    var workspace: Workspace?
    let gradients: UnsafeMutableBufferPointer<Float>
    /// Why the last `fit` diverged, as advice (see `diagnoseDivergence`).
    public internal(set) var divergenceCause: String?
    /// Per latent, training samples since it last fired; AuxK's dead latents.
    let deadLatents: DeadLatents
    /// The ranks this trainer shares each batch with (`.single`: none).
    public let communicator: Communicator
    /// Seconds in the gradients' all-reduce during the current epoch.
    var allReduceSeconds = 0.0
    /// The training data's files and fingerprints (`DataFingerprint`), kept in checkpoints so that
    /// a resume on other data is refused; nil: not checked.
    package var dataFingerprint: [String: String]?
    /// Resume on data that differ from the checkpoint's (the user said so).
    package var acceptsChangedData = false

    /// Why `fit` stopped before the last epoch.
    public enum Stop: Error, Equatable {
        /// `shouldStop` said so; the trainer's state is consistent and can be checkpointed.
        case interrupted(epoch: Int, step: Int)
        /// The loss became NaN or infinite; the weights are no longer usable.
        case diverged(epoch: Int, step: Int, loss: Double)
    }

    /// Whether a TopK dictionary trains with the sparse step (false: the dense path, for tests).
    let sparseStep: Bool

    public convenience init(model: Autoencoder, settings: TrainingSettings, communicator: Communicator = .single) throws {
        try self.init(model: model, settings: settings, sparseStep: true, communicator: communicator)
    }

    init(model: Autoencoder, settings: TrainingSettings, sparseStep: Bool, communicator: Communicator = .single) throws {
        try settings.validate()
        self.model = model
        self.settings = settings
        self.sparseStep = sparseStep
        self.communicator = communicator
        optimizer = Adam(settings: settings.optimizer, parameterCount: model.parameterCount)
        // A different stream from the one that initialised the weights.
        rng = SeededGenerator(seed: settings.seed ^ 0x5348_5546_464C_4521)
        gradients = .allocate(capacity: model.parameterCount)
        gradients.initialize(repeating: 0)
        deadLatents = DeadLatents(codeSize: model.config.codeSize)
    }

    deinit { gradients.deallocate() }

    /// Trains up to `settings.epochs` epochs and returns the history.
    ///
    /// - Parameters:
    ///   - shouldStop: polled after every step; when it returns true, `fit` throws
    ///     `Stop.interrupted` with the trainer ready to be checkpointed.
    ///   - epochEnded: called after each epoch (e.g. to write a checkpoint).
    public func fit(_ train: Dataset, validation: Dataset? = nil,
                    shouldStop: () -> Bool = { false }, epochEnded: (Trainer) throws -> Void = { _ in },
                    progress: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try fit(train, validation: validation, timer: nil, shouldStop: shouldStop, epochEnded: epochEnded, progress: progress)
    }

    /// The same, with `timer` collecting the time spent in each phase (`sae bench`).
    package func fit(_ train: Dataset, validation: Dataset? = nil, timer: PhaseTimer?,
                     shouldStop: () -> Bool = { false }, epochEnded: (Trainer) throws -> Void = { _ in },
                     progress: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try checkShape(train, role: "training set")
        if let validation { try checkShape(validation, role: "validation set") }
        let batch = settings.batchSize, comm = communicator, sharded = shardsLatents
        // Under MPI, a rank holds at most its slice of a batch (rank 0's is the largest); a latent
        // shard holds the whole batch.
        let rows = comm.isDistributed && !sharded ? max(1, Communicator.slice(of: batch, rank: 0, size: comm.size).count) : batch
        if workspace == nil {
            let ws = Workspace(model: model, capacity: min(rows, train.count), sparseStep: sparseStep, denseCode: false)
            if sharded { ws.addsOutputBiasGradient = comm.isRoot } else if comm.isDistributed { prepareForRanks(ws) }
            workspace = ws
        }
        let steps = (train.count + batch - 1) / batch
        let (total, overflow) = steps.multipliedReportingOverflow(by: settings.epochs)
        totalSteps = overflow ? .max : total
        guard stepInEpoch < steps else { throw SAEError("the checkpoint is at step \(stepInEpoch) of an epoch that has only \(steps) steps: the training data differ") }
        deadLatents.deadAfter = settings.deadAfter ?? train.count
        // A dictionary starts b_dec at the mean training sample (a transcoder's at the mean target),
        // before its first step.
        if let dictionary = model.dictionary, model.config.isDictionary, history.isEmpty && stepInEpoch == 0 {
            let mine = comm.isDistributed ? comm.slice(of: train.count) : 0..<train.count
            var sums = DictionaryBehaviour.featureSums(of: train.targets ?? train, rows: mine)
            if comm.isDistributed { try comm.allReduce(&sums) }
            dictionary.startDecoderBias(sums: sums, count: train.count)
        }
        // Fisher-Yates over every index in memory; a computed permutation for streamed data.
        let order = EpochOrder(count: train.count, batchSize: rows, streamed: train.usesComputedShuffle)
        let clock = ContinuousClock()
        for epoch in stride(from: history.count + 1, through: settings.epochs, by: 1) {
            progress(.epochStart(epoch: epoch, epochs: settings.epochs, steps: steps))
            let start = clock.now
            var generator = rng
            order.shuffle(with: &generator)
            for step in stepInEpoch..<steps {
                let lo = step * batch, b = min(batch, train.count - lo)
                var loss: Double, stopRequested: Bool?
                if sharded {
                    // Every rank trains on the whole batch and reaches the same loss; a stop, and
                    // whether any shard's weights left the finite (NaN here), are agreed.
                    loss = try order.withIndices(lo..<(lo + b)) { try trainStep(train, rows: $0, timer: timer) }
                    let agreed = try agreeOnStep(loss: loss.isFinite ? 0 : 1, stop: shouldStop())
                    if agreed.loss > 0 { loss = .nan }
                    stopRequested = agreed.stop
                } else if comm.isDistributed {
                    // This rank's slice of the batch; the loss and a stop come back agreed.
                    let slice = comm.slice(of: b)
                    let share = try order.withIndices((lo + slice.lowerBound)..<(lo + slice.upperBound)) {
                        try trainStep(train, rows: $0, offset: slice.lowerBound, batch: b, timer: timer)
                    }
                    (loss, stopRequested) = try agreeOnStep(loss: share, stop: shouldStop())
                } else {
                    loss = try order.withIndices(lo..<(lo + b)) {
                        try trainStep(train, rows: $0, timer: timer)
                    }
                    stopRequested = nil
                }
                guard loss.isFinite else {
                    divergenceCause = diagnoseDivergence(train)
                    throw Stop.diverged(epoch: epoch, step: step + 1, loss: loss)
                }
                epochLossSum += loss * Double(b)
                stepInEpoch = step + 1
                let elapsed = epochSeconds + seconds(clock.now - start)
                progress(.step(epoch: epoch, step: step + 1, steps: steps, loss: epochLossSum / Double(lo + b), elapsed: elapsed))
                if stopRequested ?? shouldStop(), step + 1 < steps {
                    epochSeconds = elapsed
                    throw Stop.interrupted(epoch: epoch, step: step + 1)
                }
            }
            timer?.start()
            let validationStart = clock.now
            // (A latent shard's ranks run the whole validation set together: each pass exchanges.)
            let valLoss = comm.isDistributed && !sharded
                ? try validation.map { try validationLossOverRanks($0) }
                : validation.map { model.loss(on: $0, batchSize: batch, workspace: workspace) }
            if sharded { try checkExchanges() }
            let validationSeconds = seconds(clock.now - validationStart)
            timer?.mark(.validation)
            // Every rank must hold the same weights, and none may have met unreadable data.
            if comm.isDistributed {
                if FaultInjection.fires("drift") { model.parameters[0] += 1e-3 }
                try checkRanksAgree(after: "epoch \(epoch)", data: [train] + (validation.map { [$0] } ?? []))
            }
            // A latent is dead when it has not fired on any of the last `deadAfter` samples: not
            // known before that many samples have been trained.
            let window = deadLatents.deadAfter
            let (trained, overflow) = epoch.multipliedReportingOverflow(by: train.count)
            let deadHere = sharded ? try deadLatentsOverShards() : deadLatents.count
            let dead = overflow || trained >= window ? deadHere : nil
            let record = EpochRecord(epoch: epoch, loss: epochLossSum / Double(train.count), valLoss: valLoss,
                                     seconds: epochSeconds + seconds(clock.now - start), deadLatents: dead, deadWindow: window,
                                     validationSeconds: validation == nil ? nil : validationSeconds,
                                     allReduceSeconds: comm.isDistributed ? allReduceSeconds : nil)
            history.append(record)
            rng = generator
            (stepInEpoch, epochLossSum, epochSeconds, allReduceSeconds) = (0, 0, 0, 0)
            try epochEnded(self)
            progress(.epochEnd(record, steps: steps))
            let stop = comm.isDistributed ? try agreeOnStep(loss: 0, stop: shouldStop()).stop : shouldStop()
            if stop && epoch < settings.epochs { throw Stop.interrupted(epoch: epoch + 1, step: 0) }
        }
        return history
    }

    /// One step on the samples `rows` of `data`, in llm.c's order: forward, loss, backward, update
    /// (see `Autoencoder+Step.swift`); returns the batch's objective (reconstruction + penalty; AuxK's
    /// loss only steers the gradient), NaN when the step left a weight non-finite.
    ///
    /// Under MPI, `rows` are this rank's slice of a batch of `batch` samples, starting at
    /// `offset` in it (possibly none: a short last batch over many ranks); the returned loss is
    /// this rank's share of the batch's, and the gradients are summed over the ranks before Adam.
    @inline(__always)
    func trainStep(_ data: Dataset, rows: UnsafeBufferPointer<Int>, offset: Int = 0, batch: Int? = nil,
                   timer: PhaseTimer? = nil) throws -> Double {
        let ws = workspace!, b = rows.count, total = batch ?? b
        timer?.start()
        if b > 0 { ws.load(data, rows: rows) }
        timer?.mark(.data)
        ws.training = true
        // The schedule's factors for this step (updates so far = its index): the penalty's in the
        // loss, the learning rate's in the update.
        if let schedule = settings.schedule {
            ws.sparsityScale = schedule.sparsityFactor(step: optimizer.step)
            optimizer.learningRateFactor = schedule.learningRateFactor(step: optimizer.step, of: totalSteps)
        }
        defer { (ws.training, ws.sparsityScale) = (false, 1) }
        // Under MPI, a batch-wide architecture's selection is collective: a rank without rows in
        // this batch (a short last batch over many ranks) takes part too.
        let batchWide = communicator.isDistributed && model.config.architecture.isBatchWide
        if b > 0 || batchWide {
            model.forward(ws, batch: b)
            if let s = ws.sparse { model.selection?.trained(on: s, rows: b, step: optimizer.step, ranks: ws.collectives) }
        }
        let dataParallel = communicator.isDistributed && !shardsLatents
        if dataParallel {
            try recordFiringOverRanks(ws, rows: b, offset: offset, batch: total)
        } else {
            deadLatents.recordFiring(ws, codeLayer: model.codeLayerIndex, rows: b)   // (a latent shard: its own latents)
        }
        timer?.mark(.forward)
        // The gradients are all zeros here: the last update cleared them as it read them.
        let loss = dataParallel
            ? try lossAndBackwardOverRanks(ws, rows: b, batch: total, timer: timer)
            : lossAndBackward(ws, rows: b, timer: timer)
        if dataParallel { try sumGradientsOverRanks() }
        if shardsLatents { try sumShardedGradients() }
        if let limit = settings.maxGradientNorm { try clipGradients(to: limit) }
        let finite = model.update(with: optimizer, gradients: gradients.baseAddress!)
        timer?.mark(.optimizer)
        return finite ? loss.objective : .nan
    }

    /// Scales the step's gradient down to norm `limit` when above it (`GradientClipping`); the
    /// norm of the whole model's gradient: a latent shard's rows summed over the ranks, the
    /// replicated b_dec counted once.
    func clipGradients(to limit: Float) throws {
        let g = gradients.baseAddress!, n = model.parameterCount
        var squares: Double
        if shardsLatents {
            let replicated = model.layers[model.codeLayerIndex + 1].biasOffset
            squares = GradientClipping.sumOfSquares(g, count: replicated)
            if communicator.rank == 0 { squares += GradientClipping.sumOfSquares(g + replicated, count: n - replicated) }
            try communicator.allReduce(&squares, count: 1)
        } else {
            squares = GradientClipping.sumOfSquares(g, count: n)
        }
        GradientClipping.scale(g, count: n, norm: squares.squareRoot(), to: limit)
    }

    /// The loss of the batch in the workspace, and its gradient added into `gradients`.
    @inline(__always)
    func lossAndBackward(_ ws: Workspace, rows b: Int, timer: PhaseTimer?) -> Autoencoder.BatchLoss {
        let loss = model.loss(ws, batch: b, dead: deadLatents, keepingGradient: true)
        timer?.mark(.loss)
        model.backward(ws, batch: b, gradients: gradients.baseAddress!)
        timer?.mark(.backward)
        return loss
    }

    private func checkShape(_ data: Dataset, role: String) throws {
        guard data.featureCount == model.config.inputSize else {
            throw SAEError("the \(role) has \(data.featureCount) features per sample (\(data.height)x\(data.width)) "
                + "but the model expects \(model.config.inputSize)")
        }
        guard data.count > 0 else { throw SAEError("the \(role) is empty") }
        let config = model.config
        if config.isTranscoder, let targets = data.targets, targets.featureCount != config.targetSize {
            throw SAEError("the \(role)'s targets have \(targets.featureCount) features per row but the transcoder predicts \(config.targetSize)")
        }
        if config.isTranscoder != (data.targets != nil) {
            throw SAEError(config.isTranscoder ? "the \(role) has no targets, but the model is a transcoder: give its target vectors (--target-npy)"
                                               : "the \(role) has targets, but the model is an autoencoder (not a transcoder)")
        }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

extension Autoencoder {
    /// Trains this model (see `Trainer`) and returns the per-epoch history.
    @discardableResult
    public func fit(_ train: Dataset, validation: Dataset? = nil, settings: TrainingSettings = TrainingSettings(),
                    progress: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        let trainer = try Trainer(model: self, settings: settings)
        do {
            return try trainer.fit(train, validation: validation, progress: progress)
        } catch Trainer.Stop.diverged(let epoch, let step, let loss) {
            throw SAEError.diverged(epoch: epoch, step: step, loss: loss, learningRate: settings.optimizer.learningRate,
                                    cause: trainer.divergenceCause)
        }
    }
}

extension Trainer {
    /// The likeliest reason a training diverged, as advice that works: inputs far too large, a
    /// penalty or AuxK weight far too strong, else the learning rate.
    func diagnoseDivergence(_ data: Dataset) -> String {
        let largest = data.floats(0..<min(data.count, 4096)).reduce(Float(0)) { max($0, abs($1)) }
        if largest > 1e6 || !largest.isFinite {
            return "the input values reach \(largest): scale or standardise the data first (sae trains on them as they are)"
        }
        switch model.config.penalty {
        case .l1(let lambda) where lambda > 1:
            return "--l1 \(lambda) is far too strong (the tutorial's is 1e-5): lower it"
        case .kl(_, let beta) where beta > 1_000:
            return "--beta \(beta) is far too strong (the tutorial's is 3): lower it"
        default: break
        }
        if let aux = model.config.auxK, aux.coefficient > 1_000 {
            return "--auxk-coefficient \(aux.coefficient) is far too strong (the default is 1/32): lower it"
        }
        let lr = settings.optimizer.learningRate
        return "the learning rate (\(lr)) is most likely too high for this model: try --learning-rate \(lr / 10) or lower"
    }
}

extension SAEError {
    package static func diverged(epoch: Int, step: Int, loss: Double, learningRate: Float, cause: String? = nil) -> SAEError {
        let reason = cause ?? "the learning rate (\(learningRate)) is most likely too high for this model: try --learning-rate \(learningRate / 10) or lower"
        return SAEError("training diverged at epoch \(epoch), step \(step): the loss became \(loss.isNaN ? "NaN" : "\(loss)"); " + reason)
    }
}
