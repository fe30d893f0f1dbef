import Foundation
import SparseAutoencoder

/// The whole job behind `sae train`: build the model a `RunConfig` describes (or restore it from
/// the run's checkpoint), train it with validation on the test set, evaluate it, and write the
/// run directory.
///
/// Nothing finished is lost: `checkpoint.safetensors` is rewritten atomically after every epoch
/// (and when training is interrupted), so a crash at any instant leaves the previous one valid,
/// and `resume: true` continues from it to exactly the weights of an uninterrupted run.
package enum TrainingRun {
    /// Thrown when `shouldStop` interrupted training; the checkpoint has been saved.
    package struct Interrupted: Error, CustomStringConvertible {
        package let description: String
    }

    @discardableResult
    package static func run(_ config: RunConfig, train: Dataset, test: Dataset, into directory: RunDirectory,
                           resume: Bool = false, shouldStop: @escaping () -> Bool = { false },
                           progress: (TrainingEvent) -> Void = { _ in }) throws -> RunMetrics {
        try self.train(config, train: train, test: test, into: directory, resume: resume, shouldStop: shouldStop, progress: progress)!
    }

    /// `run`, data-parallel over `communicator`'s ranks (see `Trainer+Distributed.swift`): every
    /// rank trains; rank 0 alone writes the run directory and evaluates the model at the end
    /// (the other ranks return nil then). `config.training.ranks` must be the number of ranks.
    /// Errors every rank meets alike are thrown as `DistributedStop`.
    package static func train(_ config: RunConfig, train: Dataset, test: Dataset, into directory: RunDirectory,
                             resume: Bool = false, acceptingChangedData: Bool = false, communicator comm: Communicator = .single,
                             shouldStop: @escaping () -> Bool = { false },
                             progress: (TrainingEvent) -> Void = { _ in }) throws -> RunMetrics? {
        let writes = comm.isRoot, ranks = config.training.ranks ?? 1
        guard ranks == comm.size else {
            let how = { (n: Int) in n == 1 ? "one process (without mpirun)" : "\(n) MPI ranks (mpirun -np \(n))" }
            let message = "\(directory.path) was trained on \(how(ranks)), but this is \(how(comm.size)): resume it on \(how(ranks)) "
                + "(how each batch is split decides how the sums round, so another count would not continue the run exactly)"
            guard comm.isDistributed else { throw SAEError(message) }
            throw DistributedStop(message: message, reportsHere: writes)
        }
        let limited = config.data.trainLimit.map { train.prefix($0) } ?? train
        // Activation normalisation: the factors measured once (or read back on a resume), applied
        // as rows are read; folded into the weights before the model is saved.
        var config = config
        if config.data.normalizeActivations == true, config.data.inputScale == nil {
            try comm.agree { try Self.measureNormalization(&config, train: limited) }
        }
        let scales = config.data.inputScale.map { (input: $0, target: config.data.targetScale ?? $0) }
        let train = scales.map { limited.normalized(inputScale: $0.input, targetScale: config.data.targetScale) } ?? limited
        let rawTest = test
        let test = scales.map { test.normalized(inputScale: $0.input, targetScale: config.data.targetScale) } ?? test
        // Latent sharding: this rank's latents (what cannot be split is refused on every rank alike).
        let shard = try comm.agree { config.training.shardLatents == true ? try LatentShard(rank: comm.rank, ranks: comm.size, config: config.model) : nil }
        let (history, trained) = try trainModel(config, shard: shard, train: train, test: test, into: directory, resume: resume,
                                                acceptingChangedData: acceptingChangedData, scales: scales, comm,
                                                shouldStop: shouldStop, progress: progress)
        guard writes else { return nil }
        // A latent shard's ranks wrote the whole model together (and have let go of their shards);
        // rank 0 evaluates it from the file.
        let final = try trained ?? Autoencoder.load(config: config.model, from: directory.modelPath)
        return try keepingProgress(in: directory, writes: true) {
            // The test codes' statistics are gathered batch by batch: a large test set's codes are never held at once.
            if let scales, shard == nil { final.foldNormalization(inputScale: scales.input, targetScale: scales.target) }
            var statistics = CodeStatistics.Accumulator(cols: config.model.codeSize)
            let evaluation = final.evaluate(rawTest, batchSize: config.training.batchSize) { statistics.add($0, rows: $1) }
            if let failure = rawTest.readFailure { throw failure }
            let metrics = RunMetrics(history: history, test: evaluation, codes: statistics.statistics)
            if shard == nil { try final.save(to: directory.modelPath) }
            try directory.save(history: history)
            try directory.save(metrics: metrics)
            try directory.save(status: RunStatus(state: .finished))
            return metrics
        }
    }

    /// Builds (or restores) the model and its trainer, and trains: the history, and the trained
    /// model, or nil for a latent shard, whose ranks have written the whole model to the run's
    /// model file (its normalisation folded in) and let go of their shards when this returns.
    private static func trainModel(_ config: RunConfig, shard: LatentShard?, train: Dataset, test: Dataset, into directory: RunDirectory,
                                   resume: Bool, acceptingChangedData: Bool, scales: (input: Float, target: Float)?, _ comm: Communicator,
                                   shouldStop: @escaping () -> Bool, progress: (TrainingEvent) -> Void) throws -> (history: [EpochRecord], model: Autoencoder?) {
        let writes = comm.isRoot
        // Every rank reads the checkpoint; rank 0 alone locks and writes (a latent shard's ranks
        // write checkpoints and the model together). The ranks agree that it worked.
        let (model, trainer) = try comm.agree { () -> (Autoencoder, Trainer) in
            if writes { try directory.lock() }
            let seed = config.training.seed
            let model = try shard.map { resume ? try Autoencoder(shard: $0, communicator: comm) : try Autoencoder(shard: $0, seed: seed, communicator: comm) }
                ?? (resume ? try Autoencoder(config: config.model) : try Autoencoder(config: config.model, seed: seed))
            let trainer = try Trainer(model: model, settings: config.training, communicator: comm)
            // The training files' fingerprints go into every checkpoint; a resume compares them.
            if config.data.dataset == .npy {
                // The inputs' files, and a transcoder's targets' (each list as training reads it).
                trainer.dataFingerprint = try DataFingerprint.files(config.data.trainPaths)
                    .merging(try config.data.targetFiles.map(DataFingerprint.files) ?? [:]) { a, _ in a }
            }
            trainer.acceptsChangedData = acceptingChangedData
            return (model, trainer)
        }
        try comm.agree {
            if resume {
                if writes { directory.removeStaleTemporaryFiles() }
                try trainer.restoreCheckpoint(from: directory.checkpointPath)
                // An extended run: config.json records its new epoch count from now on.
                if writes, try directory.loadConfig().training.epochs != config.training.epochs { try directory.save(config: config) }
            } else if writes {
                try directory.save(config: config)
                if shard == nil { try trainer.saveCheckpoint(to: directory.checkpointPath) }
            }
            if writes { try directory.save(status: RunStatus(state: .training)) }
        }
        // (Collective for a shard, so outside the step above, which one rank may leave early.)
        if shard != nil && !resume { try trainer.saveCheckpoint(to: directory.checkpointPath) }
        try trainer.checkRanksAgree(after: resume ? "reading the checkpoint" : "initialisation")
        let history: [EpochRecord]
        do {
            history = try trainer.fit(train, validation: test, shouldStop: {
                FaultInjection.reach("step")
                return shouldStop()
            }, epochEnded: { trainer in
                try keepingProgress(in: directory, writes: writes && !comm.isDistributed) {
                    // Streamed data are read inside the steps, which cannot throw: a failed read or a
                    // non-finite row is reported here, before the epoch is saved.
                    if let failure = train.readFailure ?? test.readFailure { throw failure }
                    if shard != nil { try trainer.saveCheckpoint(to: directory.checkpointPath) }
                    try comm.agree {
                        guard writes else { return }
                        if shard == nil { try trainer.saveCheckpoint(to: directory.checkpointPath) }
                        try directory.save(history: trainer.history)
                    }
                }
            }, progress: writes ? progress : { _ in })
        } catch Trainer.Stop.interrupted(let epoch, let step) {
            if shard != nil { try trainer.saveCheckpoint(to: directory.checkpointPath) }
            try comm.agree {
                guard writes else { return }
                if shard == nil { try trainer.saveCheckpoint(to: directory.checkpointPath) }
                try directory.save(status: RunStatus(state: .interrupted, epoch: epoch, step: step))
            }
            throw Interrupted(description: "interrupted at epoch \(epoch), step \(step); everything up to there is saved in "
                + "\(directory.path). Continue with: \(comm.isDistributed ? "mpirun -np \(comm.size) " : "")sae train --resume \(directory.path)")
        } catch Trainer.Stop.diverged(let epoch, let step, let loss) {
            // A NaN in streamed data, not the learning rate, is then the cause: the run is not
            // diverged but stopped at its last checkpoint (before that row), to resume once the
            // file is fixed.
            if let failure = train.readFailure, !comm.isDistributed, writes {
                try directory.save(status: RunStatus(state: .interrupted, epoch: trainer.history.count + 1, step: 0, message: failure.message))
                throw SAEError(failure.message + ". Training stopped at its last checkpoint (after epoch \(trainer.history.count)), kept in "
                    + "\(directory.path): fix the file, then continue with sae train --resume \(directory.path) --accept-changed-data")
            }
            let error = train.readFailure ?? SAEError.diverged(epoch: epoch, step: step, loss: loss, learningRate: config.training.optimizer.learningRate,
                                                                  cause: trainer.divergenceCause)
            try comm.agree {
                if writes { try directory.save(status: RunStatus(state: .diverged, epoch: epoch, step: step, message: error.message)) }
            }
            let message = error.message + ". The last good checkpoint (after epoch \(trainer.history.count)) is kept in \(directory.path)"
            guard comm.isDistributed else { throw SAEError(message) }
            throw DistributedStop(message: message, reportsHere: writes || train.readFailure != nil)
        }
        // Training is done: a signal now ends the process (the final checkpoint is saved; a resume
        // finishes the run) instead of waiting for the evaluation.
        Interrupt.stopPolling()
        guard shard != nil else { return (history, model) }
        if let scales { model.foldNormalization(inputScale: scales.input, targetScale: scales.target) }
        try model.saveShard(to: directory.modelPath, communicator: comm)
        return (history, nil)
    }

    /// Measures the normalisation's factors on the training vectors (and a transcoder's targets)
    /// into `config`.
    package static func measureNormalization(_ config: inout RunConfig, train: Dataset) throws {
        let none = "cannot normalise the activations: the training vectors sampled are all zero"
        guard config.model.isDictionary else {
            throw SAEError.badSetting("--normalize-activations", "is for a dictionary SAE's vectors (the tutorial's images stay in [0, 1])")
        }
        guard let input = train.normalizingScale() else { throw SAEError(none) }
        config.data.inputScale = input
        if let targets = train.targets {
            guard let target = targets.normalizingScale() else { throw SAEError(none.replacingOccurrences(of: "vectors", with: "targets")) }
            config.data.targetScale = target
        }
    }

    /// Runs `body`, which saves progress or reads data; if that fails (a full disk, a shard that
    /// went away), the last checkpoint is still whole: the run is marked interrupted and the error
    /// says how to continue once the cause is fixed.
    private static func keepingProgress<T>(in directory: RunDirectory, writes: Bool, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SAEError where writes {
            try? directory.save(status: RunStatus(state: .interrupted, message: error.message))
            throw SAEError(error.message + "; the last checkpoint is kept in \(directory.path): once that is fixed, continue with "
                + "`sae train --resume \(directory.path)`")
        }
    }
}
