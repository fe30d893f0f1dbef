import Foundation

/// The trainer's side of data-parallel training over MPI ranks (`Trainer.communicator`).
///
/// Every rank runs the same loop on the same permutation. Per step, each rank gathers only its
/// contiguous slice of the batch (`Communicator.slice`: sizes differ by at most one) and:
/// 1. runs the forward pass on its rows;
/// 2. all-reduces (MAX) each latent's last firing position in the batch, so the dead-latent
///    counts (and AuxK's choice of dead latents) are the single-process ones on every rank;
/// 3. adds its rows' gradients, scaled by the whole batch (1 / (B d)), so that their sum over
///    the ranks is the batch's gradient (the KL penalty's batch means are summed over the ranks
///    on the way);
/// 4. all-reduces (SUM) the gradient buffer in place: one message of every parameter;
/// 5. takes the same Adam step as every other rank;
/// 6. all-reduces its share of the loss and whether it was asked to stop, so every rank
///    reports the same loss and stops at the same step.
/// After each epoch the validation set is split over the ranks and its loss reduced, and a
/// checksum of the weights is compared across ranks.
extension Trainer {
    /// Wires a new workspace's penalty sums to the other ranks.
    func prepareForRanks(_ ws: Workspace) {
        ws.countsBatchTerms = communicator.isRoot
        let failed = { [unowned ws] (error: Error) in if ws.collectiveFailure == nil { ws.collectiveFailure = error } }
        ws.collectives = RankCollectives(
            sum: { [communicator] buffer, count in
                do { try communicator.allReduce(buffer, count: count) } catch { failed(error) }
            },
            sumBefore: { [communicator] value in
                do { return try communicator.sumBefore(value) } catch { failed(error); return 0 }
            },
            minimum: { [communicator] value in
                var v = value
                do { try communicator.allReduce(&v, count: 1, .min) } catch { failed(error) }
                return v
            })
        ws.sumAcrossRanks = { [communicator, unowned ws] buffer, count in
            do {
                try communicator.allReduce(buffer, count: count)
            } catch {
                if ws.collectiveFailure == nil { ws.collectiveFailure = error }
            }
        }
    }

    /// Each latent's last firing position in the batch (this rank's rows start at `offset`),
    /// the maximum over the ranks, then samples since each fired, as one process counts them.
    func recordFiringOverRanks(_ ws: Workspace, rows b: Int, offset: Int, batch total: Int) throws {
        deadLatents.positions.withUnsafeMutableBufferPointer {
            deadLatents.findLastFiring(ws, codeLayer: model.codeLayerIndex, rows: b, offset: offset, into: $0)
        }
        try communicator.allReduce(&deadLatents.positions, .max)
        deadLatents.advance(batch: total)
    }

    /// The loss and its gradient for this rank's rows as shares of a batch of `total`.
    func lossAndBackwardOverRanks(_ ws: Workspace, rows b: Int, batch total: Int, timer: PhaseTimer?) throws -> Autoencoder.BatchLoss {
        ws.lossBatch = total
        defer { ws.lossBatch = nil }
        if b > 0 || model.config.architecture.isBatchWide {
            let loss = lossAndBackward(ws, rows: b, timer: timer)
            if let failure = ws.collectiveFailure { throw failure }
            return loss
        }
        // No rows here (a short last batch over many ranks): still take part in KL's sums.
        if case .kl = model.config.penalty {
            ws.scratch.update(repeating: 0, count: model.config.codeSize)
            ws.sumAcrossRanks?(ws.scratch, model.config.codeSize)
            if let failure = ws.collectiveFailure { throw failure }
        }
        return Autoencoder.BatchLoss(reconstruction: 0, penalty: 0, aux: 0)
    }

    /// The gradients' all-reduce: one in-place sum of the whole buffer.
    func sumGradientsOverRanks() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        try communicator.allReduce(gradients.baseAddress!, count: model.parameterCount)
        allReduceSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// The batch's loss (the ranks' shares added in rank order) and whether any rank was asked
    /// to stop.
    func agreeOnStep(loss: Double, stop: Bool) throws -> (loss: Double, stop: Bool) {
        try communicator.withGathered(loss, stop ? 1 : 0, count: 2) { all in
            (stride(from: 0, to: all.count, by: 2).reduce(0) { $0 + all[$1] }, stride(from: 1, to: all.count, by: 2).contains { all[$0] != 0 })
        }
    }

    /// The validation loss, each rank evaluating a contiguous share: whole batches of the batch
    /// size where the loss of a sample depends on its batch (the KL penalty's means, a batch-wide
    /// selection or penalty), else an equal share of the rows.
    func validationLossOverRanks(_ data: Dataset) throws -> Double {
        let n = data.count, batch = settings.batchSize
        let rows: Range<Int>, size: Int
        let perBatch: Bool
        if case .kl = model.config.penalty { perBatch = true } else { perBatch = model.config.architecture.isBatchWide }
        if perBatch {
            let mine = communicator.slice(of: (n + batch - 1) / batch)
            (rows, size) = (min(mine.lowerBound * batch, n)..<min(mine.upperBound * batch, n), batch)
        } else {
            (rows, size) = (communicator.slice(of: n), workspace?.capacity ?? batch)
        }
        let share = model.lossSum(on: data, rows: rows, batchSize: size, workspace: workspace)
        return try communicator.gather([share]).reduce(0) { $0 + $1[0] } / Double(max(n, 1))
    }

    /// Numbers that differ if two ranks' training states differ: the sum of the weights, a sum
    /// weighted by position, Adam's step and the dead-latent counters' sum.
    func replicaChecksum() -> [Double] {
        let p = model.parameters
        var sum = 0.0, weighted = 0.0
        for i in 0..<p.count {
            let v = Double(p[i])
            sum += v
            weighted += v * Double(i % 1021 + 1)
        }
        return [sum, weighted, Double(optimizer.step), Double(deadLatents.samplesSinceFired.reduce(0, &+))]
    }

    /// Collective: stops every rank if one met unreadable data or if the ranks' states differ.
    package func checkRanksAgree(after moment: String, data: [Dataset] = []) throws {
        guard communicator.isDistributed else { return }
        let failure = data.lazy.compactMap(\.readFailure).first
        let checksum = shardsLatents ? shardedChecksum() : replicaChecksum()
        let all = try communicator.gather(checksum + [failure == nil ? 0 : 1])
        let failed = all.indices.filter { all[$0][checksum.count] != 0 }
        if let failure {
            throw DistributedStop(message: "rank \(communicator.rank): " + failure.message, reportsHere: true)
        }
        if !failed.isEmpty {
            throw DistributedStop(message: "rank \(failed[0]) could not read its data; every rank stopped", reportsHere: false)
        }
        let reference = all[0].prefix(checksum.count).map(\.bitPattern)
        if let other = all.indices.first(where: { all[$0].prefix(checksum.count).map(\.bitPattern) != reference }) {
            throw DistributedStop(message: "the ranks' training states differ after \(moment): rank \(other)'s weights sum to "
                + "\(all[other][0]) and rank 0's to \(all[0][0]); the ranks did not all receive the same sums, so the run "
                + "stops (the last checkpoint is kept)", reportsHere: communicator.isRoot)
        }
    }
}
