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
