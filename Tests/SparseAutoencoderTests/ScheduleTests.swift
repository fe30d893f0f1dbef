import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Learning-rate warm-up and decay, and the sparsity coefficient's warm-up (`Schedule`): their
/// factors against the formulas, the warmed-up penalty against a model whose coefficient is
/// scaled instead (each architecture's), exact resume, and the settings' refusals.
final class ScheduleTests: XCTestCase {
    func testFactorsFollowTheirFormulas() {
        let warm = Schedule(warmupSteps: 4)
        XCTAssertEqual((0..<6).map { warm.learningRateFactor(step: $0, of: 100) }, [0.25, 0.5, 0.75, 1, 1, 1])
        // Linear from step 0 of 10: (10 - t) / 10, to 0 (dictionary_learning's), or to 0.2.
        let linear = Schedule(decay: .linear)
        XCTAssertEqual(linear.learningRateFactor(step: 0, of: 10), 1)
        XCTAssertEqual(linear.learningRateFactor(step: 5, of: 10), 0.5, accuracy: 1e-12)
        XCTAssertEqual(linear.learningRateFactor(step: 9, of: 10), 0.1, accuracy: 1e-12)
        XCTAssertEqual(Schedule(decay: .linear, endFactor: 0.2).learningRateFactor(step: 5, of: 10), 0.6, accuracy: 1e-12)
        // Cosine: 1 at its start, half way at the middle, near the end factor at the last step.
        let cosine = Schedule(warmupSteps: 2, decay: .cosine, endFactor: 0.1)
        XCTAssertEqual(cosine.learningRateFactor(step: 0, of: 12), 0.5)
        XCTAssertEqual(cosine.learningRateFactor(step: 2, of: 12), 1, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRateFactor(step: 7, of: 12), 0.1 + 0.9 * 0.5, accuracy: 1e-12)
        XCTAssertEqual(cosine.learningRateFactor(step: 11, of: 12), 0.1 + 0.9 * (1 + cos(Double.pi * 0.9)) / 2, accuracy: 1e-12)
        // A later start leaves the steps before it at 1.
        XCTAssertEqual(Schedule(decay: .linear, decayStart: 6).learningRateFactor(step: 5, of: 10), 1)
        XCTAssertEqual(Schedule(decay: .linear, decayStart: 6).learningRateFactor(step: 8, of: 10), 0.5, accuracy: 1e-12)
        XCTAssertEqual((0..<4).map { Schedule(sparsityWarmupSteps: 3).sparsityFactor(step: $0) }, [Float(1) / 3, Float(2) / 3, 1, 1])
        XCTAssertEqual(Schedule().sparsityFactor(step: 0), 1)
    }

    func testSettingsAreChecked() {
        let bad: [(Schedule, String)] = [
            (Schedule(warmupSteps: -1), "--lr-warmup-steps"), (Schedule(sparsityWarmupSteps: -5), "--sparsity-warmup-steps"),
            (Schedule(decay: .linear, endFactor: 1.5), "--lr-end"), (Schedule(endFactor: 0.1), "needs a decay"),
            (Schedule(decayStart: 3), "needs a decay"), (Schedule(warmupSteps: 10, decay: .cosine, decayStart: 5), "at or after the warm-up's end"),
        ]
        for (schedule, text) in bad {
            XCTAssertThrowsError(try schedule.validate()) { XCTAssertTrue("\($0)".contains(text), "\($0)") }
        }
    }

