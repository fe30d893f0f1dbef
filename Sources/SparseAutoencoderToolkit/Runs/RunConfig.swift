import Foundation
import SparseAutoencoder

/// Everything needed to rebuild a run's model and rerun its training (`config.json`).
package struct RunConfig: Codable, Equatable, Sendable {
    package static let currentFormatVersion = 1

    package var formatVersion: Int
    package var model: AutoencoderConfig
    package var training: TrainingSettings
    package var data: DataSettings

    package init(model: AutoencoderConfig, training: TrainingSettings, data: DataSettings) {
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
    package static func decode(_ data: Data, name: String) throws -> RunConfig {
        let config: RunConfig
        do {
            config = try JSONFile.decode(RunConfig.self, from: data, name: name, passingUnknownValues: true)
        } catch let unknown as JSONFile.UnknownValue {
            // A value no sae knows, in text that is not JSON either: the latter is the problem.
            guard (try? JSONSerialization.jsonObject(with: data)) != nil else { throw SAEError.badFile(name, "is not valid JSON") }
            throw SAEError.badFile(name, unknown.problem)
        }
        guard config.formatVersion == currentFormatVersion else {
            throw SAEError.badFile(name, "format version \(config.formatVersion) is not supported (this sae reads version \(currentFormatVersion))")
        }
        // Every key must survive a decode-encode round trip; one that does not is unknown.
        // (JSONDecoder lets some text through that JSONSerialization refuses, such as a control
        // character in a string: that is invalid JSON too, not a Foundation error.)
        guard let original = try? JSONSerialization.jsonObject(with: data) else { throw SAEError.badFile(name, "is not valid JSON") }
        let known = try JSONSerialization.jsonObject(with: JSONFile.encode(config))
        if let unknown = unknownKey(original, known) {
            throw SAEError.badFile(name, "unknown key \"\(unknown)\" (this sae does not know it; check its spelling)")
        }
        do {
            try config.model.validate()
            try config.training.validate()
            if let limit = config.data.trainLimit, limit <= 0 { throw SAEError.badSetting("train_limit", "must be > 0, got \(limit)") }
            if config.data.dataset == .npy && config.data.trainPaths.isEmpty { throw SAEError.badSetting("train_file", "an npy dataset needs its file") }
            if config.data.trainFile != nil && config.data.trainFiles != nil {
                throw SAEError.badSetting("train_files", "give train_file or train_files, not both")
            }
            if config.data.validationFile != nil && config.data.validationFiles != nil {
                throw SAEError.badSetting("validation_files", "give validation_file or validation_files, not both")
            }
            try config.data.checkTargets(transcoder: config.model.isTranscoder)
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

/// Which kind of data a run trained on, as config.json's `data.dataset` spells it.
package enum DataSource: String, Codable, CaseIterable, Sendable {
    /// Fashion-MNIST's IDX files (`DataSettings.directory`).
    case fashionMNIST = "fashion-mnist"
    /// Vectors from .npy files (`DataSettings.trainPaths`, `validationPaths`).
    case npy

    package init(from decoder: Decoder) throws {
        self = try JSONFile.UnknownValue.decode(decoder) { SAEError.badSetting("dataset", "must be fashion-mnist or npy, got \($0)").message }
    }
}

/// Which data a run trained on: Fashion-MNIST (`dataset` "fashion-mnist", from `directory`) or
/// vectors from .npy files (`dataset` "npy": `trainFile`, and `validationFile` or else a held-out
/// 10% of `trainFile`).
///
/// A single path (a .npy file, or a directory of .npy shards) is recorded in `trainFile` /
/// `validationFile`, as before shards existed, so such configs read as they always did; several
/// files are recorded in `trainFiles` / `validationFiles` instead. A directory is recorded as
/// the directory: resuming or analysing lists it again.
package struct DataSettings: Codable, Hashable, Sendable {
    package var dataset: DataSource
    /// The directory the Fashion-MNIST files were read from.
    package var directory: String?
    /// Only the first N training samples were used.
    package var trainLimit: Int?
    /// The .npy file or directory of a vector dataset (absolute paths).
    package var trainFile: String?
    package var validationFile: String?
    /// Several .npy files, in order (absolute paths), when more than one was given.
    package var trainFiles: [String]?
    package var validationFiles: [String]?
    /// A transcoder's targets (absolute paths, as the inputs': one file, a directory or several
    /// files): row i is what training row i should decode to; and the validation rows' targets
    /// (nil when the validation rows are held out of the training data, targets with them).
    package var targetFiles: [String]?
    package var validationTargetFiles: [String]?
    /// Activation normalisation (SAELens's "expected_average_only_in"): training reads every
    /// vector times `inputScale`, which brings the training vectors' mean norm to sqrt(d) (and a
    /// transcoder's targets times `targetScale`, to sqrt of their width); measured when training
    /// starts and recorded here, so a resume uses the same. The saved model has them folded into
    /// its weights: it reads and writes vectors as stored.
    package var normalizeActivations: Bool?
    /// The tensor read from each .safetensors file of the vectors (train and validation) and of a
    /// transcoder's targets; nil: each file's only tensor (and for .npy files).
    package var tensor: String?
    package var targetTensor: String?
    package var inputScale: Float?
    package var targetScale: Float?

    /// The training data's paths: `trainFiles`, or `trainFile` alone.
    package var trainPaths: [String] { trainFiles ?? trainFile.map { [$0] } ?? [] }
    /// The validation data's paths, or nil when part of the training data is held out.
    package var validationPaths: [String]? { validationFiles ?? validationFile.map { [$0] } }

    package init(dataset: DataSource = .fashionMNIST, directory: String? = nil, trainLimit: Int? = nil,
                trainFile: String? = nil, validationFile: String? = nil) {
        self.dataset = dataset
        self.directory = directory
        self.trainLimit = trainLimit
        self.trainFile = trainFile
        self.validationFile = validationFile
    }

    /// Refuses targets that do not fit the rest: targets for other data than .npy vectors, for a
    /// model that is not a transcoder (or none for one), validation targets without validation
    /// files or the reverse.
    package func checkTargets(transcoder: Bool) throws {
        guard let targets = targetFiles else {
            if transcoder { throw SAEError.badSetting("target_files", "a transcoder's run needs its target files") }
            if validationTargetFiles != nil { throw SAEError.badSetting("validation_target_files", "validation targets need training targets (target_files)") }
            return
        }
        guard dataset == .npy, !targets.isEmpty else { throw SAEError.badSetting("target_files", "targets need .npy training vectors") }
        guard transcoder else { throw SAEError.badSetting("target_files", "the model is not a transcoder (it has no output_size)") }
        if (validationPaths == nil) != (validationTargetFiles == nil) {
            throw SAEError.badSetting("validation_target_files", validationPaths == nil
                ? "validation targets need validation files (validation_file)" : "a transcoder's validation files need their targets")
        }
    }

    /// Vectors from .npy files.
    package static func npy(train: String, validation: String?, trainLimit: Int? = nil) -> DataSettings {
        DataSettings(dataset: .npy, trainLimit: trainLimit, trainFile: train, validationFile: validation)
    }

    /// Vectors from one or more .npy files or a directory of them (see `Dataset.init(npy:loading:tensor:)`);
    /// an empty `validation` means none.
    package static func npy(train: [String], validation: [String], trainLimit: Int? = nil) -> DataSettings {
        var settings = DataSettings(dataset: .npy, trainLimit: trainLimit)
        if train.count == 1 { settings.trainFile = train[0] } else { settings.trainFiles = train }
        if validation.count == 1 { settings.validationFile = validation[0] } else if !validation.isEmpty { settings.validationFiles = validation }
        return settings
    }
}

extension RunConfig {
    /// Refuses a schedule that cannot act on this run: a sparsity warm-up without a sparsity
    /// coefficient, or a decay that starts after the last of its steps (`trainCount` samples an
    /// epoch, before any --train-limit).
    package func checkSchedule(trainCount: Int) throws {
        guard let schedule = training.schedule else { return }
        if schedule.sparsityWarmupSteps > 0 && !model.hasSparsityPenalty {
            throw SAEError.badSetting("--sparsity-warmup-steps", "needs a sparsity coefficient to warm up (--l1, KL, JumpReLU's L0 or Gated's gate L1); this model has none")
        }
        let rows = min(trainCount, data.trainLimit ?? .max), batch = training.batchSize
        let (steps, overflow) = ((rows + batch - 1) / batch).multipliedReportingOverflow(by: training.epochs)
        if schedule.decay != .none, !overflow, schedule.decayStartStep >= steps {
            throw SAEError.badSetting("--lr-decay-start", "the decay would start at step \(schedule.decayStartStep), but the run has \(steps) steps "
                + "(\(training.epochs) epochs of \((rows + batch - 1) / batch)): start it earlier")
        }
    }
}
