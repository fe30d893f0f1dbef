import Foundation

/// A run directory: `config.json`, `model.safetensors`, `history.json`, `metrics.json`, and
/// while or after training `checkpoint.safetensors` and `status.json`.
///
///     let run = try RunDirectory.create("runs/l1", force: false)
///     try run.save(config: config, model: model, history: history, metrics: metrics)
///     let (config, model) = try RunDirectory(path: "runs/l1").loadModel()
public struct RunDirectory: Sendable {
    public let path: String

    public var configPath: String { path + "/config.json" }
    public var modelPath: String { path + "/model.safetensors" }
    public var historyPath: String { path + "/history.json" }
    public var metricsPath: String { path + "/metrics.json" }
    public var checkpointPath: String { path + "/checkpoint.safetensors" }
    public var statusPath: String { path + "/status.json" }

    /// An existing run directory (checked when its files are read).
    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Makes a directory for a new run. An existing non-empty directory is refused unless `force`
    /// is set and it holds a previous run (a `config.json`), which is then replaced.
    public static func create(_ path: String, force: Bool) throws -> RunDirectory {
        let run = RunDirectory(path: path)
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: run.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SAEError("\(run.path) exists and is not a directory; choose another --out") }
            let contents = (try? fm.contentsOfDirectory(atPath: run.path)) ?? []
            if !contents.isEmpty {
                guard force else {
                    if let state = (try? run.loadStatus())?.state, state == "interrupted" || state == "training" {
                        throw SAEError("\(run.path) holds an unfinished run: continue it with `sae train --resume \(run.path)`, or pass --force to replace it")
                    }
                    throw SAEError("\(run.path) already exists and is not empty; pass --force to replace the run in it, or choose another --out")
                }
                guard fm.fileExists(atPath: run.configPath) else {
                    throw SAEError("\(run.path) is not empty and holds no run (no config.json); refusing to replace it even with --force")
                }
                try fm.removeItem(atPath: run.path)
            }
        }
        do {
            try fm.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        } catch {
            throw SAEError("cannot create \(run.path): \(error.localizedDescription)")
        }
        guard fm.isWritableFile(atPath: run.path) else { throw SAEError("\(run.path) is not writable") }
        return run
    }

    /// Deletes temporary files that a killed write left behind (`.NAME.tmp-*`).
    public func removeStaleTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    public func save(config: RunConfig) throws { try JSONFile.write(config, to: configPath) }
    public func save(history: [EpochRecord]) throws { try JSONFile.write(history, to: historyPath) }
    public func save(metrics: RunMetrics) throws { try JSONFile.write(metrics, to: metricsPath) }
    public func save(status: RunStatus) throws { try JSONFile.write(status, to: statusPath) }
    public func loadStatus() throws -> RunStatus { try JSONFile.read(RunStatus.self, from: statusPath) }

    public func loadConfig() throws -> RunConfig {
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw SAEError("\(path) is not a run directory (no config.json); train one with `sae train --out \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw SAEError.badFile(configPath, "cannot be read (no permission)")
        }
        return try RunConfig.decode(data, name: configPath)
    }

    /// The run's config and its trained model.
    public func loadModel() throws -> (RunConfig, Autoencoder) {
        let config = try loadConfig()
        guard FileManager.default.fileExists(atPath: modelPath) else {
            let state = (try? loadStatus())?.state ?? "unfinished"
            throw SAEError("\(path) has no model.safetensors: its training is \(state)"
                + (state == "diverged" ? "" : "; continue it with `sae train --resume \(path)`"))
        }
        return (config, try Autoencoder.load(config: config.model, from: modelPath))
    }

    public func loadHistory() throws -> [EpochRecord] { try JSONFile.read([EpochRecord].self, from: historyPath) }
    public func loadMetrics() throws -> RunMetrics { try JSONFile.read(RunMetrics.self, from: metricsPath) }
}
