import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Ctrl-C and SIGTERM outside a training loop end the command at once with 128 + the signal and
/// nothing half-written (`Interrupt`, `CSignals`); inside one, training stops at the next step as
/// before. The signal comes at an exact batch (`SAE_FAULT=batch@N:interrupt`, SIGINT).
final class SignalTests: XCTestCase {
    private func leftovers(_ dir: String) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []).filter { $0.contains(".tmp-") || $0.contains(".sae-tmp-") }
    }

    func testLongCommandsStopAtOnceLeavingNothingHalfWritten() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(3000 * 8, seed: 1), rows: 3000, cols: 8, to: dir + "/x.npy")
        XCTAssertEqual(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "64", "--k", "4", "--epochs", "1", "--out", dir + "/run"]).status, 0)
        let interrupt = ["SAE_FAULT": "batch@3:interrupt"]
        // encode: no output file, no temporary file beside it.
        let encode = try runSAE(["encode", dir + "/run", "--npy", dir + "/x.npy", "--out", dir + "/codes.npy"], environment: interrupt)
        XCTAssertEqual(encode.status, 130, encode.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/codes.npy"))
        // features and analyze: no page, no metrics.json.
        let features = try runSAE(["features", dir + "/run", "--npy", dir + "/x.npy"], environment: interrupt)
        XCTAssertEqual(features.status, 130, features.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run/features"))
        let metrics = FileManager.default.contents(atPath: dir + "/run/metrics.json")
        let analyze = try runSAE(["analyze", dir + "/run", "--no-probe"], environment: interrupt)
        XCTAssertEqual(analyze.status, 130, analyze.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: dir + "/run/metrics.json"), metrics, "metrics.json as it was")
        XCTAssertEqual(leftovers(dir), [])
    }

    /// A signal in the final evaluation (after the last step): the process ends with 130 instead of
    /// finishing the evaluation, the final checkpoint saved; `--resume` then finishes the run.
    func testASignalInTheFinalEvaluationEndsTheRunAndResumeFinishesIt() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(2000 * 8, seed: 1), rows: 2000, cols: 8, to: dir + "/x.npy")
        // 1,800 training rows and 200 held out: the epoch's validation is batch 1, the final
        // evaluation's first batch is batch 2.
        let stopped = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "32", "--k", "4", "--epochs", "1", "--batch-size", "256",
                                  "--out", dir + "/run"], environment: ["SAE_FAULT": "batch@2:interrupt"])
        XCTAssertEqual(stopped.status, 130, stopped.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run/metrics.json"))
        XCTAssertEqual(try RunDirectory(path: dir + "/run").loadStatus().state, .training)
        let resumed = try runSAE(["train", "--resume", dir + "/run"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/run").loadStatus().state, .finished)
        XCTAssertEqual(leftovers(dir), [])
        // During training, the same signal still stops at the next step with a checkpoint.
        let training = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "32", "--k", "4", "--epochs", "3", "--batch-size", "256",
                                   "--out", dir + "/run2"], environment: ["SAE_FAULT": "step@3:interrupt"])
        XCTAssertEqual(training.status, 130)
        XCTAssertTrue(training.stderr.contains("Ctrl-C: interrupted at epoch 1, step 3"), training.stderr)
    }
}

/// Damage named for what it is, not blamed on the learning rate: a checkpoint whose Adam moments
/// hold infinity, and a NaN row in a streamed shard (the run then waits at its last checkpoint
/// for the file to be fixed).
final class DamageTests: XCTestCase {
    func testAnInfiniteAdamMomentIsADamagedCheckpoint() throws {
        let dir = temporaryDirectory(self)
        let config = AutoencoderConfig.dictionary(inputSize: 4, codeSize: 8, topK: 2)
        let trainer = try Trainer(model: try Autoencoder(config: config, seed: 1), settings: TrainingSettings(epochs: 2))
        try trainer.saveCheckpoint(to: dir + "/c.safetensors")
        let (tensors, metadata) = try Safetensors.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/c.safetensors"))), name: "c")
        var damaged = tensors
        damaged["optimizer.v"]!.values[5] = .infinity
        try Data(Safetensors.encode(damaged.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: metadata))
            .write(to: URL(fileURLWithPath: dir + "/d.safetensors"))
        let fresh = try Trainer(model: try Autoencoder(config: config), settings: TrainingSettings(epochs: 2))
        XCTAssertThrowsError(try fresh.restoreCheckpoint(from: dir + "/d.safetensors")) {
            XCTAssertTrue("\($0)".contains("tensor \"optimizer.v\" holds inf at index 5: the checkpoint is damaged"), "\($0)")
        }
        XCTAssertNoThrow(try fresh.restoreCheckpoint(from: dir + "/c.safetensors"))
    }

    func testANaNInAShardStopsAtTheLastCheckpointAndResumesOnceFixed() throws {
        let dir = temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/shards", withIntermediateDirectories: true)
        let good = randomFloats(300 * 4, seed: 2)
        try NPY.write(good, rows: 300, cols: 4, to: dir + "/shards/a.npy")
        var bad = randomFloats(300 * 4, seed: 3)
        try NPY.write(bad, rows: 300, cols: 4, to: dir + "/shards/b.npy")
        try NPY.write(randomFloats(50 * 4, seed: 4), rows: 50, cols: 4, to: dir + "/val.npy")
        let options = ["train", "--data-npy", dir + "/shards", "--val-npy", dir + "/val.npy", "--code", "16", "--k", "2", "--epochs", "3",
                       "--batch-size", "50", "--out", dir + "/run"]
        // The first epoch passes; then b.npy gets a NaN (as a writer still filling it might).
        let first = try runSAE(options, environment: ["SAE_FAULT": "step@13:interrupt"])
        XCTAssertEqual(first.status, 130, first.stderr)
        let clean = bad
        bad[7] = .nan
        try NPY.write(bad, rows: 300, cols: 4, to: dir + "/shards/b.npy")
        let stopped = try runSAE(["train", "--resume", dir + "/run", "--accept-changed-data"])
        assertCommandFails(stopped, mentioning: "b.npy: row 1 holds NaN or infinite values. Training stopped at its last checkpoint")
        XCTAssertFalse(stopped.stderr.contains("learning rate"), stopped.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/run").loadStatus().state, .interrupted)
        try NPY.write(clean, rows: 300, cols: 4, to: dir + "/shards/b.npy")
        let resumed = try runSAE(["train", "--resume", dir + "/run", "--accept-changed-data"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/run").loadStatus().state, .finished)
    }
}
