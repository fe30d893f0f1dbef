/// A run's numbers (`metrics.json`), on the test set after training: losses, reconstruction
/// errors (overall and per class) and the code's sparsity statistics.
public struct RunMetrics: Codable, Equatable, Sendable {
    public var finalLoss: Double
    public var finalValLoss: Double?
    /// Absent for a dictionary SAE's linear outputs.
    public var testBce: Double?
    public var testMse: Double
    /// Fraction of variance unexplained on the test set (see `Evaluation.fvu`).
    public var testFvu: Double?
    /// Mean of all test-set code values.
    public var meanActivation: Double
    /// Units whose mean test activation is below 1e-3.
    public var deadUnits: Int
    public var epochs: Int
    public var trainSeconds: Double
    public var secondsPerEpoch: Double
    /// Mean test activation of each code unit.
    public var unitMeanActivations: [Double]
    /// Reconstruction BCE and MSE per class (index = label); empty without labels (or BCE).
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
        testFvu = test.fvu
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

    /// The reconstruction error sweeps and fronts rank by: BCE where it is defined, else MSE.
    public var reconstructionError: Double { testBce ?? testMse }
    public var reconstructionErrorName: String { testBce == nil ? "MSE" : "BCE" }
}
