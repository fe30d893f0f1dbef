import Foundation

/// A trainer's whole state in one safetensors file: the weights (`layers.*`), Adam's moments
/// (`optimizer.m`, `optimizer.v`) and, in the metadata, the rest as JSON: Adam's step, the
/// generator, the history, and how far into the current epoch training got. Restoring it and
/// training on gives exactly the weights an uninterrupted run would have.
struct TrainerState: Codable, Equatable {
    static let currentFormatVersion = 1

    var formatVersion = TrainerState.currentFormatVersion
    var history: [EpochRecord]
    var stepInEpoch: Int
    var epochLossSum: Double
    var epochSeconds: Double
    /// The generator's four words at the start of the current epoch, in hex (JSON numbers cannot
    /// hold 64-bit integers exactly everywhere).
    var rng: [String]
    var adamStep: Int
    /// Per code unit, samples since it last fired (for dead-latent counts).
    var samplesSinceFired: [Int]?
    /// The training data's files and their fingerprints when the checkpoint was written
    /// (`Trainer.dataFingerprint`), and the settings trained with: a resume on other data or
    /// other settings would not continue the same run.
    var dataFiles: [String: String]?
    var settings: TrainingSettings?
}

extension Trainer {
    /// Writes the checkpoint atomically (temporary file, fsync, rename). A latent shard's is
    /// collective: the ranks write the whole model's file together.
    public func saveCheckpoint(to path: String) throws {
        let finite = model.parameters.allSatisfy(\.isFinite)
        let refusal = SAEError("refusing to checkpoint non-finite weights (training diverged)")
        if shardsLatents {
            try communicator.agree { if !finite { throw refusal } }   // (every rank refuses if any shard diverged)
        } else if !finite {
            throw refusal
        }
        if FaultInjection.fires("checkpoint-write") { throw SAEError.badFile(path, "write failed (SAE_FAULT=checkpoint-write)") }
        let state = TrainerState(history: history, stepInEpoch: stepInEpoch, epochLossSum: epochLossSum,
                                 epochSeconds: epochSeconds, rng: rng.state.map { String($0, radix: 16) },
                                 adamStep: optimizer.step, samplesSinceFired: deadLatents.samplesSinceFired,
                                 dataFiles: dataFingerprint, settings: settings)
        if let shard = model.latentShard { return try saveShardedCheckpoint(to: path, shard: shard, state: state) }
        // Streamed from the weights and moments themselves: writing a checkpoint copies nothing.
        let count = model.parameterCount, moments = UnsafePointer(optimizer.moments.baseAddress!)
        let tensors = model.tensorSources + [Safetensors.Source(name: "optimizer.m", shape: [count], values: moments),
                                             Safetensors.Source(name: "optimizer.v", shape: [count], values: moments + count)]
        let metadata = ["format": "sae-checkpoint",
                        "trainer_state": String(decoding: try JSONFile.encode(state, compact: true), as: UTF8.self)]
        try Safetensors.write(tensors, metadata: metadata, to: path, beforeRename: { FaultInjection.reach("checkpoint-rename") })
    }

    /// Refuses a checkpoint written with other training settings (but for more epochs: a run may
    /// be extended) or on other data, naming what differs, unless `acceptsChangedData`.
    private func checkSameRun(_ state: TrainerState) throws {
        if var stored = state.settings {
            stored.epochs = settings.epochs
            if stored != settings {
                throw SAEError("the checkpoint was trained with other settings than config.json now gives (\(TrainingSettings.differences(stored, settings).joined(separator: ", "))): "
                    + "a resume continues the run it was; restore config.json, or start a new run")
            }
        }
        guard !acceptsChangedData, let stored = state.dataFiles, let current = dataFingerprint, stored != current else { return }
        let changed = Set(stored.keys).union(current.keys).sorted().first { stored[$0] != current[$0] }!
        let how = stored[changed] == nil ? "was added" : current[changed] == nil ? "is gone" : "has changed"
        throw SAEError("the training data changed since the checkpoint: \(changed) \(how); resume on the same data, "
            + "or pass --accept-changed-data to continue on these (the run will no longer be the one an uninterrupted run gives)")
    }

