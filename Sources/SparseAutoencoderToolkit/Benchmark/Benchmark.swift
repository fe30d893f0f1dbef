import Foundation
import SparseAutoencoder

/// Where a training epoch's time goes, next to what OpenBLAS can do on the model's own matrix
/// shapes: the numbers the next optimisation needs. `sae bench` prints this.
package struct BenchmarkReport: Sendable {
    package struct Gemm: Sendable {
        package var label: String
        package var m: Int, n: Int, k: Int
        package var transA: Bool, transB: Bool
        /// How often one epoch runs this product.
        package var callsPerEpoch: Int
        /// The better of the two below: the floor uses it.
        package var gflops: Double { max(poolGFLOPs, openBLASGFLOPs) }
        /// Split by the worker pool (what training uses), and by OpenBLAS's own threads.
        package var poolGFLOPs = 0.0
        package var openBLASGFLOPs = 0.0
        package var flopsPerCall: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    package var kernel: String
    package var epochs: Int
    /// Median seconds per epoch (training + validation) over the timed epochs.
    package var secondsPerEpoch: Double
    /// Mean seconds per epoch in each phase, in `PhaseTimer.Phase` order.
    package var phaseSeconds: [Double]
    package var gemms: [Gemm]
    package var flopsPerEpoch: Double { gemms.reduce(0) { $0 + $1.flopsPerCall * Double($1.callsPerEpoch) } }
    /// The epoch time if every product ran at its measured sgemm speed and nothing else took time.
    package var floorSecondsPerEpoch: Double { gemms.reduce(0) { $0 + $1.flopsPerCall * Double($1.callsPerEpoch) / ($1.gflops * 1e9) } }
    package var achievedGFLOPs: Double { flopsPerEpoch / secondsPerEpoch / 1e9 }

    package var table: String {
        var lines = ["OpenBLAS kernel: \(kernel); \(epochs) timed epochs",
                     String(format: "seconds per epoch (median): %.3f   floor from sgemm: %.3f   ratio: %.2f",
                            secondsPerEpoch, floorSecondsPerEpoch, secondsPerEpoch / floorSecondsPerEpoch),
                     String(format: "matrix products: %.1f GFLOP per epoch, achieved %.1f GFLOP/s overall", flopsPerEpoch / 1e9, achievedGFLOPs),
                     "", "phase                     s/epoch   share"]
        let total = phaseSeconds.reduce(0, +)
        for phase in PhaseTimer.Phase.allCases {
            let s = phaseSeconds[phase.rawValue]
            lines.append(MetricsTable.pad(phase.name, 26) + String(format: "%7.3f  %5.1f%%", s, 100 * s / max(total, 1e-12)))
        }
        lines += ["", "sgemm GFLOP/s on the model's shapes  m     n     k  calls/epoch   pool  OpenBLAS threads"]
        for g in gemms {
            lines.append(MetricsTable.pad(g.label, 30) + String(format: "%6d%6d%6d%13d%7.1f%18.1f", g.m, g.n, g.k, g.callsPerEpoch,
                                                                g.poolGFLOPs, g.openBLASGFLOPs))
        }
        return lines.joined(separator: "\n")
    }
}

package enum Benchmark {
    /// Trains `config` for `warmup + epochs` epochs with a phase timer (only the last `epochs`
    /// count), then times sgemm alone on every product shape of a step.
    package static func run(_ config: AutoencoderConfig, train: Dataset, test: Dataset, epochs: Int = 3, warmup: Int = 1,
                           settings: TrainingSettings = TrainingSettings()) throws -> BenchmarkReport {
        var settings = settings
        settings.epochs = warmup + epochs
        let model = try Autoencoder(config: config, seed: settings.seed)
        let trainer = try Trainer(model: model, settings: settings)
        let timer = PhaseTimer()
        var warmTotals: [Double] = []
        let history = try trainer.fit(train, validation: test, timer: timer, progress: { event in
            if case .epochEnd(let record, _) = event, record.epoch == warmup { warmTotals = timer.seconds }
        })
        let timed = history.suffix(epochs).map(\.seconds).sorted()
        let phases = zip(timer.seconds, warmTotals.isEmpty ? timer.seconds.map { _ in 0 } : warmTotals).map { ($0 - $1) / Double(epochs) }
        return BenchmarkReport(kernel: BLASKernel.coreName, epochs: epochs, secondsPerEpoch: timed[timed.count / 2],
                               phaseSeconds: phases, gemms: gemms(model, batch: settings.batchSize, train: train.count, test: test.count))
    }

    /// Every matrix product of a training step and a validation step, timed alone.
    static func gemms(_ model: Autoencoder, batch: Int, train: Int, test: Int) -> [BenchmarkReport.Gemm] {
        let steps = (train + batch - 1) / batch, valSteps = (test + batch - 1) / batch
        var out: [BenchmarkReport.Gemm] = []
        for (l, layer) in model.layers.enumerated() {
            let (i, o) = (layer.inputSize, layer.outputSize)
            out.append(.init(label: "layer \(l) forward y = x W", m: batch, n: o, k: i, transA: false, transB: layer.unitMajor,
                             callsPerEpoch: steps + valSteps))
            // The sparse TopK step's only dense product is the encoder's forward one.
            if model.supportsSparseStep { break }
            out.append(layer.unitMajor
                ? .init(label: "layer \(l) weights dW = dz^T x", m: o, n: i, k: batch, transA: true, transB: false, callsPerEpoch: steps)
                : .init(label: "layer \(l) weights dW = x^T dz", m: i, n: o, k: batch, transA: true, transB: false, callsPerEpoch: steps))
            if l > 0 {
                out.append(.init(label: "layer \(l) input dx = dz W^T", m: batch, n: i, k: o, transA: false, transB: true,
                                 callsPerEpoch: steps))
            }
        }
        return out.map { g in
            var g = g
            (g.poolGFLOPs, g.openBLASGFLOPs) = (measureOnce(g), BLAS.withOpenBLASThreads { measureOnce(g) })
            return g
        }
    }

    /// sgemm GFLOP/s on one shape: the best of five runs of enough calls to take ~50 ms. Both
    /// ways of threading are timed, and the floor takes the better (so it is never flattered by a
    /// slow way of calling OpenBLAS).
    private static func measureOnce(_ g: BenchmarkReport.Gemm) -> Double {
        let a = [Float](repeating: 0.5, count: g.m * g.k), b = [Float](repeating: 0.25, count: g.k * g.n)
        var c = [Float](repeating: 0, count: g.m * g.n)
        let calls = max(10, Int(5e9 / g.flopsPerCall))
        var best = Double.infinity
        for _ in 0..<5 {
            let start = PhaseTimer.now()
            for _ in 0..<calls {
                BLAS.gemm(g.transA, g.transB, m: g.m, n: g.n, k: g.k, a: a, lda: g.transA ? g.m : g.k,
                          b: b, ldb: g.transB ? g.k : g.n, c: &c, ldc: g.n)
            }
            best = min(best, Double(PhaseTimer.now() - start) * 1e-9)
        }
        return g.flopsPerCall * Double(calls) / best / 1e9
    }
}
