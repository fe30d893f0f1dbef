import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SparseAutoencoder

/// A run directory: `config.json`, `model.safetensors`, `history.json`, `metrics.json`, and
/// while or after training `checkpoint.safetensors` and `status.json`.
///
///     let run = try RunDirectory.create("runs/l1", force: false)
///     try run.save(config: config, model: model, history: history, metrics: metrics)
///     let (config, model) = try RunDirectory(path: "runs/l1").loadModel()
package struct RunDirectory: Sendable {
    package let path: String

    package var configPath: String { path + "/config.json" }
    package var modelPath: String { path + "/model.safetensors" }
    package var historyPath: String { path + "/history.json" }
    package var metricsPath: String { path + "/metrics.json" }
    package var checkpointPath: String { path + "/checkpoint.safetensors" }
    package var statusPath: String { path + "/status.json" }
    package var lockPath: String { DirectoryLock(directory: path).path }

    static let lockName = DirectoryLock.fileName
    /// The paths of the files sae writes here (whether they exist or not).
    package var ownFilePaths: [String] { RunDirectory.ownFiles.sorted().map { path + "/" + $0 } }
    /// The files sae writes into a run directory (and `figures/`): all that `--force` may delete.
    static let ownFiles = DirectoryLock.ownFiles

    /// An existing run directory (checked when its files are read).
    package init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// The figures `sae analyze` writes into `figures/`.
    static let figureFiles: Set<String> = ["unit_activation.svg", "code_histogram.svg", "training_curves.svg",
                                           "reconstructions.png", "unit_images.png", "first_layer_weights.png"]

    /// Makes a directory for a new run and locks it (see `lock`). An existing non-empty directory
    /// is refused unless `force` is set and it holds a valid sae run (a config.json that reads as
    /// one); then only the files sae writes there are deleted, and anything else is left alone.
    package static func create(_ path: String, force: Bool) throws -> RunDirectory {
        let run = RunDirectory(path: path)
        try UserOutput.makeDirectory(run.path)
        // Refuse before writing anything (even the lock file) into a directory that is not ours,
        // then lock and look again (another process may have been quicker).
        try run.checkReplaceable(force: force)
        try run.lock()
        try run.checkReplaceable(force: force)
        if run.contents.isEmpty { return run }
        try run.removeOwnFiles()
        return run
    }

    /// What the directory holds besides the lock file.
    private var contents: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0 != RunDirectory.lockName }
    }

    /// Throws unless the directory is empty, or `force` is set and it holds a valid run.
    private func checkReplaceable(force: Bool) throws {
        let run = self
        if let holder = lockHolder() { throw RunDirectory.inUse(path, by: holder) }
        guard !contents.isEmpty else { return }
        guard force else {
            if let state = (try? run.loadStatus())?.state, state.isUnfinished {
                throw SAEError("\(run.path) holds an unfinished run: continue it with `sae train --resume \(run.path)`, or pass --force to replace it")
            }
            throw SAEError("\(run.path) already exists and is not empty; pass --force to replace the run in it, or choose another --out")
        }
        guard (try? run.loadConfig()) != nil else {
            throw SAEError("\(run.path) holds no sae run (no readable config.json); refusing to touch it even with --force: choose another --out")
        }
    }

    /// Deletes what sae wrote here (its files, its figures, temporary files of killed writes),
    /// nothing else. Every file is checked before the first is deleted: one that is not a
    /// regular file (a symlink, a directory) refuses the whole deletion, with nothing gone.
    func removeOwnFiles() throws {
        let fm = FileManager.default
        var present: [String] = []
        for name in RunDirectory.ownFiles where name != RunDirectory.lockName {
            let file = path + "/" + name
            var info = stat()
            guard lstat(file, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw SAEError("\(file) is not a regular file; refusing to replace the run (nothing was deleted)")
            }
            present.append(file)
        }
        removeStaleTemporaryFiles()
        for file in present {
            do { try fm.removeItem(atPath: file) } catch { throw SAEError("cannot delete \(file): \(FileSystemError.describe(error))") }
        }
        let figures = path + "/figures"
        for name in RunDirectory.figureFiles { try? fm.removeItem(atPath: figures + "/" + name) }
        rmdir(figures)   // only if now empty
        FeatureBrowser.removePage(at: path + "/features")
    }

    // MARK: - Lock

    /// Who holds this directory's lock, if another process does (without creating anything).
    func lockHolder() -> String? { DirectoryLock(directory: path).holder() }

    private static func inUse(_ path: String, by holder: String) -> SAEError { DirectoryLock.inUse(path, by: holder) }

    /// Takes the exclusive lock on this run directory (`DirectoryLock`: `.sae-lock`, flock), held
    /// until the process ends. Every command that writes into a run takes it first.
    package func lock() throws { try DirectoryLock(directory: path).lock() }

    /// Deletes temporary files that a killed write left behind (`.NAME.tmp-*`).
    package func removeStaleTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    package func save(config: RunConfig) throws { try JSONFile.write(config, to: configPath) }
    package func save(history: [EpochRecord]) throws { try JSONFile.write(history, to: historyPath) }
    package func save(metrics: RunMetrics) throws { try JSONFile.write(metrics, to: metricsPath) }
    package func save(status: RunStatus) throws { try JSONFile.write(status, to: statusPath) }
    package func loadStatus() throws -> RunStatus { try JSONFile.read(RunStatus.self, from: statusPath) }

    package func loadConfig() throws -> RunConfig {
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw SAEError("\(path) is not a run directory (no config.json); train one with `sae train --out \(path)`")
        }
        return try RunConfig.decode(try InputFile.contents(of: configPath, kind: "config file"), name: configPath)
    }

    /// The run's config and its trained model.
    package func loadModel() throws -> (RunConfig, Autoencoder) {
        let config = try loadConfig()
        guard FileManager.default.fileExists(atPath: modelPath) else {
            let status = try? loadStatus()
            switch status?.state {
            case .diverged:
                throw SAEError("\(path) has no model: its training diverged (\(status?.message ?? "non-finite loss")); train it again")
            case .finished:
                throw SAEError("\(path) has no model.safetensors although its training finished: the file was removed; train it again")
            case .interrupted where FileManager.default.fileExists(atPath: checkpointPath),
                 .training where FileManager.default.fileExists(atPath: checkpointPath):
                throw SAEError("\(path) has no model yet: its training was interrupted (or is still running); continue it with `sae train --resume \(path)`")
            default:
                throw SAEError("\(path) has no model.safetensors and no checkpoint to resume from; train it again")
            }
        }
        return (config, try Autoencoder.load(config: config.model, from: modelPath))
    }

    package func loadHistory() throws -> [EpochRecord] { try JSONFile.read([EpochRecord].self, from: historyPath) }
    package func loadMetrics() throws -> RunMetrics { try JSONFile.read(RunMetrics.self, from: metricsPath) }
}