    /// With the penalty's factor at s, each architecture's loss and every gradient are those of
    /// the same model with its coefficient times s: the tutorial's L1 and KL, a dictionary's L1,
    /// JumpReLU's L0 and Gated's gate L1.
    func testAWarmedUpPenaltyIsTheScaledCoefficients() throws {
        let s: Float = 0.375   // a power-of-two fraction: lambda x s is exact
        var l1Dictionary = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20)
        l1Dictionary.penalty = .l1(lambda: 0.25)
        var jumprelu = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20, unitNormDecoder: false)
        jumprelu.architecture = .jumprelu
        jumprelu.jumpReLU = JumpReLUSettings(bandwidth: 0.05, coefficient: 0.75, targetL0: 3)
        var gated = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 20)
        (gated.architecture, gated.gateL1) = (.gated, 0.5)
        let cases: [(AutoencoderConfig, (AutoencoderConfig) -> AutoencoderConfig)] = [
            (AutoencoderConfig(inputSize: 6, hiddenSizes: [5], codeSize: 4, penalty: .l1(lambda: 0.125)), { var c = $0; c.penalty = .l1(lambda: 0.125 * s); return c }),
            (AutoencoderConfig(inputSize: 6, hiddenSizes: [5], codeSize: 4, codeActivation: .sigmoid, penalty: .kl(rho: 0.05, beta: 3)),
             { var c = $0; c.penalty = .kl(rho: 0.05, beta: 3 * s); return c }),
            (l1Dictionary, { var c = $0; c.penalty = .l1(lambda: 0.25 * s); return c }),
            (jumprelu, { var c = $0; c.jumpReLU!.coefficient = 0.75 * s; return c }),
            (gated, { var c = $0; c.gateL1 = 0.5 * s; return c }),
        ]
        for (config, scaled) in cases {
            let batch = 7, x = randomFloats(batch * 6, seed: 21, in: 0...1)
            func step(_ config: AutoencoderConfig, factor: Float, parameters: [Float]?) throws -> (loss: Double, gradients: [Float], parameters: [Float]) {
                let m = try Autoencoder(config: config, seed: 3)
                if let parameters { m.parameterValues = parameters }
                if let thresholds = (m.selection as? JumpReLU)?.thresholds { for j in 0..<config.codeSize { thresholds[j] = Float(j % 5) * 0.08 } }
                let ws = Workspace(model: m, capacity: batch)
                ws.training = true
                ws.sparsityScale = factor
                ws.input.update(from: x, count: x.count)
                m.forward(ws, batch: batch)
                var g = [Float](repeating: 0, count: m.parameterCount)
                let loss = m.lossAndGradient(ws, batch: batch, into: &g)
                return (loss.objective, g, m.parameterValues)
            }
            let warmed = try step(config, factor: s, parameters: nil)
            let reference = try step(scaled(config), factor: 1, parameters: warmed.parameters)
            XCTAssertEqual(warmed.loss, reference.loss, "\(config.architecture) \(config.penalty)")
            XCTAssertEqual(warmed.gradients, reference.gradients, "\(config.architecture) \(config.penalty)")
            let full = try step(config, factor: 1, parameters: warmed.parameters)
            XCTAssertNotEqual(full.loss, warmed.loss, "the factor must change the loss: \(config.architecture)")
        }
    }

    /// A scheduled run stopped mid-epoch and resumed ends with the uninterrupted run's weights;
    /// the schedule changes the weights; factors that are 1 throughout change nothing.
    func testScheduledTrainingResumesExactly() throws {
        let dir = temporaryDirectory(self), data = syntheticImages(count: 200, side: 4)
        var config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24)
        config.penalty = .l1(lambda: 1e-3)
        let schedule = Schedule(warmupSteps: 5, decay: .cosine, endFactor: 0.1, sparsityWarmupSteps: 9)
        let settings = TrainingSettings(epochs: 3, batchSize: 32, seed: 5, schedule: schedule)
        try assertCheckpointResumesExactly(config, on: data, settings: settings, stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: dir)
        func weights(_ schedule: Schedule?) throws -> [Float] {
            let m = try Autoencoder(config: config, seed: 5)
            try m.fit(data, settings: TrainingSettings(epochs: 2, batchSize: 32, seed: 5, schedule: schedule))
            return m.parameterValues
        }
        let constant = try weights(nil)
        XCTAssertEqual(try weights(Schedule(decay: .linear, endFactor: 1)), constant, "a decay to 1 x lr is no decay")
        XCTAssertEqual(try weights(Schedule(warmupSteps: 1, sparsityWarmupSteps: 1)), constant, "one-step warm-ups are none")
        XCTAssertNotEqual(try weights(schedule), constant)
    }

    /// The tool records the schedule in config.json, refuses one that cannot act, and says that an
    /// extended run's decay is stretched.
    func testTheToolRecordsAndChecksTheSchedule() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(300 * 6, seed: 9), rows: 300, cols: 6, to: dir + "/x.npy")
        let common = ["train", "--data-npy", dir + "/x.npy", "--code", "16", "--epochs", "2", "--batch-size", "30"]
        let run = try runSAE(common + ["--l1", "1e-3", "--lr-warmup-steps", "4", "--lr-decay", "cosine", "--lr-end", "0.1",
                                       "--sparsity-warmup-steps", "6", "--out", dir + "/run"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/run").loadConfig().training.schedule,
                       Schedule(warmupSteps: 4, decay: .cosine, endFactor: 0.1, sparsityWarmupSteps: 6))
        // 270 training rows in batches of 30: 9 steps an epoch, 18 in all.
        assertCommandFails(try runSAE(common + ["--lr-decay", "linear", "--lr-decay-start", "18", "--out", dir + "/late"]),
                           mentioning: "the decay would start at step 18, but the run has 18 steps")
        assertCommandFails(try runSAE(common + ["--k", "3", "--sparsity-warmup-steps", "6", "--out", dir + "/topk"]),
                           mentioning: "--sparsity-warmup-steps: needs a sparsity coefficient")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/late") || FileManager.default.fileExists(atPath: dir + "/topk"))
        assertCommandFails(try runSAE(["train", "--resume", dir + "/run", "--lr-decay", "linear"]), mentioning: "drop --lr-decay")
        let extended = try runSAE(["train", "--resume", dir + "/run", "--epochs", "3"])
        XCTAssertEqual(extended.status, 0, extended.stderr)
        XCTAssertTrue(extended.stdout.contains("the decay is now spread over 3 epochs"), extended.stdout)
    }
}
