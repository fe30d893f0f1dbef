import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Killing training at any point and resuming ends with exactly the weights of an uninterrupted
/// run (same seed, same machine). Crash points are exact (`SAE_FAULT`), plus real `kill -9`s.
final class ResumeTests: XCTestCase {
    /// 200 training images in batches of 32: 7 steps an epoch (the last of 8 samples). The
    /// `step` fault point is reached after every step and once more after the epoch is saved,
    /// so 8 times an epoch.
    static let settings = ["--penalty", "kl", "--hidden", "32", "--code", "8", "--batch-size", "32", "--data", fashionMini]

    func train(_ out: String, epochs: Int = 4, fault: String? = nil) throws -> CommandResult {
        try runSAE(["train"] + Self.settings + ["--epochs", "\(epochs)", "--out", out], environment: fault.map { ["SAE_FAULT": $0] } ?? [:])
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Epochs recorded in history.json (none before the first epoch ends).
    func epochsDone(_ out: String) -> Int { (try? RunDirectory(path: out).loadHistory().count) ?? 0 }

    func testKilledOrInterruptedRunsResumeToIdenticalWeights() throws {
        let root = temporaryDirectory(self)
        let reference = try train(root + "/reference")
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try XCTUnwrap(bytes(root + "/reference/model.safetensors"))
        // Kill mid-epoch 1; at epoch 1's last step (before its checkpoint); just after epoch 1 is
        // saved; mid-epoch 3; while epoch 2's checkpoint is written (data on disk, not yet
        // renamed; the first checkpoint is the initial one); and a Ctrl-C mid-epoch 2. With the
        // epochs each must have left in history.json, so that a fault landing elsewhere fails.
        // A checkpoint write that fails (as on a full disk) at epoch 2 keeps epoch 1's.
        let faults: [(fault: String, epochsDone: Int)] = [("step@3", 0), ("step@7", 0), ("step@8", 1), ("step@19", 2),
                                                           ("checkpoint-rename@3", 1), ("step@12:interrupt", 1), ("checkpoint-write@3", 1)]
        for (i, (fault, done)) in faults.enumerated() {
            let out = root + "/run\(i)"
            let first = try train(out, fault: fault)
            if fault.hasSuffix(":interrupt") {
                XCTAssertEqual(first.status, 130, first.stderr)
                XCTAssertTrue(first.stderr.contains("sae train --resume \(out)"), first.stderr)
                XCTAssertEqual(try RunDirectory(path: out).loadStatus(), RunStatus(state: .interrupted, epoch: 2, step: 4))
                assertCommandFails(try train(out), mentioning: "sae train --resume \(out)")
            } else if fault.hasPrefix("checkpoint-write") {
                assertCommandFails(first, mentioning: "write failed (SAE_FAULT=checkpoint-write); the last checkpoint is kept in \(out): "
                                   + "once that is fixed, continue with `sae train --resume \(out)`")
                XCTAssertEqual(try RunDirectory(path: out).loadStatus().state, .interrupted)
            } else {
                XCTAssertEqual(first.status, 9, "\(fault) should have killed the process (SIGKILL)")
                XCTAssertNil(bytes(out + "/model.safetensors"))
            }
            XCTAssertEqual(epochsDone(out), done, "\(fault) stopped the run at another point")
            let resumed = try runSAE(["train", "--resume", out])
            XCTAssertEqual(resumed.status, 0, "\(fault): \(resumed.stderr)")
            XCTAssertEqual(bytes(out + "/model.safetensors"), expected, "\(fault): resumed weights differ")
            XCTAssertEqual(try RunDirectory(path: out).loadHistory().count, 4)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.contains(".tmp-") }, [])
        }
    }

    /// Real `kill -9`s at random moments (not at the fault points): each after the run has
    /// printed `Epoch K/12`, plus a random delay of up to 1.5 epochs (so it can land in a step,
    /// the validation or a checkpoint write), with epochs left to spare: the kill must land
    /// mid-run, and the resumed run must end with the uninterrupted run's weights.
    func testRealKillNineAtRandomMomentsThenResume() throws {
        let root = temporaryDirectory(self)
        let reference = try train(root + "/reference", epochs: 12)
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let expected = try XCTUnwrap(bytes(root + "/reference/model.safetensors"))
        let epochSeconds = try RunDirectory(path: root + "/reference").loadHistory().map(\.seconds).max() ?? 0
        let binary = URL(fileURLWithPath: try builtExecutable("sae"))
        for (i, epoch) in [1, 3, 6].enumerated() {
            let out = root + "/run\(i)"
            var delay = Double.random(in: 0..<1.5) * epochSeconds
            var p = Process(), printed = ""
            // A loaded machine (the tier runs tests side by side) can stall this process longer
            // than the run's last epochs take: a run that outran its kill is retried, killed sooner.
            for attempt in 0..<3 {
                try? FileManager.default.removeItem(atPath: out)
                p = Process()
                p.executableURL = binary
                p.arguments = ["train"] + Self.settings + ["--epochs", "12", "--out", out]
                let pipe = Pipe()
                p.standardOutput = pipe
                p.standardError = FileHandle.nullDevice
                try p.run()
                printed = ""
                while !printed.contains("Epoch \(epoch)/12") {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }   // the process ended
                    printed += String(decoding: chunk, as: UTF8.self)
                }
                Thread.sleep(forTimeInterval: delay)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                if p.terminationReason == .uncaughtSignal || attempt == 2 { break }
                delay /= 4
            }
            let moment = "killed \(String(format: "%.3f", delay)) s after Epoch \(epoch)/12 began"
            XCTAssertTrue(printed.contains("Epoch \(epoch)/12"), "\(moment): it printed \(printed)")
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "\(moment): the process was not killed (it ended first)")
            XCTAssertEqual(p.terminationStatus, SIGKILL, moment)
            XCTAssertLessThan(epochsDone(out), 12, moment)
            XCTAssertNil(bytes(out + "/model.safetensors"), moment)
            // The initial checkpoint is written before Epoch 1 begins: there is always one.
            XCTAssertNotNil(bytes(out + "/checkpoint.safetensors"), moment)
            let resumed = try runSAE(["train", "--resume", out])
            XCTAssertEqual(resumed.status, 0, "\(moment): \(resumed.stderr)")
            XCTAssertEqual(bytes(out + "/model.safetensors"), expected, "\(moment): resumed weights differ")
        }
    }

    func testDivergenceStopsWithTheStepAndKeepsTheLastGoodCheckpoint() throws {
        let out = temporaryDirectory(self) + "/run"
        let r = try runSAE(["train", "--penalty", "l1", "--learning-rate", "1e6", "--epochs", "3", "--batch-size", "64",
                            "--data", fashionMini, "--out", out])
        assertCommandFails(r, mentioning: "training diverged at epoch 1, step")
        XCTAssertTrue(r.stderr.contains("learning rate"), r.stderr)
        let status = try RunDirectory(path: out).loadStatus()
        XCTAssertEqual(status.state, .diverged)
        XCTAssertNotNil(status.step)
        // The checkpoint holds finite weights and the run refuses to resume into the same wall.
        let (tensors, _) = try Safetensors.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))), name: "c")
        XCTAssertTrue(tensors.values.allSatisfy { $0.values.allSatisfy(\.isFinite) })
        assertCommandFails(try runSAE(["train", "--resume", out]), mentioning: "diverged")
    }

    func testResumeRefusesConflictingSettingsAndFinishedRuns() throws {
        let out = temporaryDirectory(self) + "/run"
        assertCommandFails(try runSAE(["train", "--resume", out, "--batch-size", "9"]), mentioning: "drop --batch-size")
        assertCommandFails(try runSAE(["train", "--resume", out]), mentioning: "not a run directory")
    }

    /// `--resume RUN --epochs N` extends a run, finished or not, to N epochs, ending with the
    /// weights of a run asked for N from the start; an extension interrupted midway resumes to N;
    /// a run is never shortened, and a finished one without a larger N has nothing to resume.
    func testAFinishedRunExtendsExactlyToMoreEpochs() throws {
        let root = temporaryDirectory(self)
        XCTAssertEqual(try train(root + "/reference", epochs: 4).status, 0)
        let expected = try XCTUnwrap(bytes(root + "/reference/model.safetensors"))
        let out = root + "/run"
        XCTAssertEqual(try train(out, epochs: 2).status, 0)
        assertCommandFails(try runSAE(["train", "--resume", out]), mentioning: "has already finished its 2 epochs; nothing to resume (to train it further: --resume \(out) --epochs N")
        assertCommandFails(try runSAE(["train", "--resume", out, "--epochs", "1"]), mentioning: "is set for 2 epochs: --epochs can extend a run, not shorten it")
        assertCommandFails(try runSAE(["train", "--resume", out, "--epochs", "2"]), mentioning: "has already finished its 2 epochs")
        // Extended to 3, interrupted in epoch 3 (the step fault point is reached 8 times an epoch),
        // then resumed without --epochs: the run is now set for 3.
        let interrupted = try runSAE(["train", "--resume", out, "--epochs", "3"], environment: ["SAE_FAULT": "step@4:interrupt"])
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        XCTAssertTrue(interrupted.stdout.contains("Extending \(out) from 2 to 3 epochs"), interrupted.stdout)
        XCTAssertEqual(try RunDirectory(path: out).loadConfig().training.epochs, 3)
        XCTAssertEqual(try runSAE(["train", "--resume", out]).status, 0)
        XCTAssertEqual(try RunDirectory(path: out).loadHistory().count, 3)
        let extended = try runSAE(["train", "--resume", out, "--epochs", "4"])
        XCTAssertEqual(extended.status, 0, extended.stderr)
        XCTAssertEqual(bytes(out + "/model.safetensors"), expected, "the extended run's weights differ from a 4-epoch run's")
        XCTAssertEqual(try RunDirectory(path: out).loadHistory().count, 4)
        XCTAssertEqual(try RunDirectory(path: out).loadStatus().state, .finished)
        XCTAssertEqual(try RunDirectory(path: out).loadConfig().training, try RunDirectory(path: root + "/reference").loadConfig().training)
    }

    /// The library path: a trainer restored from a checkpoint continues exactly, for the
    /// tutorial's kind of model and for a topk dictionary with AuxK (dead-latent counts, b_dec
    /// started at the mean, unit-norm decoder).
    func testCheckpointRoundTripInTheLibrary() throws {
        let data = syntheticImages(count: 200, side: 4)
        let configs = [AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4, penalty: .l1(lambda: 0.01)),
                       AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24, topK: 2, auxK: AuxK(k: 4))]
        for config in configs {
            // 7 steps + the end-of-epoch check, then 2.
            let resumed = try assertCheckpointResumesExactly(config, on: data, settings: TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64),
                                                             stopAfter: 10, at: .interrupted(epoch: 2, step: 2), in: temporaryDirectory(self))
            XCTAssertEqual(resumed.history.count, 3)
        }
    }

    /// A checkpoint whose trainer state was edited or damaged into numbers no run reaches is
    /// refused in one line (an Adam step of Int.max trapped on the next step's overflow; a
    /// wrong-length or negative dead-latent count was taken silently).
    func testDamagedTrainerStatesAreRefused() throws {
        let config = AutoencoderConfig.dictionary(inputSize: 16, codeSize: 24, topK: 2, auxK: AuxK(k: 4))
        let settings = TrainingSettings(epochs: 2, batchSize: 32, seed: 5, deadAfter: 64)
        let trainer = try Trainer(model: try Autoencoder(config: config, seed: 5), settings: settings)
        _ = try trainer.fit(syntheticImages(count: 64, side: 4))
        let dir = temporaryDirectory(self)
        try trainer.saveCheckpoint(to: dir + "/c.safetensors")
        let (tensors, metadata) = try Safetensors.decode([UInt8](FileManager.default.contents(atPath: dir + "/c.safetensors")!), name: "c")
        let state = try JSONSerialization.jsonObject(with: Data(metadata["trainer_state"]!.utf8)) as! [String: Any]
        XCTAssertEqual((state["samples_since_fired"] as? [Int])?.count, 24)
        let damages: [(String, Any, String)] = [
            ("adam_step", Int.max, "inconsistent"), ("adam_step", -1, "inconsistent"), ("epoch_seconds", -1.0, "inconsistent"),
            ("epoch_loss_sum", -0.5, "inconsistent"), ("samples_since_fired", [Int](repeating: 0, count: 23), "dead-latent counters"),
            ("samples_since_fired", [-5] + [Int](repeating: 0, count: 23), "dead-latent counters"),
        ]
        for (key, value, expected) in damages {
            var damaged = state
            damaged[key] = value
            let json = String(decoding: try JSONSerialization.data(withJSONObject: damaged), as: UTF8.self)
            var meta = metadata
            meta["trainer_state"] = json
            try AtomicFile.write(Safetensors.encode(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: meta), to: dir + "/d.safetensors")
            let fresh = try Trainer(model: try Autoencoder(config: config), settings: settings)
            XCTAssertThrowsError(try fresh.restoreCheckpoint(from: dir + "/d.safetensors"), key) {
                XCTAssertTrue("\($0)".contains(expected) || "\($0)".contains("trainer state"), "\(key): \($0)")
            }
        }
    }

    /// `Run.train` and `Run.resume` in the library: the events in order, a stop mid-run that
    /// resumes to the uninterrupted run's weights, and the resume policy's refusals.
    func testRunTrainsResumesAndRefusesInTheLibrary() throws {
        let root = temporaryDirectory(self)
        let data = RunData(train: syntheticImages(count: 200, side: 4), test: syntheticImages(count: 50, side: 4, seed: 9))
        let config = RunConfig(model: AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4, penalty: .l1(lambda: 0.01)),
                               training: TrainingSettings(epochs: 3, batchSize: 32, seed: 5), data: DataSettings())
        func name(_ event: RunEvent) -> String? {
            switch event {
            case .training: "training"
            case .resuming: "resuming"
            case .extending: "extending"
            case .progress: nil
            case .finished: "finished"
            }
        }
        var events: [String] = []
        let reference = try XCTUnwrap(try Run.train(config, data: data, out: root + "/reference", force: false, events: { name($0).map { events.append($0) } }))
        XCTAssertEqual(events, ["training", "finished"])
        XCTAssertEqual(try RunDirectory(path: root + "/reference").loadStatus().state, .finished)
        assertThrows(try Run.resume(RunDirectory(path: root + "/reference"), loadData: { _ in data }), "has already finished its 3 epochs; nothing to resume")
        assertThrows(try Run.train(config, data: data, out: root + "/reference", force: false), "already exists and is not empty")

        var steps = 0
        XCTAssertThrowsError(try Run.train(config, data: data, out: root + "/run", force: false, shouldStop: { steps += 1; return steps == 10 })) {
            XCTAssertTrue($0 is TrainingRun.Interrupted, "\($0)")
        }
        let run = RunDirectory(path: root + "/run")
        XCTAssertEqual(try run.loadStatus().state, .interrupted)
        assertThrows(try Run.train(config, data: data, out: run.path, force: false), "holds an unfinished run")
        events = []
        let resumed = try XCTUnwrap(try Run.resume(run, loadData: { XCTAssertEqual($0, try run.loadConfig()); return data },
                                                   events: { name($0).map { events.append($0) } }))
        XCTAssertEqual(events, ["resuming", "finished"])
        XCTAssertEqual(resumed.testMse, reference.testMse)
        XCTAssertEqual(FileManager.default.contents(atPath: run.modelPath), FileManager.default.contents(atPath: root + "/reference/model.safetensors"))

        try run.save(status: RunStatus(state: .diverged, message: "loss NaN"))
        assertThrows(try Run.resume(run, loadData: { _ in data }), "diverged (loss NaN); resuming would diverge again")
        try run.save(status: RunStatus(state: .interrupted))
        try FileManager.default.removeItem(atPath: run.checkpointPath)
        assertThrows(try Run.resume(run, loadData: { _ in data }), "has no checkpoint.safetensors to resume from")
    }

    private func assertThrows<T>(_ body: @autoclosure () throws -> T, _ text: String, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { XCTAssertTrue("\($0)".contains(text), "\($0) should mention \(text)", line: line) }
    }

    /// A resume continues the run it was: training files added, removed or changed since the
    /// checkpoint, or settings edited in config.json, are refused naming what differs (the
    /// data, unless --accept-changed-data); put back as they were, the run resumes.
    func testAResumeOnChangedDataOrSettingsIsRefused() throws {
        let dir = temporaryDirectory(self), shards = dir + "/shards", run = dir + "/run"
        try FileManager.default.createDirectory(atPath: shards, withIntermediateDirectories: true)
        for i in 0..<2 { try NPY.write(randomFloats(96 * 6, seed: UInt64(10 + i)), rows: 96, cols: 6, to: shards + "/s\(i).npy") }
        try NPY.write(randomFloats(40 * 6, seed: 20), rows: 40, cols: 6, to: dir + "/val.npy")
        let interrupted = try runSAE(["train", "--data-npy", shards, "--val-npy", dir + "/val.npy", "--code", "12", "--k", "2", "--epochs", "2",
                                      "--batch-size", "32", "--out", run], environment: ["SAE_FAULT": "step@3:interrupt"])
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        // A shard added.
        try FileManager.default.copyItem(atPath: shards + "/s0.npy", toPath: shards + "/s2.npy")
        assertCommandFails(try runSAE(["train", "--resume", run]), mentioning: "s2.npy was added")
        try FileManager.default.removeItem(atPath: shards + "/s2.npy")
        // A shard rewritten with other values (same size).
        let original = try Data(contentsOf: URL(fileURLWithPath: shards + "/s1.npy"))
        try NPY.write(randomFloats(96 * 6, seed: 99), rows: 96, cols: 6, to: shards + "/s1.npy")
        assertCommandFails(try runSAE(["train", "--resume", run]), mentioning: "s1.npy has changed")
        try original.write(to: URL(fileURLWithPath: shards + "/s1.npy"))
        // A setting edited in config.json.
        let configPath = run + "/config.json", config = try String(contentsOfFile: configPath, encoding: .utf8)
        try config.replacingOccurrences(of: "\"batch_size\" : 32", with: "\"batch_size\" : 48").write(toFile: configPath, atomically: true, encoding: .utf8)
        assertCommandFails(try runSAE(["train", "--resume", run]), mentioning: "batch size 32 -> 48")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        // As they were: the run resumes; and changed data are taken when the user says so.
        let resumed = try runSAE(["train", "--resume", run])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let again = try runSAE(["train", "--data-npy", shards, "--val-npy", dir + "/val.npy", "--code", "12", "--k", "2", "--epochs", "2",
                                "--batch-size", "32", "--out", dir + "/run2"], environment: ["SAE_FAULT": "step@3:interrupt"])
        XCTAssertEqual(again.status, 130, again.stderr)
        try FileManager.default.copyItem(atPath: shards + "/s0.npy", toPath: shards + "/s2.npy")
        let accepted = try runSAE(["train", "--resume", dir + "/run2", "--accept-changed-data"])
        XCTAssertEqual(accepted.status, 0, accepted.stderr)
    }
}
