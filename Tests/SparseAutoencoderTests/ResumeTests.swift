import Foundation
import XCTest
@testable import SparseAutoencoder

/// Killing training at any point and resuming ends with exactly the weights of an uninterrupted
/// run (same seed, same machine). Crash points are exact (`SAE_FAULT`), plus real `kill -9`s.
final class ResumeTests: XCTestCase {
    let settings = ["--penalty", "kl", "--epochs", "4", "--train-limit", "1500", "--hidden", "32", "--code", "8",
                    "--batch-size", "128", "--data", FashionMNIST.debianDirectory]

    func train(_ out: String, fault: String? = nil) throws -> CommandResult {
        try runSAE(["train"] + settings + ["--out", out], environment: fault.map { ["SAE_FAULT": $0] } ?? [:])
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func testKilledOrInterruptedRunsResumeToIdenticalWeights() throws {
        let root = temporaryDirectory(self)
        let reference = try train(root + "/reference")
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try XCTUnwrap(bytes(root + "/reference/model.safetensors"))
        // 12 steps per epoch: kill mid-epoch 1, at an epoch's last step, mid-epoch 3; kill while a
        // checkpoint is written (data on disk, not yet renamed); and a Ctrl-C mid-epoch.
        let faults = ["step@5", "step@24", "step@30", "checkpoint-rename@3", "step@17:interrupt"]
        for (i, fault) in faults.enumerated() {
            let out = root + "/run\(i)"
            let first = try train(out, fault: fault)
            if fault.hasSuffix(":interrupt") {
                XCTAssertEqual(first.status, 130, first.stderr)
                XCTAssertTrue(first.stderr.contains("sae train --resume \(out)"), first.stderr)
                XCTAssertEqual(try RunDirectory(path: out).loadStatus().state, "interrupted")
                assertCommandFails(try train(out), mentioning: "sae train --resume \(out)")
            } else {
                XCTAssertEqual(first.status, 9, "\(fault) should have killed the process (SIGKILL)")
                XCTAssertNil(bytes(out + "/model.safetensors"))
            }
            let resumed = try runSAE(["train", "--resume", out])
            XCTAssertEqual(resumed.status, 0, "\(fault): \(resumed.stderr)")
            XCTAssertEqual(bytes(out + "/model.safetensors"), expected, "\(fault): resumed weights differ")
            XCTAssertEqual(try RunDirectory(path: out).loadHistory().count, 4)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains(".tmp-") }, [])
        }
    }

    func testRealKillNineAtRandomMomentsThenResume() throws {
        let root = temporaryDirectory(self)
        XCTAssertEqual(try train(root + "/reference").status, 0)
        let expected = try XCTUnwrap(bytes(root + "/reference/model.safetensors"))
        for (i, delay) in [0.4, 0.9, 1.5].enumerated() {
            let out = root + "/run\(i)"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sae")
            p.arguments = ["train"] + settings + ["--out", out]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            Thread.sleep(forTimeInterval: delay)
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            // Killed before the run directory had a checkpoint: start again; otherwise resume.
            let next = FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors")
                ? try runSAE(["train", "--resume", out]) : try runSAE(["train"] + settings + ["--out", out, "--force"])
            if next.status != 0 && next.stderr.contains("already finished") { continue }
            XCTAssertEqual(next.status, 0, next.stderr)
            XCTAssertEqual(bytes(out + "/model.safetensors"), expected, "killed after \(delay) s: resumed weights differ")
        }
    }

    func testDivergenceStopsWithTheStepAndKeepsTheLastGoodCheckpoint() throws {
        let out = temporaryDirectory(self) + "/run"
        let r = try runSAE(["train", "--penalty", "l1", "--learning-rate", "1e6", "--epochs", "3", "--train-limit", "1000",
                            "--data", FashionMNIST.debianDirectory, "--out", out])
        assertCommandFails(r, mentioning: "training diverged at epoch 1, step")
        XCTAssertTrue(r.stderr.contains("learning rate"), r.stderr)
        let status = try RunDirectory(path: out).loadStatus()
        XCTAssertEqual(status.state, "diverged")
        XCTAssertNotNil(status.step)
        // The checkpoint holds finite weights and the run refuses to resume into the same wall.
        let (tensors, _) = try Safetensors.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))), name: "c")
        XCTAssertTrue(tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        assertCommandFails(try runSAE(["train", "--resume", out]), mentioning: "diverged")
    }

    func testResumeRefusesConflictingSettingsAndFinishedRuns() throws {
        let out = temporaryDirectory(self) + "/run"
        assertCommandFails(try runSAE(["train", "--resume", out, "--epochs", "9"]), mentioning: "drop --epochs")
        assertCommandFails(try runSAE(["train", "--resume", out]), mentioning: "not a run directory")
    }

    /// The library path: a trainer restored from a checkpoint continues exactly, for the
    /// tutorial's kind of model and for a topk dictionary with AuxK (dead-latent counts, b_dec
    /// started at the mean, unit-norm decoder).
    func testCheckpointRoundTripInTheLibrary() throws {
        let data = syntheticImages(count: 200, side: 4)
        let configs = [AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4, penalty: .l1(lambda: 0.01)),
                       AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24, topK: 2, auxK: AuxK(k: 4))]
        for config in configs {
            let settings = TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64)
            let full = try Autoencoder(config: config, seed: 5)
            try full.fit(data, settings: settings)

            let dir = temporaryDirectory(self)
            let first = try Trainer(model: try Autoencoder(config: config, seed: 5), settings: settings)
            var steps = 0
            XCTAssertThrowsError(try first.fit(data, shouldStop: { steps += 1; return steps == 10 })) { error in
                XCTAssertEqual(error as? Trainer.Stop, .interrupted(epoch: 2, step: 2)) // 7 steps + the end-of-epoch check, then 2
            }
            try first.saveCheckpoint(to: dir + "/c.safetensors")
            let second = try Trainer(model: try Autoencoder(config: config), settings: settings)
            try second.restoreCheckpoint(from: dir + "/c.safetensors")
            _ = try second.fit(data)
            XCTAssertEqual(second.model.parameterValues, full.parameterValues, "\(config.architecture)")
            XCTAssertEqual(second.history.count, 3)
        }
    }
}
