import Foundation
import SparseAutoencoder

/// What `Run` and `Sweep.run` report as they go, for the caller to print (the library prints
/// nothing). A run's training starts right after `.training` or `.resuming`, so a caller that
/// installs signal handlers (`Interrupt.install()`) does it there.
package enum RunEvent {
    /// A new run: its directory has been made (and locked); its training starts next.
    case training(RunDirectory, RunConfig, RunData)
    /// An unfinished run: its config has been checked and its data loaded; training continues next.
    case resuming(RunDirectory, RunConfig)
    /// A run (finished or not) continues to more epochs than it was set for (`from`), with
    /// `config` giving the new count; training continues next.
    case extending(RunDirectory, RunConfig, from: Int)
    /// Epochs and steps of the training (on rank 0 only).
    case progress(TrainingEvent)
    /// The run finished: model, history, metrics and status are written (on rank 0 only).
    case finished(RunDirectory, RunMetrics)
}

/// Training, resuming and the policy between them, for one run (`sae train`, `demo`, `sweep`,
/// and over MPI ranks with a `communicator`).
///
///     let data = try config.data.load()
///     try Run.train(config, data: data, out: "runs/l1", force: false)
///     try Run.resume(RunDirectory(path: "runs/l1"), loadData: { try $0.data.load() })
///
/// Ctrl-C (when `shouldStop` says so) ends training with `TrainingRun.Interrupted`, the
/// checkpoint saved; a diverged run throws its reason.
package enum Run {
    /// Trains a new run into `out`: checks first that the model fits in memory (a model too large
    /// leaves nothing behind), then makes the run directory (`RunDirectory.create`, refusing an
    /// existing one without `force`) and trains. Over MPI ranks, rank 0 alone makes and writes the
    /// directory and returns the metrics; the other ranks return nil.
    @discardableResult
    package static func train(_ config: RunConfig, data: RunData, out: String, force: Bool, communicator comm: Communicator = .single,
                             shouldStop: @escaping () -> Bool = { false }, events: (RunEvent) -> Void = { _ in }) throws -> RunMetrics? {
        var config = config
        config.data.directory = data.directory
        try comm.agree {
            try config.checkSchedule(trainCount: data.train.count)
            // Measured before the run directory is made: data it cannot normalise leave nothing behind.
            if config.data.normalizeActivations == true {
                try TrainingRun.measureNormalization(&config, train: config.data.trainLimit.map { data.train.prefix($0) } ?? data.train)
            }
        }
        // Each rank holds the model and its slice of a batch, or its slice of the latents and the
        // whole batch; rank 0 also runs the final evaluation.
        try comm.agree {
            if config.training.shardLatents == true {
                try MemoryBudget.check(shard: try LatentShard(rank: comm.rank, ranks: comm.size, config: config.model), batchSize: config.training.batchSize)
            } else {
                try MemoryBudget.check(config.model, batchSize: Communicator.slice(of: config.training.batchSize, rank: 0, size: comm.size).count,
                                       evaluationBatchSize: comm.isRoot ? config.training.batchSize : 0)
            }
        }
        let directory = try comm.agree { comm.isRoot ? try RunDirectory.create(out, force: force) : RunDirectory(path: out) }
        events(.training(directory, config, data))
        return try train(config, data: data, directory: directory, resume: false, comm, shouldStop: shouldStop, events: events)
    }

    /// Continues the unfinished run in `directory` with the settings of its config.json (see
    /// `resumableConfig`); `loadData` loads the data that config names.
    @discardableResult
    /// `acceptingChangedData`: continue although the training files differ from the checkpoint's.
    ///
    /// With `epochs` above the run's own count, the run (finished or not) is extended to that many:
    /// it continues from its checkpoint exactly as a run asked for `epochs` from the start would
    /// have gone on, and config.json records the new count once training starts.
    package static func resume(_ directory: RunDirectory, extendingTo epochs: Int? = nil, communicator comm: Communicator = .single,
                              acceptingChangedData: Bool = false, loadData: (RunConfig) throws -> RunData,
                              shouldStop: @escaping () -> Bool = { false }, events: (RunEvent) -> Void = { _ in }) throws -> RunMetrics? {
        var config = try comm.agree { try resumableConfig(directory, extendingTo: epochs) }
        let stored = config.training.epochs
        if let epochs {
            config.training.epochs = epochs
            try config.training.validate()
        }
        let data = try loadData(config)
        try comm.agree { try config.checkSchedule(trainCount: data.train.count) }
        events(config.training.epochs > stored ? .extending(directory, config, from: stored) : .resuming(directory, config))
        return try train(config, data: data, directory: directory, resume: true, acceptingChangedData: acceptingChangedData, comm,
                         shouldStop: shouldStop, events: events)
    }

    /// The config of the run in `directory`, if it can be resumed (or extended to `epochs`): a
    /// finished run has nothing to resume unless extended, a diverged one would diverge again, a
    /// run is extended, never shortened, and a run without a checkpoint has no place to continue
    /// from.
    package static func resumableConfig(_ directory: RunDirectory, extendingTo epochs: Int? = nil) throws -> RunConfig {
        let config = try directory.loadConfig()
        let own = config.training.epochs
        if let epochs, epochs < own {
            throw SAEError("\(directory.path) is set for \(own) epochs: --epochs can extend a run, not shorten it (give more than \(own), or none to resume)")
        }
        let extending = (epochs ?? own) > own
        if let status = try? directory.loadStatus() {
            switch status.state {
            case .finished where extending:
                break
            case .finished:
                throw SAEError("\(directory.path) has already finished its \(own) epochs; nothing to resume (to train it further: --resume \(directory.path) --epochs N, N above \(own))")
            case .diverged:
                throw SAEError("\(directory.path) diverged (\(status.message ?? "non-finite loss")); resuming would diverge again: train anew with a lower --learning-rate")
            case .training, .interrupted:
                break
            }
        }
        guard FileManager.default.fileExists(atPath: directory.checkpointPath) else {
            throw SAEError("\(directory.path) has no checkpoint.safetensors to resume from")
        }
        return config
    }

    /// Trains (or continues) the run in `directory` and reports the end.
    @discardableResult
    static func train(_ config: RunConfig, data: RunData, directory: RunDirectory, resume: Bool, acceptingChangedData: Bool = false,
                      _ comm: Communicator, shouldStop: @escaping () -> Bool, events: (RunEvent) -> Void) throws -> RunMetrics? {
        let metrics = try TrainingRun.train(config, train: data.train, test: data.test, into: directory, resume: resume,
                                            acceptingChangedData: acceptingChangedData, communicator: comm,
                                            shouldStop: shouldStop, progress: { events(.progress($0)) })
        if let metrics { events(.finished(directory, metrics)) }
        return metrics
    }
}

