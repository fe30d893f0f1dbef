/// Which latents have gone quiet: per latent, the training samples since it last fired (was > 0).
///
/// A latent is *dead* once it has not fired on any of the last `deadAfter` training samples. The
/// trainer owns one, records every batch's firing after the forward pass, and hands it to the
/// model's loss, where AuxK reads the dead latents; the epoch record counts them; a checkpoint
/// stores the counters, so a resumed run marks the same latents.
///
///     let dead = DeadLatents(codeSize: 4096)
///     dead.deadAfter = 10_000_000                     // sparsify's default horizon
///     dead.recordFiring(ws, codeLayer: 0, rows: b)    // after each forward pass
///     model.loss(ws, batch: b, dead: dead)            // AuxK uses dead.indices
final class DeadLatents {
    /// Per latent, training samples since it last fired.
    private(set) var samplesSinceFired: [Int]
    /// Samples without firing after which a latent counts as dead.
    var deadAfter: Int { didSet { refresh() } }
    /// The dead latents, ascending: the first `count` entries (AuxK's candidates).
    let indices: UnsafeMutablePointer<CInt>
    /// Per latent, 1 if dead, else 0.
    let mask: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    /// Per latent, the position in the current batch where it last fired (-1: nowhere).
    var positions: [Double]

    init(codeSize c: Int, deadAfter: Int = .max) {
        samplesSinceFired = [Int](repeating: 0, count: c)
        positions = [Double](repeating: -1, count: c)
        self.deadAfter = deadAfter
        indices = .allocate(capacity: c)
        indices.initialize(repeating: 0, count: c)
        mask = .allocate(capacity: c)
        mask.initialize(repeating: 0, count: c)
    }

    deinit {
        indices.deallocate()
        mask.deallocate()
    }

    var codeSize: Int { samplesSinceFired.count }

    /// Restores the counters from a checkpoint (checked there: one per latent, none negative).
    func restore(_ since: [Int]) {
        precondition(since.count == codeSize)
        samplesSinceFired = since
        refresh()
    }

    // MARK: - Recording a batch

    /// After the forward pass over `rows` samples: each latent's firing in them.
    func recordFiring(_ ws: Workspace, codeLayer: Int, rows: Int) {
        positions.withUnsafeMutableBufferPointer { findLastFiring(ws, codeLayer: codeLayer, rows: rows, offset: 0, into: $0) }
        advance(batch: rows)
    }

    /// Per latent, the last sample of `rows` (at `offset` in the batch) on which it fired, -1 if
    /// none: from the sparse step's pairs, or else from the dense code (B, c).
    func findLastFiring(_ ws: Workspace, codeLayer: Int, rows: Int, offset: Int, into last: UnsafeMutableBufferPointer<Double>) {
        let c = codeSize
        for j in 0..<c { last[j] = -1 }
        guard rows > 0 else { return }   // no forward pass ran (a rank without rows): the pairs are stale
        if let s = ws.sparse {
            for q in 0..<s.mainPairs where s.values[q] > 0 { last[Int(s.latents[q])] = Double(offset + Int(s.samples[q])) }
        } else {
            let code = ws.outputs[codeLayer]
            for r in 0..<rows { for j in 0..<c where code[r * c + j] > 0 { last[j] = Double(offset + r) } }
        }
    }

    /// Advances every counter past a batch of `batch` samples, given each latent's last firing
    /// position in it (`positions`; a data-parallel run first takes the maximum over its ranks).
    func advance(batch: Int) {
        samplesSinceFired.withUnsafeMutableBufferPointer { since in
            for j in since.indices {
                let last = Int(positions[j])
                since[j] = last < 0 ? since[j] + batch : batch - 1 - last
            }
        }
        refresh()
    }

    /// Recomputes `indices`, `mask` and `count` from the counters.
    private func refresh() {
        count = 0
        for (j, since) in samplesSinceFired.enumerated() {
            let dead = since >= deadAfter
            mask[j] = dead ? 1 : 0
            if dead {
                indices[count] = CInt(j)
                count += 1
            }
        }
    }
}
