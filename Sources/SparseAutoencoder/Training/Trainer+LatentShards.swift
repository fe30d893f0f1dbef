import Foundation

/// The trainer's side of latent-sharded training (`LatentShard`): every rank steps through the
/// same batches with its shard of the latents. Per step, the model's selection and decode exchange
/// candidates and partial reconstructions (`ShardedSelection`); after backward the ranks sum b_dec's
/// gradient (each has its latents' share; rank 0 also the output bias's); Adam then updates each
/// rank's own parameters and the replicated b_dec alike. Dead latents are counted per shard. After
/// each epoch the ranks compare what they share (b_dec, Adam's step, the loss). Checkpoints and the
/// model are one file of the whole model that the ranks write together (`ShardedSafetensors`).
extension Trainer {
    /// Whether the model is one rank's shard of a latent-sharded dictionary.
    var shardsLatents: Bool { model.shardedSelection != nil }

    /// After backward: b_dec's gradient summed over the ranks (d floats), and the step's exchanges
    /// checked.
    func sumShardedGradients() throws {
        let decoder = model.layers[model.codeLayerIndex + 1]
        let start = DispatchTime.now().uptimeNanoseconds
        try communicator.allReduce(gradients.baseAddress! + decoder.biasOffset, count: decoder.outputSize)
        allReduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        try checkExchanges(counting: true)
    }

    /// Throws the first failed exchange of the selection; its time goes into the epoch's
    /// communication time (`counting`) or is dropped (validation's).
    func checkExchanges(counting: Bool = false) throws {
        guard let selection = model.shardedSelection else { return }
        let seconds = selection.takeCommunicationSeconds()
        if counting { allReduceSeconds += seconds }
        if let failure = selection.failure { throw failure }
    }

    /// The dead latents of every shard (collective).
    func deadLatentsOverShards() throws -> Int {
        var count = Double(deadLatents.count)
        try communicator.allReduce(&count, count: 1)
        return Int(count)
    }

    /// What every rank of a latent-sharded run holds alike: b_dec (and BatchTopK's threshold),
    /// Adam's step, the epoch's loss.
    func shardedChecksum() -> [Double] {
        let decoder = model.layers[model.codeLayerIndex + 1]
        // (b_dec and the architecture's tensors: everything after the decoder's kernel.)
        let bDec = (decoder.biasOffset..<model.parameterCount).reduce(0.0) { $0 + Double(model.parameters[$1]) * Double($1 - decoder.biasOffset + 1) }
        return [bDec, Double(optimizer.step), history.last?.loss ?? 0]
    }

    // MARK: - Checkpoints

    /// The whole model's weights and Adam's moments, each rank writing its runs (collective).
    func saveShardedCheckpoint(to path: String, shard: LatentShard, state: TrainerState) throws {
        var state = state
        state.samplesSinceFired = try gatheredCounters(shard)
        let metadata = ["format": "sae-checkpoint",
                        "trainer_state": String(decoding: try JSONFile.encode(state, compact: true), as: UTF8.self)]
        try ShardedSafetensors.write(shardedTensors(shard), metadata: metadata, to: path, communicator: communicator)
    }

    /// Reads this rank's runs of the weights and moments of a whole-model checkpoint, and hands the
    /// trainer state (checked by `check`) back.
    func restoreShardedCheckpoint(from path: String, shard: LatentShard, check: ([String: String]) throws -> TrainerState) throws -> TrainerState {
        var state: TrainerState?
        try ShardedSafetensors.read(shardedTensors(shard, reading: true), from: path, allowing: []) { _, metadata in state = try check(metadata) }
        return state!
    }

    /// The tensors of a checkpoint: the model's, then Adam's two moments over all the parameters.
    private func shardedTensors(_ shard: LatentShard, reading: Bool = false) -> [ShardedSafetensors.Tensor] {
        let p = model.parameters.baseAddress!, m = optimizer.moments.baseAddress!
        let (count, runs) = shard.flatRuns(model, reading: reading)
        return shard.modelTensors(model, reading: reading).map { ShardedSafetensors.Tensor(name: $0.name, shape: $0.shape, runs: $0.runs, base: p) }
            + [ShardedSafetensors.Tensor(name: "optimizer.m", shape: [count], runs: runs, base: m),
               ShardedSafetensors.Tensor(name: "optimizer.v", shape: [count], runs: runs, base: m + model.parameterCount)]
    }

    /// Every latent's counter of samples since it fired, the ranks' shards put together (one
    /// all-reduce of c numbers: only when a checkpoint is written).
    private func gatheredCounters(_ shard: LatentShard) throws -> [Int] {
        var all = [Double](repeating: 0, count: shard.full.codeSize)
        for (i, since) in deadLatents.samplesSinceFired.enumerated() { all[shard.latents.lowerBound + i] = Double(since) }
        try communicator.allReduce(&all)
        return all.map { Int($0) }
    }
}

extension Autoencoder {
    /// Collective: the whole model into `path`, each rank writing its shard's runs.
    package func saveShard(to path: String, communicator: Communicator) throws {
        guard let shard = latentShard else { return try save(to: path) }
        let p = parameters.baseAddress!
        let tensors = shard.modelTensors(self).map { ShardedSafetensors.Tensor(name: $0.name, shape: $0.shape, runs: $0.runs, base: p) }
        try ShardedSafetensors.write(tensors, metadata: ["format": "sae-autoencoder"], to: path, communicator: communicator)
    }
}
