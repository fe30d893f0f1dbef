import Foundation

/// The training and validation sets a run's `DataSettings` name, loaded for training, resuming
/// and analysis alike (so all three see the same samples).
///
///     let data = try DataSettings.npy(train: "acts.npy", validation: nil).load()
///     print(data.train.count, data.test.count)       // 90% and 10% of the rows
public struct RunData: Sendable {
    public var train: Dataset
    /// The validation set (Fashion-MNIST's test split, the --val-npy file, or the held-out rows).
    public var test: Dataset
    /// Where Fashion-MNIST was found (nil for .npy data).
    public var directory: String?

    /// The share of a training .npy held out for validation when no validation file is given.
    public static let heldOutFraction = 0.1
    /// Fixed so that training, resuming and analysis hold out the same rows.
    static let heldOutSeed: UInt64 = 0x5EED_0F_5A_E0

    public init(train: Dataset, test: Dataset, directory: String? = nil) {
        self.train = train
        self.test = test
        self.directory = directory
    }
}

extension DataSettings {
    /// Loads the data. `fashionMNIST` overrides the recorded directory; without either, the
    /// usual search (and download) applies.
    public func load(fashionMNIST: String? = nil, log: (String) -> Void = { _ in }) throws -> RunData {
        guard dataset == "npy" else {
            let directory = try fashionMNIST.map { try FashionMNIST.locate(directory: $0) }
                ?? self.directory.flatMap { try? FashionMNIST.locate(directory: $0) }
                ?? FashionMNIST.locate(directory: nil, log: log)
            let (train, test) = try FashionMNIST.load(directory: directory)
            return RunData(train: train, test: test, directory: directory)
        }
        guard let trainFile else { throw SAEError("the run's data settings name no training .npy file") }
        let train = try Dataset(npy: trainFile)
        guard let validationFile else {
            guard train.count >= 2 else { throw SAEError.badFile(trainFile, "has one row: give at least two (or a --val-npy file)") }
            let (kept, heldOut) = train.split(holdingOut: RunData.heldOutFraction, seed: RunData.heldOutSeed)
            return RunData(train: kept, test: heldOut)
        }
        let test = try Dataset(npy: validationFile)
        guard test.featureCount == train.featureCount else {
            throw SAEError.badFile(validationFile, "has \(test.featureCount) features per row but \(trainFile) has \(train.featureCount)")
        }
        return RunData(train: train, test: test)
    }

    /// One line saying what the data are, for progress messages.
    public var summaryText: String {
        guard dataset == "npy", let trainFile else { return "Fashion-MNIST" }
        return trainFile + (validationFile.map { " (validation: \($0))" } ?? " (10% held out for validation)")
    }
}
