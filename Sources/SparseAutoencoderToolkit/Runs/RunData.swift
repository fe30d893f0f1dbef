import Foundation
import SparseAutoencoder

/// The training and validation sets a run's `DataSettings` name, loaded for training, resuming
/// and analysis alike (so all three see the same samples).
///
///     let data = try DataSettings.npy(train: "acts.npy", validation: nil).load()
///     print(data.train.count, data.test.count)       // 90% and 10% of the rows
package struct RunData: Sendable {
    package var train: Dataset
    /// The validation set (Fashion-MNIST's test split, the --val-npy file, or the held-out rows).
    package var test: Dataset
    /// Where Fashion-MNIST was found (nil for .npy data).
    package var directory: String?

    /// The share of a training .npy held out for validation when no validation file is given.
    package static let heldOutFraction = 0.1
    /// Fixed so that training, resuming and analysis hold out the same rows.
    static let heldOutSeed: UInt64 = 0x5EED_0F_5A_E0

    package init(train: Dataset, test: Dataset, directory: String? = nil) {
        self.train = train
        self.test = test
        self.directory = directory
    }
}

extension DataSettings {
    /// Loads the data. `fashionMNIST` overrides the recorded directory; without either, the
    /// usual search (and download) applies.
    ///
    /// `forRanks` (MPI): .npy data are streamed even when small, so that each rank reads only its
    /// rows, and shuffled as one process would shuffle them (`NPYLoading.streamedForRanks`); a
    /// validation file is then required (holding rows out would copy every row on every rank).
    package func load(fashionMNIST: String? = nil, log: (String) -> Void = { _ in }, forRanks: Bool = false) throws -> RunData {
        guard dataset == .npy else {
            let directory = try fashionMNIST.map { try FashionMNIST.locate(directory: $0) }
                ?? self.directory.flatMap { try? FashionMNIST.locate(directory: $0) }
                ?? FashionMNIST.locate(directory: nil, log: log)
            let (train, test) = try FashionMNIST.load(directory: directory)
            return RunData(train: train, test: test, directory: directory)
        }
        let trainPaths = self.trainPaths
        guard !trainPaths.isEmpty else { throw SAEError("the run's data settings name no training .npy file") }
        let loading: Dataset.NPYLoading = forRanks ? .streamedForRanks : .automatic
        let trainName = Self.describe(trainPaths)
        let train = try Self.paired(Dataset(npy: trainPaths, loading: loading, tensor: tensor), named: trainName,
                                    targets: targetFiles, tensor: targetTensor, loading: loading)
        guard let validationPaths else {
            if forRanks {
                throw SAEError("training over MPI ranks needs a validation set: give --val-npy (holding 10% of \(trainName) out would "
                    + "make every rank read every row)")
            }
            // Holding rows out copies them (and keeps every held-out code in the final
            // evaluation): not for data too large for memory.
            guard !train.isStreamed && train.targets?.isStreamed != true else {
                throw SAEError("\(trainName) is streamed from disk (a directory, several files, or a file over "
                    + "\(Dataset.streamingThreshold >> 20) MiB): give a validation set with --val-npy (10% held out would be copied into memory)")
            }
            guard train.count >= 2 else { throw SAEError.badFile(trainName, "has one row: give at least two (or a --val-npy file)") }
            let (kept, heldOut) = train.split(holdingOut: RunData.heldOutFraction, seed: RunData.heldOutSeed)
            return RunData(train: kept, test: heldOut)
        }
        let validationName = Self.describe(validationPaths)
        let test = try Self.paired(Dataset(npy: validationPaths, loading: loading, tensor: tensor), named: validationName,
                                   targets: validationTargetFiles, tensor: targetTensor, loading: loading)
        guard test.featureCount == train.featureCount else {
            throw SAEError.badFile(validationName, "has \(test.featureCount) features per row but \(trainName) has \(train.featureCount)")
        }
        if let targets = test.targets, targets.featureCount != train.targetFeatureCount, let paths = validationTargetFiles {
            throw SAEError.badFile(Self.describe(paths), "has \(targets.featureCount) features per row but the training targets have \(train.targetFeatureCount)")
        }
        return RunData(train: train, test: test)
    }

    /// `inputs` paired with the vectors in `targets` (a transcoder's), refused unless they have as
    /// many rows; `inputs` alone when there are no targets.
    private static func paired(_ inputs: Dataset, named name: String, targets paths: [String]?, tensor: String?,
                               loading: Dataset.NPYLoading) throws -> Dataset {
        guard let paths else { return inputs }
        let targets = try Dataset(npy: paths, loading: loading, tensor: tensor)
        guard targets.count == inputs.count else {
            throw SAEError.badFile(describe(paths), "holds \(targets.count) target rows but \(name) holds \(inputs.count) input rows: a transcoder needs one target per input, in the same order")
        }
        return try inputs.pairing(targets: targets)
    }

    /// Paths for messages: one path, or the first and how many more.
    static func describe(_ paths: [String]) -> String {
        paths.count == 1 ? paths[0] : "\(paths[0]) and \(paths.count - 1) more file\(paths.count == 2 ? "" : "s")"
    }

    /// One line saying what the data are (the report's settings table).
    package var summaryText: String {
        guard dataset == .npy, !trainPaths.isEmpty else { return "Fashion-MNIST" }
        let targets = targetFiles.map { " -> targets \(Self.describe($0))" + (targetTensor.map { " (tensor \($0))" } ?? "") } ?? ""
        let normalized = normalizeActivations == true ? ", normalised" + (inputScale.map { " (x \($0))" } ?? "") : ""
        return Self.describe(trainPaths) + (tensor.map { " (tensor \($0))" } ?? "") + targets + (validationPaths.map { " (validation: \(Self.describe($0)))" } ?? " (10% held out for validation)") + normalized
    }

    /// What a run trains and validates on, for its banner: "60000 images of Fashion-MNIST,
    /// validating on its 10000 test images", "1800 vectors of a.npy, validating on 200 held-out
    /// rows", "4000 vectors of a.npy -> targets b.npy, validating on 500 vectors of v.npy".
    package func bannerText(trainCount: Int, validationCount: Int) -> String {
        let train = min(trainCount, trainLimit ?? .max)
        guard dataset == .npy, !trainPaths.isEmpty else {
            return "\(train) images of Fashion-MNIST, validating on its \(validationCount) test images"
        }
        let targets = targetFiles.map { " -> targets \(Self.describe($0))" } ?? ""
        let validation = validationPaths.map { "\(validationCount) vectors of \(Self.describe($0))" } ?? "\(validationCount) held-out rows"
        return "\(train) vectors of \(Self.describe(trainPaths))\(targets), validating on \(validation)"
    }
}
