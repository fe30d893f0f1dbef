import ArgumentParser
import SparseAutoencoder

/// `--architecture gated`'s option: the L1 on its open gates.
struct GatedOptions: ParsableArguments {
    @Option(name: .customLong("gate-l1"), parsing: .unconditional, help: ArgumentHelp("Gated: the L1 weight on the open gates (default 0.1, dictionary_learning's).", valueName: "lambda"))
    var gateL1: Float?

    /// Puts the gate L1 into `config` (a gated SAE's); refuses it for another architecture.
    func apply(to config: inout AutoencoderConfig) throws {
        guard let gateL1 else { return }
        guard config.architecture == .gated else { throw ValidationError("--gate-l1 is Gated's (add --architecture gated)") }
        config.gateL1 = gateL1
    }
}
