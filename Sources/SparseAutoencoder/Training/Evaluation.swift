/// A model's numbers on a dataset, computed in one batched pass.
public struct Evaluation: Sendable {
    /// The training objective: reconstruction loss + penalty, the sample-weighted mean of
    /// per-batch values (penalty per batch, as Keras's `val_loss`).
    public var loss: Double
    /// Binary cross-entropy (nil for a dictionary's linear outputs, where it is not defined) and
    /// squared error of the reconstructions (a transcoder's: of its predictions), per element.
    public var bce: Double?
    public var mse: Double
    /// Fraction of variance unexplained: sum |x - x^|^2 / sum |x - mean x|^2 (a transcoder's: of its
    /// targets y, sum |y - y^|^2 / sum |y - mean y|^2; 0 = perfect,
    /// 1 = no better than predicting the mean sample); nil where it is undefined: data that do
    /// not vary (one sample, or identical ones).
    public var fvu: Double?
    /// Mean of every code value.
    public var meanActivation: Double
    /// Mean code value of each unit: (codeSize).
    public var unitMeans: [Double]
    /// Quiet units: those whose mean activation is below `quietThreshold` (the tutorial's
    /// "effectively unused"; not *dead*, which is a training window's: `EpochRecord.deadLatents`).
    public var quietUnits: Int
    /// Every sample's code: (count, codeSize), row-major (empty when the codes went batch by batch to a
    /// `codeBatches` closure instead).
    public var codes: [Float]
    /// Reconstruction BCE and MSE per label (index = label), and how many samples had each label;
    /// empty for unlabelled data.
    public var bceByClass: [Double]
    public var mseByClass: [Double]
    public var classCounts: [Int]

    public static let quietThreshold = 1e-3
}

extension Autoencoder {
    /// The training objective on `data` (Keras's `val_loss`), in batches of `batchSize`.
    public func loss(on data: Dataset, batchSize: Int = 256) -> Double {
        loss(on: data, batchSize: batchSize, workspace: nil)
    }

    /// As above, reusing `workspace` (the trainer's) when it holds exactly `batchSize` rows.
    func loss(on data: Dataset, batchSize: Int, workspace: Workspace?) -> Double {
        var total = 0.0
        forEachBatch(of: data, batchSize: batchSize, workspace: workspace) { ws, b in
            total += loss(ws, batch: b).objective * Double(b)
        }
        return total / Double(max(data.count, 1))
    }

    /// The sum of the batch losses times the batch sizes over samples `rows` of `data`, in batches
    /// of `batchSize` from `rows.lowerBound`: one MPI rank's share of the validation loss.
    func lossSum(on data: Dataset, rows: Range<Int>, batchSize: Int, workspace: Workspace?) -> Double {
        var total = 0.0
        forEachBatch(of: data, rows: rows, batchSize: batchSize, workspace: workspace) { ws, b in
            total += loss(ws, batch: b).objective * Double(b)
        }
        return total
    }

    /// Evaluates the model on `data` in batches of `batchSize`: the loss, both reconstruction
    /// errors (overall and per label), the fraction of variance unexplained, and every code.
    public func evaluate(_ data: Dataset, batchSize: Int = 256) -> Evaluation {
        let c = config.codeSize
        var codes = [Float](repeating: 0, count: data.count * c), start = 0
        var result = evaluate(data, batchSize: batchSize) { batch, rows in
            codes.withUnsafeMutableBufferPointer { ($0.baseAddress! + start * c).update(from: batch, count: rows * c) }
            start += rows
        }
        result.codes = codes
        return result
    }