extension Sweep {
    /// What `Sweep.run` reports besides each run's `RunEvent`s.
    package enum Event {
        /// Setting `index` (from 1) of `count` starts.
        case setting(index: Int, count: Int, name: String)
        /// `stored` holds a run with other settings (`differences`, see `RunConfig.differences`);
        /// this setting trains into `fresh` beside it, which is kept.
        case trainsBeside(stored: RunDirectory, differences: [String], fresh: RunDirectory)
        /// The setting's run already finished with these settings.
        case skipped(RunDirectory)
        /// The setting's run is unfinished and has a checkpoint: it is resumed (its config is read
        /// next, then `.run(.resuming)`).
        case resuming(RunDirectory)
        case run(RunEvent)
    }

    /// The run config of each setting: the tutorial's model with the setting's penalty, code size
    /// and TopK, and its learning rate, checked (all before any is trained), Fashion-MNIST data.
    package static func configs(_ settings: [Setting], training: TrainingSettings, trainLimit: Int?) throws -> [RunConfig] {
        try configs(settings, training: training, data: DataSettings(trainLimit: trainLimit), inputSize: 784)
    }

    /// The same for any data: a dictionary setting gets a dictionary SAE of `inputSize` (unit-norm
    /// decoder, AuxK at half the input size where the architecture takes it, as `sae train`
    /// would default them); with `outputSize`, a transcoder's.
    package static func configs(_ settings: [Setting], training: TrainingSettings, data: DataSettings, inputSize: Int,
                                outputSize: Int? = nil) throws -> [RunConfig] {
        try settings.map { setting -> RunConfig in
            var training = training
            if let rate = setting.learningRate {
                training.optimizer.learningRate = rate
                try training.validate()
            }
            if let dictionary = setting.dictionary {
                var model = AutoencoderConfig.dictionary(named: dictionary.architecture, inputSize: inputSize, codeSize: setting.codeSize)
                (model.penalty, model.outputSize) = (setting.penalty, outputSize)
                AutoencoderConfig.sweep(of: dictionary.architecture)?.apply(&model, dictionary.value, dictionary.lists)
                if model.architecture.takesK || model.codeActivation == .topk { model.auxK = AuxK(k: min(max(1, inputSize / 2), setting.codeSize)) }
                try model.validate()
                return RunConfig(model: model, training: training, data: data)
            }
            var model = AutoencoderConfig.tutorial(setting.penalty)
            model.codeSize = setting.codeSize
            if let k = setting.topK { (model.codeActivation, model.topK) = (.topk, k) }
            try model.validate()
            return RunConfig(model: model, training: training, data: data)
        }
    }

