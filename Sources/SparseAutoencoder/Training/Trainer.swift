import Foundation

/// Trains an `Autoencoder` the way Keras's `fit` does: a fresh random permutation each epoch,
/// batches in that order with the last partial batch kept, one Adam step per batch, then a
/// validation pass in batches of the same size. Reported losses include the penalty.
///
/// All buffers (workspace, gradients, Adam's moments, the permutation) are allocated once,
/// when the trainer is made; a training step allocates nothing.
public final class Trainer {
    public let model: Autoencoder
    public let settings: TrainingSettings
    public private(set) var history: [EpochRecord] = []
    let optimizer: Adam
    var rng: SeededGenerator
    private let workspace: Workspace
    private let gradients: UnsafeMutableBufferPointer<Float>

    public init(model: Autoencoder, settings: TrainingSettings) throws {
        try settings.validate()
        self.model = model
        self.settings = settings
        optimizer = Adam(settings: settings.optimizer, parameterCount: model.parameterCount)
        // A different stream from the one that initialised the weights.
        rng = SeededGenerator(seed: settings.seed ^ 0x5348_5546_464C_4521)
        workspace = Workspace(model: model, capacity: settings.batchSize)
        gradients = .allocate(capacity: model.parameterCount)
        gradients.initialize(repeating: 0)
    }

    deinit { gradients.deallocate() }

    /// Trains for `settings.epochs` epochs and returns the history. A `timer` (see `sae bench`)
    /// collects the time spent in each phase.
    public func fit(_ train: ImageSet, validation: ImageSet? = nil, timer: PhaseTimer? = nil,
                    progress: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try checkShape(train, role: "training set")
        if let validation { try checkShape(validation, role: "validation set") }
        var order = Array(0..<train.count)
        let batch = settings.batchSize
        let steps = (train.count + batch - 1) / batch
        let clock = ContinuousClock()
        for epoch in stride(from: history.count + 1, through: settings.epochs, by: 1) {
            progress(.epochStart(epoch: epoch, epochs: settings.epochs, steps: steps))
            let start = clock.now
            shuffle(&order)
            var total = 0.0
            for step in 0..<steps {
                let lo = step * batch, b = min(batch, train.count - lo)
                let loss = order.withUnsafeBufferPointer { trainStep(train, rows: UnsafeBufferPointer(rebasing: $0[lo..<(lo + b)]), timer: timer) }
                guard loss.isFinite else {
                    throw SAEError("training diverged at epoch \(epoch), step \(step + 1): the loss is \(loss); "
                        + "lower --learning-rate (now \(settings.optimizer.learningRate))")
                }
                total += loss * Double(b)
                progress(.step(epoch: epoch, step: step + 1, steps: steps, loss: total / Double(lo + b),
                               elapsed: seconds(clock.now - start)))
            }
            timer?.start()
            let valLoss = validation.map { model.loss(on: $0, batchSize: batch) }
            timer?.mark(.validation)
            let record = EpochRecord(epoch: epoch, loss: total / Double(train.count), valLoss: valLoss,
                                     seconds: seconds(clock.now - start))
            history.append(record)
            progress(.epochEnd(record, steps: steps))
        }
        return history
    }

    /// One forward, backward and Adam step on the samples `rows` of `data`; returns the batch loss.
    @inline(__always)
    func trainStep(_ data: ImageSet, rows: UnsafeBufferPointer<Int>, timer: PhaseTimer? = nil) -> Double {
        let ws = workspace, b = rows.count
        timer?.start()
        data.gather(rows, into: ws.input)
        timer?.mark(.data)
        model.forward(ws, batch: b)
        timer?.mark(.forward)
        gradients.update(repeating: 0)
        let (reconstruction, penalty) = model.loss(ws, batch: b, gradients: gradients.baseAddress!, timer: timer)
        timer?.mark(.backward)
        optimizer.update(model.parameters.baseAddress!, gradients: gradients.baseAddress!)
        timer?.mark(.optimizer)
        return reconstruction + penalty
    }

    /// Fisher-Yates with our own generator, so a seed gives the same order on every platform.
    func shuffle(_ order: inout [Int]) {
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
    }

    private func checkShape(_ data: ImageSet, role: String) throws {
        guard data.featureCount == model.config.inputSize else {
            throw SAEError("the \(role) has \(data.featureCount) features per sample (\(data.height)x\(data.width)) "
                + "but the model expects \(model.config.inputSize)")
        }
        guard data.count > 0 else { throw SAEError("the \(role) is empty") }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

extension Autoencoder {
    /// Trains this model (see `Trainer`) and returns the per-epoch history.
    @discardableResult
    public func fit(_ train: ImageSet, validation: ImageSet? = nil, settings: TrainingSettings = TrainingSettings(),
                    progress: (TrainingEvent) -> Void = { _ in }) throws -> [EpochRecord] {
        try Trainer(model: self, settings: settings).fit(train, validation: validation, progress: progress)
    }
}
