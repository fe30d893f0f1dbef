import SparseAutoencoder

/// A run's numbers (`metrics.json`), on the test set after training: losses, reconstruction
/// errors (overall and per class) and the code's sparsity statistics.
///
/// metrics.json is flat: the `codes` statistics are written beside the other keys, under the
/// names `CodeStatistics` gives them (e.g. `activity_threshold`), as before they were grouped.
package struct RunMetrics: Codable, Equatable, Sendable {
    package var finalLoss: Double
    package var finalValLoss: Double?
    /// Absent for a dictionary SAE's linear outputs.
    package var testBce: Double?
    package var testMse: Double
    /// Fraction of variance unexplained on the test set (see `Evaluation.fvu`); nil in older runs,
    /// and where it is undefined (then `testFvuUndefined` says why and metrics.json has null).
    package var testFvu: Double?
    package var testFvuUndefined: String?
    /// Quiet units: those whose mean test activation is below 1e-3 (`Evaluation.quietThreshold`).
    package var quietUnits: Int
    package var epochs: Int
    package var trainSeconds: Double
    package var secondsPerEpoch: Double
    /// Reconstruction BCE and MSE per class (index = label); empty without labels (or BCE).
    package var testBceByClass: [Double]
    package var testMseByClass: [Double]
    /// The sparsity of the test codes: mean activation (overall and per unit), L0, Hoyer and
    /// lifetime sparsity, never-active units, at `codes.threshold`.
    package var codes: CodeStatistics
    /// Test accuracy of a linear probe (logistic regression) on the codes, and the same probe on
    /// raw pixels as a baseline; present once `sae analyze` has run them.
    package var probeAccuracy: Double?
    package var pixelProbeAccuracy: Double?
    /// Dead latents: code units that fired on none of the last `deadWindow` training samples
    /// (nil until that many were trained, or where nothing was tracked).
    package var deadLatents: Int?
    /// The window of `deadLatents`, in training samples (nil in older runs: one epoch).
    package var deadWindow: Int?

    /// From the training history, the test set's evaluation and its codes' statistics (which a
    /// run gathers batch by batch: `CodeStatistics.Accumulator`).
    package init(history: [EpochRecord], test: Evaluation, codes: CodeStatistics) {
        finalLoss = history.last?.loss ?? .nan
        finalValLoss = history.last?.valLoss
        testBce = test.bce
        testMse = test.mse
        testFvu = test.fvu
        if test.fvu == nil { testFvuUndefined = "undefined: the test vectors do not vary (one vector, or identical ones), so no variance is left to explain" }
        quietUnits = test.quietUnits
        epochs = history.count
        trainSeconds = history.reduce(0) { $0 + $1.seconds }
        secondsPerEpoch = history.isEmpty ? 0 : trainSeconds / Double(history.count)
        deadLatents = history.last?.deadLatents
        deadWindow = history.last?.deadWindow
        testBceByClass = test.bceByClass
        testMseByClass = test.mseByClass
        self.codes = codes
    }

    /// The reconstruction error sweeps and fronts rank by: BCE where it is defined, else MSE.
    /// The tutorial's BCE, or a dictionary's FVU (the field's measure; MSE where it is undefined).
    package var reconstructionError: Double { testBce ?? testFvu ?? testMse }
    package var reconstructionErrorName: String { testBce != nil ? "BCE" : testFvu != nil ? "FVU" : "MSE" }

    // MARK: Codable, flat (see above)

    private enum CodingKeys: String, CodingKey {
        case finalLoss, finalValLoss, testBce, testMse, testFvu, testFvuUndefined, quietUnits, epochs, trainSeconds, secondsPerEpoch,
             testBceByClass, testMseByClass, probeAccuracy, pixelProbeAccuracy, deadLatents, deadWindow
        // The names of runs written before "dead" had one meaning.
        case deadUnits, trainingDeadLatents
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // A number sae could not write (non-finite: a diverged or damaged run) is null: read as NaN.
        func number(_ key: CodingKeys) throws -> Double { try c.decodeIfPresent(Double.self, forKey: key) ?? .nan }
        finalLoss = try number(.finalLoss)
        finalValLoss = try c.decodeIfPresent(Double.self, forKey: .finalValLoss)
        testBce = try c.decodeIfPresent(Double.self, forKey: .testBce)
        testMse = try number(.testMse)
        testFvu = try c.decodeIfPresent(Double.self, forKey: .testFvu)
        testFvuUndefined = try c.decodeIfPresent(String.self, forKey: .testFvuUndefined)
        quietUnits = try c.decodeIfPresent(Int.self, forKey: .quietUnits) ?? c.decode(Int.self, forKey: .deadUnits)
        epochs = try c.decode(Int.self, forKey: .epochs)
        trainSeconds = try number(.trainSeconds)
        secondsPerEpoch = try number(.secondsPerEpoch)
        testBceByClass = try c.decode([Double?].self, forKey: .testBceByClass).map { $0 ?? .nan }
        testMseByClass = try c.decode([Double?].self, forKey: .testMseByClass).map { $0 ?? .nan }
        probeAccuracy = try c.decodeIfPresent(Double.self, forKey: .probeAccuracy)
        pixelProbeAccuracy = try c.decodeIfPresent(Double.self, forKey: .pixelProbeAccuracy)
        deadLatents = try c.decodeIfPresent(Int.self, forKey: .deadLatents) ?? c.decodeIfPresent(Int.self, forKey: .trainingDeadLatents)
        deadWindow = try c.decodeIfPresent(Int.self, forKey: .deadWindow)
        codes = try CodeStatistics(from: decoder)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(finalLoss, forKey: .finalLoss)
        try c.encodeIfPresent(finalValLoss, forKey: .finalValLoss)
        try c.encodeIfPresent(testBce, forKey: .testBce)
        try c.encode(testMse, forKey: .testMse)
        if let testFvuUndefined {
            try c.encodeNil(forKey: .testFvu)
            try c.encode(testFvuUndefined, forKey: .testFvuUndefined)
        } else {
            try c.encodeIfPresent(testFvu, forKey: .testFvu)
        }
        try c.encode(quietUnits, forKey: .quietUnits)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(trainSeconds, forKey: .trainSeconds)
        try c.encode(secondsPerEpoch, forKey: .secondsPerEpoch)
        try c.encode(testBceByClass, forKey: .testBceByClass)
        try c.encode(testMseByClass, forKey: .testMseByClass)
        try c.encodeIfPresent(probeAccuracy, forKey: .probeAccuracy)
        try c.encodeIfPresent(pixelProbeAccuracy, forKey: .pixelProbeAccuracy)
        try c.encodeIfPresent(deadLatents, forKey: .deadLatents)
        try c.encodeIfPresent(deadWindow, forKey: .deadWindow)
        try codes.encode(to: encoder)   // into the same JSON object
    }
}