    /// The same without keeping the codes (`codes` is empty): each batch's (rows, codeSize) codes
    /// go to `codeBatches`, in order, so memory stays one batch whatever the size of `data`; and,
    /// if given, its outputs and targets, each (rows, targetSize), to `outputBatches`.
    package func evaluate(_ data: Dataset, batchSize: Int, codeBatches: (UnsafePointer<Float>, Int) -> Void,
                          outputBatches: ((_ output: UnsafePointer<Float>, _ target: UnsafePointer<Float>, Int) -> Void)? = nil) -> Evaluation {
        let d = config.targetSize, c = config.codeSize, last = layers.count - 1, linear = config.hasLinearOutput
        let classes = data.isLabelled ? Int(data.labels.max() ?? 0) + 1 : 0
        var loss = 0.0, bce = 0.0, mse = 0.0
        var bceByClass = [Double](repeating: 0, count: classes), mseByClass = bceByClass
        var classCounts = [Int](repeating: 0, count: classes)
        var unitMeans = [Double](repeating: 0, count: c)
        // Per-feature sums of x and x^2 for the variance about the mean sample.
        var sums = [Double](repeating: 0, count: d), squares = sums
        var start = 0
        forEachBatch(of: data, batchSize: batchSize) { ws, b in
            loss += self.loss(ws, batch: b).objective * Double(b)
            for r in 0..<b {
                let z = ws.outputs[last] + r * d, x = ws.target + r * d
                let rowBce = linear ? 0 : ReconstructionLoss.bce.evaluate(logits: z, targets: x, rows: 1, cols: d, gradient: nil)
                let rowMse = ReconstructionLoss.mse.evaluate(logits: z, targets: x, rows: 1, cols: d, gradient: nil, linear: linear)
                (bce, mse) = (bce + rowBce, mse + rowMse)
                for j in 0..<d { sums[j] += Double(x[j]); squares[j] += Double(x[j]) * Double(x[j]) }
                guard classes > 0 else { continue }
                let label = Int(data.labels[start + r])
                bceByClass[label] += rowBce
                mseByClass[label] += rowMse
                classCounts[label] += 1
            }
            let code = UnsafePointer(ws.outputs[codeLayerIndex])
            for r in 0..<b { for j in 0..<c { unitMeans[j] += Double(code[r * c + j]) } }
            codeBatches(code, b)
            outputBatches?(UnsafePointer(ws.outputs[last]), UnsafePointer(ws.target), b)
            start += b
        }
        let n = Double(max(data.count, 1))
        unitMeans = unitMeans.map { $0 / n }
        let variance = zip(sums, squares).reduce(0.0) { $0 + $1.1 - $1.0 * $1.0 / n }
        let perElement = { (sums: [Double]) in zip(sums, classCounts).map { $1 == 0 ? 0 : $0 / (Double($1) * Double(d)) } }
        return Evaluation(
            loss: loss / n, bce: linear ? nil : bce / (n * Double(d)), mse: mse / (n * Double(d)),
            fvu: variance > 0 ? mse / variance : nil,
            meanActivation: unitMeans.reduce(0, +) / Double(c), unitMeans: unitMeans,
            quietUnits: unitMeans.filter { $0 < Evaluation.quietThreshold }.count,
            codes: [], bceByClass: linear ? [] : perElement(bceByClass), mseByClass: perElement(mseByClass), classCounts: classCounts)
    }

    /// Runs the forward pass over `data` (or its samples `rows`) in order, batch by batch,
    /// handing each to `body`.
    private func forEachBatch(of data: Dataset, rows: Range<Int>? = nil, batchSize: Int, workspace: Workspace? = nil,
                              _ body: (Workspace, Int) -> Void) {
        let rows = rows ?? 0..<data.count
        guard !rows.isEmpty else { return }
        let capacity = min(batchSize, max(data.count, 1))
        let ws = workspace.flatMap { $0.capacity == capacity ? $0 : nil } ?? Workspace(model: self, capacity: capacity)
        var indices = [Int](repeating: 0, count: ws.capacity)
        var start = rows.lowerBound
        while start < rows.upperBound {
            let b = min(ws.capacity, rows.upperBound - start)
            for i in 0..<b { indices[i] = start + i }
            indices.withUnsafeBufferPointer { ws.load(data, rows: UnsafeBufferPointer(rebasing: $0[0..<b])) }
            forward(ws, batch: b)
            body(ws, b)
            FaultInjection.reach("batch")
            start += b
        }
    }
}
