/// A model's numbers on a dataset, computed in one batched pass.
public struct Evaluation: Sendable {
    /// The training objective: reconstruction loss + penalty, the sample-weighted mean of
    /// per-batch values (penalty per batch, as Keras's `val_loss`).
    public var loss: Double
    /// Binary cross-entropy and squared error of the reconstructions, per element.
    public var bce: Double
    public var mse: Double
    /// Mean of every code value.
    public var meanActivation: Double
    /// Mean code value of each unit: (codeSize).
    public var unitMeans: [Double]
    /// Units whose mean activation is below `deadThreshold`.
    public var deadUnits: Int

    public static let deadThreshold = 1e-3
}

extension Autoencoder {
    /// The training objective on `data` (Keras's `val_loss`), in batches of `batchSize`.
    public func loss(on data: ImageSet, batchSize: Int = 256) -> Double {
        var total = 0.0
        forEachBatch(of: data, batchSize: batchSize) { ws, b in
            let (reconstruction, penalty) = loss(ws, batch: b, gradients: nil)
            total += (reconstruction + penalty) * Double(b)
        }
        return total / Double(max(data.count, 1))
    }

    /// Evaluates the model on `data` in batches of `batchSize`: the loss, both reconstruction
    /// errors and the code's activation statistics.
    public func evaluate(_ data: ImageSet, batchSize: Int = 256) -> Evaluation {
        let d = config.inputSize, c = config.codeSize, last = layers.count - 1
        var loss = 0.0, bce = 0.0, mse = 0.0
        var unitSums = [Double](repeating: 0, count: c)
        forEachBatch(of: data, batchSize: batchSize) { ws, b in
            let (reconstruction, penalty) = self.loss(ws, batch: b, gradients: nil)
            loss += (reconstruction + penalty) * Double(b)
            bce += ReconstructionLoss.bce.evaluate(logits: ws.outputs[last], targets: ws.input, rows: b, cols: d, gradient: nil, scratch: ws.scratch)
            mse += ReconstructionLoss.mse.evaluate(logits: ws.outputs[last], targets: ws.input, rows: b, cols: d, gradient: nil, scratch: ws.scratch)
            let code = ws.outputs[codeLayerIndex]
            for r in 0..<b { for j in 0..<c { unitSums[j] += Double(code[r * c + j]) } }
        }
        let n = Double(max(data.count, 1))
        let unitMeans = unitSums.map { $0 / n }
        return Evaluation(
            loss: loss / n, bce: bce / (n * Double(d)), mse: mse / (n * Double(d)),
            meanActivation: unitMeans.reduce(0, +) / Double(c), unitMeans: unitMeans,
            deadUnits: unitMeans.filter { $0 < Evaluation.deadThreshold }.count)
    }

    /// Runs the forward pass over `data` in order, batch by batch, handing each to `body`.
    private func forEachBatch(of data: ImageSet, batchSize: Int, _ body: (Workspace, Int) -> Void) {
        let ws = Workspace(model: self, capacity: min(batchSize, max(data.count, 1)))
        var indices = [Int](repeating: 0, count: ws.capacity)
        var start = 0
        while start < data.count {
            let b = min(ws.capacity, data.count - start)
            for i in 0..<b { indices[i] = start + i }
            indices.withUnsafeBufferPointer { data.gather(UnsafeBufferPointer(rebasing: $0[0..<b]), into: ws.input) }
            forward(ws, batch: b)
            body(ws, b)
            start += b
        }
    }
}
