import Foundation

/// Everything needed to rebuild a run's model and rerun its training (`config.json`).
public struct RunConfig: Codable, Equatable, Sendable {
    public static let currentFormatVersion = 1

    public var formatVersion: Int
    public var model: AutoencoderConfig
    public var training: TrainingSettings
    public var data: DataSettings

    public init(model: AutoencoderConfig, training: TrainingSettings, data: DataSettings) {
        formatVersion = Self.currentFormatVersion
        self.model = model
        self.training = training
        self.data = data
    }
}

extension RunConfig {
    /// Reads a config.json, refusing what this version cannot faithfully rerun: other format
    /// versions, keys it does not know (a typo would otherwise be ignored silently), and values
    /// outside their ranges. `name` (the path) is used in errors.
    public static func decode(_ data: Data, name: String) throws -> RunConfig {
        let config = try JSONFile.decode(RunConfig.self, from: data, name: name)
        guard config.formatVersion == currentFormatVersion else {
            throw SAEError.badFile(name, "format version \(config.formatVersion) is not supported (this sae reads version \(currentFormatVersion))")
        }
        // Every key must survive a decode-encode round trip; one that does not is unknown.
        let original = try JSONSerialization.jsonObject(with: data)
        let known = try JSONSerialization.jsonObject(with: JSONFile.encode(config))
        if let unknown = unknownKey(original, known) {
            throw SAEError.badFile(name, "unknown key \"\(unknown)\" (this sae does not know it; check its spelling)")
        }
        do {
            try config.model.validate()
            try config.training.validate()
            if let limit = config.data.trainLimit, limit <= 0 { throw SAEError.badSetting("train_limit", "must be > 0, got \(limit)") }
        } catch let e as SAEError {
            throw SAEError.badFile(name, e.message)
        }
        return config
    }

    /// The first key path in `original` that `known` lacks.
    private static func unknownKey(_ original: Any, _ known: Any, path: String = "") -> String? {
        guard let object = original as? [String: Any] else { return nil }
        let knownObject = known as? [String: Any] ?? [:]
        for key in object.keys.sorted() {
            let keyPath = path.isEmpty ? key : path + "." + key
            // A key may be absent after re-encoding only if its value was null (an empty optional).
            guard let sub = knownObject[key] else {
                if object[key] is NSNull { continue }
                return keyPath
            }
            if let deeper = unknownKey(object[key]!, sub, path: keyPath) { return deeper }
        }
        return nil
    }
}

/// Which data a run trained on.
public struct DataSettings: Codable, Equatable, Sendable {
    public var dataset: String
    /// The directory the files were read from.
    public var directory: String?
    /// Only the first N training images were used.
    public var trainLimit: Int?

    public init(dataset: String = "fashion-mnist", directory: String? = nil, trainLimit: Int? = nil) {
        self.dataset = dataset
        self.directory = directory
        self.trainLimit = trainLimit
    }
}

/// A run's numbers (`metrics.json`), on the test set after training: losses, reconstruction
/// errors (overall and per class) and the code's sparsity statistics.
public struct RunMetrics: Codable, Equatable, Sendable {
    public var finalLoss: Double
    public var finalValLoss: Double?
    public var testBce: Double
    public var testMse: Double
    /// Mean of all test-set code values.
    public var meanActivation: Double
    /// Units whose mean test activation is below 1e-3.
    public var deadUnits: Int
    public var epochs: Int
    public var trainSeconds: Double
    public var secondsPerEpoch: Double
    /// Mean test activation of each code unit.
    public var unitMeanActivations: [Double]
    /// Reconstruction BCE and MSE per class (index = label).
    public var testBceByClass: [Double]
    public var testMseByClass: [Double]
    /// A code value is active when its magnitude exceeds this.
    public var activityThreshold: Double
    /// Mean number of active units per test image, at `activityThreshold` and at 0.001, 0.01, 0.1.
    public var l0: Double
    public var l0ByThreshold: [String: Double]
    /// Units never active on any test image.
    public var neverActiveUnits: Int
    /// Fraction of all test code values that are not active.
    public var nearZeroFraction: Double
    /// Mean Hoyer sparsity of the test codes (0 = dense, 1 = one unit).
    public var hoyerSparsity: Double
    /// Treves-Rolls lifetime sparsity per unit, and its mean.
    public var unitLifetimeSparsity: [Double]
    public var lifetimeSparsity: Double
    /// Fraction of test images on which each unit is active.
    public var unitActivationFrequency: [Double]
    /// Test accuracy of a linear probe (logistic regression) on the codes, and the same probe on
    /// raw pixels as a baseline; present once `sae analyze` has run them.
    public var probeAccuracy: Double?
    public var pixelProbeAccuracy: Double?
    /// Code units that fired on none of the last epoch's training samples.
    public var trainingDeadLatents: Int?

    public init(history: [EpochRecord], test: Evaluation, threshold: Double = CodeStatistics.defaultThreshold) {
        finalLoss = history.last?.loss ?? .nan
        finalValLoss = history.last?.valLoss
        testBce = test.bce
        testMse = test.mse
        meanActivation = test.meanActivation
        deadUnits = test.deadUnits
        epochs = history.count
        trainSeconds = history.reduce(0) { $0 + $1.seconds }
        secondsPerEpoch = history.isEmpty ? 0 : trainSeconds / Double(history.count)
        unitMeanActivations = test.unitMeans
        trainingDeadLatents = history.last?.deadLatents
        testBceByClass = test.bceByClass
        testMseByClass = test.mseByClass
        let stats = CodeStatistics(codes: test.codes, rows: test.codes.count / test.unitMeans.count,
                                   cols: test.unitMeans.count, threshold: threshold)
        activityThreshold = threshold
        l0 = stats.l0
        l0ByThreshold = stats.l0ByThreshold
        neverActiveUnits = stats.neverActiveUnits
        nearZeroFraction = stats.nearZeroFraction
        hoyerSparsity = stats.hoyerSparsity
        unitLifetimeSparsity = stats.unitLifetimeSparsity
        lifetimeSparsity = stats.lifetimeSparsity
        unitActivationFrequency = stats.unitActivationFrequency
    }
}

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
