import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class RunDirectoryTests: XCTestCase {
    func smallRun(_ dir: String, penalty: ActivityPenalty = .kl(rho: 0.05, beta: 3)) throws -> RunMetrics {
        let data = syntheticImages(count: 200, side: 4)
        let config = RunConfig(model: AutoencoderConfig(inputSize: 16, hiddenSizes: [8], codeSize: 4,
                                                        codeActivation: AutoencoderConfig.defaultCodeActivation(for: penalty), penalty: penalty),
                               training: TrainingSettings(epochs: 2, batchSize: 64, seed: 3), data: DataSettings())
        return try TrainingRun.run(config, train: data, test: data.prefix(50), into: RunDirectory.create(dir, force: false))
    }

    func testATrainingRunWritesEveryFileAndLoadsBack() throws {
        let dir = temporaryDirectory(self) + "/run"
        let metrics = try smallRun(dir)
        let run = RunDirectory(path: dir)
        let (config, model) = try run.loadModel()
        XCTAssertEqual(config.training.epochs, 2)
        XCTAssertEqual(try run.loadHistory().count, 2)
        XCTAssertEqual(try run.loadMetrics(), metrics)
        // metrics.json has the documented keys, in snake_case.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.metricsPath))) as! [String: Any]
        for key in ["final_loss", "final_val_loss", "test_bce", "test_mse", "mean_activation", "quiet_units",
                    "epochs", "train_seconds", "seconds_per_epoch"] {
            XCTAssertNotNil(json[key], key)
        }
        // The loaded model reproduces the metrics exactly.
        let data = syntheticImages(count: 200, side: 4).prefix(50)
        XCTAssertEqual(model.evaluate(data, batchSize: 64).mse, metrics.testMse)
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.historyPath))) as! [[String: Any]]
        XCTAssertEqual(Set(history[0].keys), ["epoch", "loss", "val_loss", "seconds", "dead_latents", "dead_window", "validation_seconds"])
    }

    func testAnExistingRunIsReplacedOnlyWithForce() throws {
        let dir = temporaryDirectory(self) + "/run"
        _ = try smallRun(dir)
        XCTAssertThrowsError(try RunDirectory.create(dir, force: false)) { error in
            XCTAssertTrue("\(error)".contains("pass --force"), "\(error)")
        }
        // --force deletes sae's files only: a file of the user's in the run directory stays.
        try AtomicFile.write("mine", to: dir + "/notes.txt")
        XCTAssertNoThrow(try RunDirectory.create(dir, force: true))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), [".sae-lock", "notes.txt"])
    }

    func testForceNeverDeletesADirectoryThatIsNotARun() throws {
        let dir = temporaryDirectory(self)
        try AtomicFile.write("precious", to: dir + "/notes.txt")
        // A file merely named config.json does not make a run.
        try AtomicFile.write("{}", to: dir + "/config.json")
        XCTAssertThrowsError(try RunDirectory.create(dir, force: true)) { error in
            XCTAssertTrue("\(error)".contains("holds no sae run"), "\(error)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/notes.txt"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/config.json"))
    }

    func testBadConfigFilesGiveOneLineErrors() throws {
        let dir = temporaryDirectory(self)
        XCTAssertThrowsError(try RunDirectory(path: dir).loadConfig()) { error in
            XCTAssertTrue("\(error)".contains("is not a run directory"), "\(error)")
        }
        try AtomicFile.write("{ not json", to: dir + "/config.json")
        XCTAssertThrowsError(try RunDirectory(path: dir).loadConfig()) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
        try AtomicFile.write(#"{"format_version": 1}"#, to: dir + "/config.json")
        XCTAssertThrowsError(try RunDirectory(path: dir).loadConfig()) { XCTAssertTrue("\($0)".contains("missing key"), "\($0)") }
        let good = RunConfig(model: .tutorial(.l1(lambda: 1e-5)), training: TrainingSettings(), data: DataSettings())
        var future = good
        future.formatVersion = 99
        try JSONFile.write(future, to: dir + "/config.json")
        XCTAssertThrowsError(try RunDirectory(path: dir).loadConfig()) { XCTAssertTrue("\($0)".contains("format version 99"), "\($0)") }
        try JSONFile.write(good, to: dir + "/config.json")
        XCTAssertEqual(try RunDirectory(path: dir).loadConfig(), good)
        // Edits by hand: an unknown (misspelt) key, values out of range, absurd sizes, wrong types.
        let text = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        let edits: [(String, String, String)] = [
            ("\"epochs\" : 30", "\"epochs\" : 30, \"epocs\" : 40", "unknown key \"training.epocs\""),
            ("\"epochs\" : 30", "\"epochs\" : -3", "--epochs"),
            ("\"code_size\" : 64", "\"code_size\" : 9223372036854775807", "parameters"),
            ("\"batch_size\" : 256", "\"batch_size\" : \"big\"", "wrong type at \"training.batch_size\""),
            ("\"dataset\" : \"fashion-mnist\"", "\"dataset\" : \"fashion-mnist\", \"train_limit\" : 0", "train_limit"),
            // A control character in a string (JSONDecoder lets it through; it is not JSON).
            ("\"dataset\" : \"fashion-mnist\"", "\"dataset\" : \"fashion\u{01}-mnist\"", "is not valid JSON"),
            // A data source this sae does not know, or of the wrong type.
            ("\"dataset\" : \"fashion-mnist\"", "\"dataset\" : \"mnist\"", "config.json: invalid dataset: must be fashion-mnist or npy, got mnist"),
            ("\"dataset\" : \"fashion-mnist\"", "\"dataset\" : 3", "wrong type at \"data.dataset\""),
        ]
        for (from, to, expected) in edits {
            XCTAssertTrue(text.contains(from), "config.json no longer contains \(from)")
            try AtomicFile.write(text.replacingOccurrences(of: from, with: to), to: dir + "/config.json")
            XCTAssertThrowsError(try RunDirectory(path: dir).loadConfig(), expected) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
            }
        }
        try JSONFile.write(good, to: dir + "/config.json")
        XCTAssertThrowsError(try RunDirectory(path: dir).loadModel()) { XCTAssertTrue("\($0)".contains("no model.safetensors"), "\($0)") }
    }

    func testStatusIsTypedWithTheSameStringsOnDisk() throws {
        let run = RunDirectory(path: temporaryDirectory(self))
        for state in RunState.allCases {
            try run.save(status: RunStatus(state: state, epoch: 2, step: 3))
            let text = try String(contentsOfFile: run.statusPath, encoding: .utf8)
            XCTAssertTrue(text.contains("\"state\" : \"\(state.rawValue)\""), text)
            XCTAssertEqual(try run.loadStatus(), RunStatus(state: state, epoch: 2, step: 3))
        }
        XCTAssertEqual(RunState.allCases.map(\.rawValue), ["training", "interrupted", "diverged", "finished"])
        XCTAssertEqual(DataSource.allCases.map(\.rawValue), ["fashion-mnist", "npy"])
        // A state this sae does not know (a newer sae's, or a hand edit): one line naming the file.
        try AtomicFile.write(#"{"state": "paused"}"#, to: run.statusPath)
        XCTAssertThrowsError(try run.loadStatus()) { error in
            XCTAssertEqual("\(error)", "\(run.statusPath): unknown state \"paused\" (this sae knows training, interrupted, diverged, finished)")
        }
    }

    /// --force checks every file it would delete before deleting any: a run whose status.json is
    /// a symlink keeps all its files (they were deleted, then the symlink refused).
    func testForceRefusesBeforeItDeletesAnything() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(64 * 4, seed: 1), rows: 64, cols: 4, to: dir + "/x.npy")
        let run = dir + "/run"
        let train = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--out", run])
        XCTAssertEqual(train.status, 0, train.stderr)
        let mine = dir + "/mine.json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: mine))
        try FileManager.default.removeItem(atPath: run + "/status.json")
        try FileManager.default.createSymbolicLink(atPath: run + "/status.json", withDestinationPath: mine)
        let before = try FileManager.default.contentsOfDirectory(atPath: run).sorted()
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--force", "--out", run]),
                           mentioning: "nothing was deleted")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run).sorted(), before)
        XCTAssertEqual(try String(contentsOfFile: mine, encoding: .utf8), "{}")
    }

    /// analyze writes into a run, so it takes the run's lock before it reads: while another
    /// process holds it, analyze is refused and the run's metrics are left as they are.
    func testAnalyzeTakesTheRunsLockBeforeItReads() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(64 * 4, seed: 3), rows: 64, cols: 4, to: dir + "/x.npy")
        let run = dir + "/run"
        XCTAssertEqual(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--out", run]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.json"))
        try DirectoryLock(directory: run).lock()   // this test process is the other holder
        // With its data gone, an analyze that read first would fail on the data, not on the lock.
        try FileManager.default.removeItem(atPath: dir + "/x.npy")
        assertCommandFails(try runSAE(["analyze", run]), mentioning: "is in use by another sae process")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.json")), before)
    }

    /// A lock whose file names a pid that has ended (the holder is another process: one it
    /// started, or another program) is not blamed on that pid.
    func testALockHeldByAnotherThanItsNamedPidSaysSo() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(64 * 4, seed: 3), rows: 64, cols: 4, to: dir + "/x.npy")
        let run = dir + "/run"
        XCTAssertEqual(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--out", run]).status, 0)
        let fd = open(run + "/" + DirectoryLock.fileName, O_RDWR)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let stale = "pid 2147483646, `sae train`, since 2026-01-01T00:00:00Z\n"
        ftruncate(fd, 0)
        _ = stale.withCString { pwrite(fd, $0, strlen($0), 0) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)   // this test process holds it, not pid 2147483646
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--force", "--out", run]),
                           mentioning: "is in use by a process other than the one its .sae-lock names (pid 2147483646 has ended")
    }
}
