import ArgumentParser
import SparseAutoencoder

/// `--architecture jumprelu`'s options: its L0 penalty and the window its thresholds learn through.
struct JumpReLUOptions: ParsableArguments {
    @Option(name: .customLong("target-l0"), parsing: .unconditional, help: ArgumentHelp("JumpReLU: the L0 (active latents per sample) its penalty aims at: l0-coefficient x (L0 / target - 1)^2, dictionary_learning's form. Without it, the paper's l0-coefficient x L0.", valueName: "L0"))
    var targetL0: Float?

    @Option(name: .customLong("l0-coefficient"), parsing: .unconditional, help: ArgumentHelp("JumpReLU: the L0 penalty's weight (default 1 with --target-l0; required without it).", valueName: "lambda"))
    var l0Coefficient: Float?

    @Option(parsing: .unconditional, help: ArgumentHelp("JumpReLU: the width of the window around each threshold through which it learns (straight-through estimator).", valueName: "epsilon"))
    var bandwidth: Float = 0.001

    /// Puts these settings into `config` (a jumprelu SAE's); refuses them for another architecture.
    func apply(to config: inout AutoencoderConfig) throws {
        guard targetL0 != nil || l0Coefficient != nil else { return }
        guard config.architecture == .jumprelu else { throw ValidationError("--target-l0 and --l0-coefficient are JumpReLU's (add --architecture jumprelu)") }
        config.jumpReLU = JumpReLUSettings(bandwidth: bandwidth, coefficient: l0Coefficient ?? 1, targetL0: targetL0)
    }
}