    /// Restores weights, Adam and progress from a checkpoint of a trainer with the same config
    /// (a latent shard: its runs of the whole model's checkpoint, collectively).
    public func restoreCheckpoint(from path: String) throws {
        let state: TrainerState
        if let shard = model.latentShard {
            state = try restoreShardedCheckpoint(from: path, shard: shard) { try checkedState($0, path: path, counters: shard.full.codeSize) }
            if let since = state.samplesSinceFired { deadLatents.restore(Array(since[shard.latents])) }
        } else {
            // Read straight from the file, each tensor copied once into the weights and moments.
            state = try Safetensors.withFile(path) { tensors, metadata in
                let state = try checkedState(metadata, path: path, counters: model.config.codeSize)
                let count = model.parameterCount
                for name in ["optimizer.m", "optimizer.v"] {
                    guard tensors[name]?.shape == [count] else {
                        throw SAEError.badFile(path, "tensor \"\(name)\" is missing or not of shape [\(count)]")
                    }
                }
                try model.setParameters(from: tensors, path: path, allowing: ["optimizer.m", "optimizer.v"])
                try tensors["optimizer.m"]!.read(0..<count, into: optimizer.moments.baseAddress!)
                try tensors["optimizer.v"]!.read(0..<count, into: optimizer.moments.baseAddress! + count)
                return state
            }
            if let since = state.samplesSinceFired { deadLatents.restore(since) }
        }
        // Adam's moments as a run leaves them: finite, the second ones not negative (a damaged
        // file would otherwise diverge at the next step and blame the learning rate).
        let count = model.parameterCount
        for (name, start) in [("optimizer.m", 0), ("optimizer.v", count)] {
            let moments = optimizer.moments.baseAddress! + start
            if let bad = (0..<count).first(where: { !moments[$0].isFinite || (start > 0 && moments[$0] < 0) }) {
                throw SAEError.badFile(path, "tensor \"\(name)\" holds \(moments[bad]) at index \(bad): the checkpoint is damaged; "
                    + "delete it to start the run again, or restore it from a copy")
            }
        }
        let words = state.rng.compactMap { UInt64($0, radix: 16) }
        optimizer.step = state.adamStep
        rng = SeededGenerator(state: words)
        history = state.history
        stepInEpoch = state.stepInEpoch
        epochLossSum = state.epochLossSum
        epochSeconds = state.epochSeconds
    }

    /// The trainer state in a checkpoint's metadata, checked against this trainer (a model of
    /// `counters` latents in all).
    private func checkedState(_ metadata: [String: String], path: String, counters: Int) throws -> TrainerState {
        guard metadata["format"] == "sae-checkpoint", let json = metadata["trainer_state"] else {
            throw SAEError.badFile(path, "is not an sae checkpoint (no trainer state in its metadata)")
        }
        let state = try JSONFile.decode(TrainerState.self, from: Data(json.utf8), name: path + " (trainer state)")
        guard state.formatVersion == TrainerState.currentFormatVersion else {
            throw SAEError.badFile(path, "checkpoint format version \(state.formatVersion) is not supported")
        }
        guard state.rng.compactMap({ UInt64($0, radix: 16) }).count == 4, state.rng.contains(where: { UInt64($0, radix: 16) != 0 }) else {
            throw SAEError.badFile(path, "the generator state in the checkpoint is invalid")
        }
        // Numbers a real run could have reached (an edited or damaged state would overflow
        // Adam's step count, or put negative seconds and counters in the history).
        guard state.history.count <= settings.epochs, state.stepInEpoch >= 0, (0..<(1 << 53)).contains(state.adamStep),
              state.epochLossSum.isFinite, state.epochLossSum >= 0, state.epochSeconds.isFinite, state.epochSeconds >= 0,
              state.history.map(\.epoch) == (0..<state.history.count).map({ $0 + 1 }) else {
            throw SAEError.badFile(path, "the training progress in the checkpoint is inconsistent with config.json")
        }
        try checkSameRun(state)
        if let since = state.samplesSinceFired, since.count != counters || since.contains(where: { $0 < 0 }) {
            throw SAEError.badFile(path, "the dead-latent counters in the checkpoint do not fit the model's \(counters) latents")
        }
        return state
    }
}
