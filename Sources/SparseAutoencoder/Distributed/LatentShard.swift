import Foundation

/// Latent sharding (`mpirun -np N sae train --shard-latents`): a dictionary too large for one
/// process is split by latents. Rank r of N holds latents `latents` = the r-th of N contiguous
/// slices of the c (sizes differing by at most one): their encoder rows, encoder biases, decoder
/// rows, gradients and Adam moments; b_dec (d floats) is replicated and updated identically on
/// every rank. Every rank reads the whole batch; the code selection exchanges candidates and the
/// decode sums partial reconstructions (`ShardedSelection`), so per-step communication grows with the
/// batch (B k pairs, B x d floats), not with c.
///
///     let shard = try LatentShard(rank: comm.rank, ranks: comm.size, config: config)
///     let model = try Autoencoder(shard: shard, seed: 1, communicator: comm)   // c / N latents
///
/// A shard's model is an ordinary dictionary of `latents.count` latents (`local`): the sparse step,
/// Adam and the dead-latent counters run on it unchanged. Files hold the whole model: checkpoints
/// and model.safetensors are written by every rank into one file (`ShardedSafetensors`).
package struct LatentShard: Sendable, Equatable {
    package let rank: Int, ranks: Int
    /// The whole dictionary's config.
    package let full: AutoencoderConfig
    /// This rank's latents, of the whole dictionary's.
    package let latents: Range<Int>

    /// Refuses what latent sharding does not train: an architecture without the trait (TopK,
    /// BatchTopK and Matryoshka have it; with or without AuxK, transcoders too), and more ranks
    /// than leave each at least k latents.
    package init(rank: Int, ranks: Int, config: AutoencoderConfig) throws {
        guard let type = Architectures.type(for: config), type.traits.shardsLatents, let k = config.topK else {
            let name = config.architecture == .dictionary ? "a \(config.codeActivation.rawValue) dictionary" : "a \(config.architecture.rawValue) SAE"
            let split = Architectures.all.filter { $0.traits.shardsLatents }.map { $0.name }.joined(separator: ", ")
            throw SAEError.badSetting("--shard-latents", "splits dictionaries of \(split) (--k, with or without --auxk) over the ranks; \(name) is not split yet: drop --shard-latents to train it data-parallel")
        }
        let smallest = config.codeSize / ranks
        guard smallest >= k else {
            throw SAEError.badSetting("--shard-latents", "each of the \(ranks) ranks would hold \(smallest) latents, fewer than k = \(k): use at most \(config.codeSize / k) ranks or a larger --code")
        }
        (self.rank, self.ranks, full) = (rank, ranks, config)
        latents = Communicator.slice(of: config.codeSize, rank: rank, size: ranks)
    }

    /// The config of this rank's part: a dictionary of its latents (AuxK's k capped at them, and
    /// the architecture's settings cut to them: `SparseArchitecture.local`).
    package var local: AutoencoderConfig {
        var config = full
        config.codeSize = latents.count
        if var aux = config.auxK {
            aux.k = min(aux.k, latents.count)
            config.auxK = aux
        }
        Architectures.type(for: full)?.local(&config, of: self)
        return config
    }

    // MARK: - Where this rank's values lie in the whole model

    /// A piece of a tensor of the whole model that this rank writes and reads: `count` floats at
    /// element `offset` of the tensor, which are those at `local` in this rank's parameters (or
    /// Adam's moments, laid out alike), `stride` apart (1: contiguous).
    package struct Run {
        package let offset: Int, count: Int
        package let local: Int, stride: Int
    }

    /// The whole model's tensors as files name them (`Autoencoder.tensorSources`), with this
    /// rank's runs of each: its latents' columns of the encoder's (d_in, c) kernel (one run per
    /// input), its encoder biases and decoder rows; b_dec and the architecture's tensors (BatchTopK's
    /// threshold), replicated, are rank 0's to write and every rank's to read (`reading`).
    package func modelTensors(_ model: Autoencoder, reading: Bool = false) -> [(name: String, shape: [Int], runs: [Run])] {
        let (encoder, decoder) = (model.layers[0], model.layers[1])
        let (c, dIn, d) = (full.codeSize, full.inputSize, full.targetSize)
        let (j0, n) = (latents.lowerBound, latents.count)
        // Keras's layout, (in, out): the encoder (d_in, c), its latents' columns strided in this
        // rank's latent-by-latent storage; the decoder (c, d), its latents' rows contiguous.
        let encoderRuns = (0..<dIn).map { i in Run(offset: i * c + j0, count: n, local: encoder.kernelOffset + i, stride: dIn) }
        return [("layers.0.kernel", [dIn, c], encoderRuns),
                ("layers.0.bias", [c], [Run(offset: j0, count: n, local: encoder.biasOffset, stride: 1)]),
                ("layers.1.kernel", [c, d], [Run(offset: j0 * d, count: n * d, local: decoder.kernelOffset, stride: 1)]),
                ("layers.1.bias", [d], rank == 0 || reading ? [Run(offset: 0, count: d, local: decoder.biasOffset, stride: 1)] : [])]
            + model.architectureTensors.map { t in
                let count = t.shape.reduce(1, *)
                return (t.name, t.shape, rank == 0 || reading ? [Run(offset: 0, count: count, local: t.offset, stride: 1)] : [])
            }
    }

    /// The whole model's parameter count, and this rank's runs of a flat buffer of them (Adam's
    /// moments, in the parameters' own order: W_enc latent by latent, b_enc, W_dec, b_dec; b_dec's
    /// as in `modelTensors`).
    package func flatRuns(_ model: Autoencoder, reading: Bool = false) -> (count: Int, runs: [Run]) {
        let (encoder, decoder) = (model.layers[0], model.layers[1])
        let (c, dIn, d) = (full.codeSize, full.inputSize, full.targetSize)
        let (j0, n) = (latents.lowerBound, latents.count)
        var runs = [Run(offset: j0 * dIn, count: n * dIn, local: encoder.kernelOffset, stride: 1),
                    Run(offset: c * dIn + j0, count: n, local: encoder.biasOffset, stride: 1),
                    Run(offset: c * dIn + c + j0 * d, count: n * d, local: decoder.kernelOffset, stride: 1)]
        // b_dec and the architecture's tensors follow, replicated (the same offsets from b_dec on).
        let replicated = model.parameterCount - decoder.biasOffset, whole = c * dIn + c + c * d
        if rank == 0 || reading { runs.append(Run(offset: whole, count: replicated, local: decoder.biasOffset, stride: 1)) }
        return (whole + replicated, runs)
    }
}