    /// Trains each setting into `out/<setting>` and analyses it (metrics, figures, the linear probe
    /// against `pixelAccuracy`), so that rerunning a sweep completes it: a stored run counts
    /// (finished: skipped; unfinished with a checkpoint: resumed) only if it was asked for with
    /// these very settings; otherwise the setting trains afresh beside it (`out/<setting>-2`, ...).
    /// The sweep's report is not written (`write(to:)`).
    package static func run(_ settings: [Setting], configs: [RunConfig], data: RunData, pixelAccuracy pixels: Double?, out: String,
                           shouldStop: @escaping () -> Bool = { false }, events: (Event) -> Void = { _ in }) throws -> Sweep {
        var analyses: [RunAnalysis] = []
        for (i, (setting, config)) in zip(settings, configs).enumerated() {
            var run = RunDirectory(path: out + "/" + setting.name)
            events(.setting(index: i + 1, count: settings.count, name: setting.name))
            if let stored = try? run.loadConfig(), case let differences = stored.differences(from: config), !differences.isEmpty {
                var n = 2
                while FileManager.default.fileExists(atPath: "\(out)/\(setting.name)-\(n)") && (try? RunDirectory(path: "\(out)/\(setting.name)-\(n)").loadConfig())?.differences(from: config).isEmpty != true { n += 1 }
                let fresh = RunDirectory(path: "\(out)/\(setting.name)-\(n)")
                events(.trainsBeside(stored: run, differences: differences, fresh: fresh))
                run = fresh
            }
            let state = (try? run.loadStatus())?.state
            if state == .finished {
                events(.skipped(run))
            } else if state?.isUnfinished == true, FileManager.default.fileExists(atPath: run.checkpointPath) {
                events(.resuming(run))
                let stored = try run.loadConfig()
                events(.run(.resuming(run, stored)))
                try Run.train(stored, data: data, directory: run, resume: true, .single, shouldStop: shouldStop, events: { events(.run($0)) })
            } else {
                try Run.train(config, data: data, out: run.path, force: true, shouldStop: shouldStop, events: { events(.run($0)) })
            }
            let analysis = try RunAnalysis(run: run, test: data.test, name: (run.path as NSString).lastPathComponent, probe: pixels.map { (data.train, $0) })
            try analysis.write()
            analyses.append(analysis)
        }
        return Sweep(runs: analyses)
    }
}
