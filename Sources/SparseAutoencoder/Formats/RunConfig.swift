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
            guard ["fashion-mnist", "npy"].contains(config.data.dataset) else {
                throw SAEError.badSetting("dataset", "must be fashion-mnist or npy, got \(config.data.dataset)")
            }
            if config.data.dataset == "npy" && config.data.trainFile == nil { throw SAEError.badSetting("train_file", "an npy dataset needs its file") }
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

/// Which data a run trained on: Fashion-MNIST (`dataset` "fashion-mnist", from `directory`) or
/// vectors from .npy files (`dataset` "npy": `trainFile`, and `validationFile` or else a held-out
/// 10% of `trainFile`).
public struct DataSettings: Codable, Hashable, Sendable {
    public var dataset: String
    /// The directory the Fashion-MNIST files were read from.
    public var directory: String?
    /// Only the first N training samples were used.
    public var trainLimit: Int?
    /// The .npy files of a vector dataset (absolute paths).
    public var trainFile: String?
    public var validationFile: String?

    public init(dataset: String = "fashion-mnist", directory: String? = nil, trainLimit: Int? = nil,
                trainFile: String? = nil, validationFile: String? = nil) {
        self.dataset = dataset
        self.directory = directory
        self.trainLimit = trainLimit
        self.trainFile = trainFile
        self.validationFile = validationFile
    }

    /// Vectors from .npy files.
    public static func npy(train: String, validation: String?, trainLimit: Int? = nil) -> DataSettings {
        DataSettings(dataset: "npy", trainLimit: trainLimit, trainFile: train, validationFile: validation)
    }
}