extension Autoencoder {
    /// Rank `shard.rank`'s part of a new dictionary: exactly rows `shard.latents` of what
    /// `Autoencoder(config: shard.full, seed: seed)` draws (the generator is advanced past the
    /// other ranks' rows), with the selection that exchanges candidates over `communicator`.
    package convenience init(shard: LatentShard, seed: UInt64, communicator: Communicator) throws {
        try self.init(shard: shard, communicator: communicator)
        let full = shard.full, (c, d, dIn) = (full.codeSize, full.targetSize, full.inputSize)
        let (j0, j1) = (shard.latents.lowerBound, shard.latents.upperBound)
        var rng = SeededGenerator(seed: seed)
        func skip(_ n: Int) { for _ in 0..<n { _ = rng.next() } }
        // The decoder (c, d) as the whole dictionary draws it (glorot over c + d), this rank's rows.
        let a = (6 / Float(c + d)).squareRoot(), w = parameters.baseAddress! + layers[1].kernelOffset
        skip(j0 * d)
        for i in 0..<((j1 - j0) * d) { w[i] = (2 * rng.nextUnitFloat() - 1) * a }
        if full.unitNormDecoder { dictionary!.normalizeDecoder() }
        let encoder = parameters.baseAddress! + layers[0].kernelOffset
        if full.isCentred {
            // The encoder starts as the decoder's rows / sqrt(3) (`DictionaryBehaviour.initialize`).
            let scale = 1 / Float(3).squareRoot()
            for i in 0..<((j1 - j0) * d) { encoder[i] = w[i] * scale }
        } else {
            // A transcoder's encoder is drawn after the whole decoder, latent by latent.
            skip((c - j1) * d + j0 * dIn)
            let b = 1 / Float(dIn).squareRoot()
            for i in 0..<((j1 - j0) * dIn) { encoder[i] = (2 * rng.nextUnitFloat() - 1) * b }
        }
    }

    /// Rank `shard.rank`'s part of a dictionary, all parameters zero (a checkpoint is read next).
    package convenience init(shard: LatentShard, communicator: Communicator) throws {
        try self.init(config: shard.local) { selection in
            selection.map { ShardedSelection(local: $0.cut(to: shard), shard: shard, communicator: communicator) }
        }
    }

    /// The selection of a latent-sharded model (nil for any other).
    var shardedSelection: ShardedSelection? { selection as? ShardedSelection }
    /// The shard this model is, if it is one.
    package var latentShard: LatentShard? { shardedSelection?.shard }
}
