import SparseAutoencoder

/// The words a run's numbers are told in. The tutorial's runs encode Fashion-MNIST images, pixel
/// by pixel, into code units, and validate on the test set (as the tutorial does); a dictionary
/// SAE on the user's vectors has latents, dimensions and a validation set. Tables, reports and
/// banners take their nouns from here, so that neither user is spoken to as the other.
///
///     let words = RunWording(config)
///     "\(words.evaluationSet) MSE"            // "test MSE" or "validation MSE"
package struct RunWording: Equatable, Sendable {
    /// One input: "image" or "vector" ("sample" when runs differ).
    package var sample: String
    /// One value of an input: "pixel" or "dimension".
    package var element: String
    /// One code value's owner: "unit" (the tutorial's models) or "latent" (a dictionary).
    package var unit: String
    /// The set the numbers are measured on: "test" (Fashion-MNIST's) or "validation".
    package var evaluationSet: String
    /// Whether any run has an activity penalty (L1, KL; JumpReLU's L0, Gated's L1).
    package var hasPenalty: Bool
    /// Whether the runs are the Keras tutorial's (the mirrored model on Fashion-MNIST).
    package var isTutorial: Bool

    package init(_ config: RunConfig) {
        let images = config.data.dataset == .fashionMNIST
        sample = images ? "image" : "vector"
        element = images ? "pixel" : "dimension"
        unit = config.model.isDictionary ? "latent" : "unit"
        evaluationSet = images ? "test" : "validation"
        hasPenalty = config.model.hasSparsityPenalty
        isTutorial = images && !config.model.isDictionary
    }

    /// The words several runs share; where they differ, the neutral ones.
    package init(_ configs: [RunConfig]) {
        let each = configs.map(RunWording.init)
        guard var first = each.first else {
            self = RunWording(sample: "sample", element: "dimension", unit: "unit", evaluationSet: "evaluation", hasPenalty: true, isTutorial: false)
            return
        }
        if each.contains(where: { $0.sample != first.sample }) { (first.sample, first.element, first.evaluationSet) = ("sample", "dimension", "evaluation") }
        if each.contains(where: { $0.unit != first.unit }) { first.unit = "unit" }
        first.hasPenalty = each.contains { $0.hasPenalty }
        first.isTutorial = each.allSatisfy { $0.isTutorial }
        self = first
    }

    private init(sample: String, element: String, unit: String, evaluationSet: String, hasPenalty: Bool, isTutorial: Bool) {
        (self.sample, self.element, self.unit, self.evaluationSet, self.hasPenalty, self.isTutorial)
            = (sample, element, unit, evaluationSet, hasPenalty, isTutorial)
    }

    package var samples: String { sample + "s" }
    package var units: String { unit + "s" }
    package var Units: String { unit.prefix(1).uppercased() + unit.dropFirst() + "s" }
    /// "the test set" / "the validation set".
    package var theSet: String { "the \(evaluationSet) set" }
}
