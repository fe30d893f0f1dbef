import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

@main
struct SAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sae",
        abstract: "Train, inspect and compare sparse autoencoders on the CPU.",
        discussion: """
            Reproduces the Keras sparse-autoencoder tutorial (an L1- and a KL-penalised autoencoder on \
            Fashion-MNIST) with the same numerics, trains single-layer dictionary SAEs (TopK, AuxK, \
            unit-norm decoder) on your own .npy vectors and exports them for SAELens, and writes \
            each run to a directory:
              config.json        model and training settings (enough to rebuild and rerun)
              model.safetensors  the weights (F32, readable by numpy/safetensors)
              history.json       loss and val_loss per epoch
              metrics.json       losses, test BCE/MSE/FVU, sparsity, probe accuracy
              checkpoint.safetensors  where training is (for --resume)
              status.json        training, interrupted, diverged or finished
              figures/           charts and image grids, from `sae analyze`

            Fashion-MNIST is looked for in --data, $SAE_DATA, ~/.cache/sae/fashion-mnist and \
            /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist), and downloaded \
            (and verified by SHA-256) into the cache if none has it. Vectors come from \
            --data-npy (and --val-npy).
            """,
        version: VersionLine.text,
        subcommands: [Train.self, Demo.self, Analyze.self, Compare.self, Report.self, SweepCommand.self, Bench.self, Summary.self, Eval.self, Encode.self,
                      Reconstruct.self, Features.self, ImportCommand.self, ExportCommand.self, Metrics.self, GenerateManual.self]
    )

    static func main() {
        // A closed stdout (`sae ... | head -1`) must not kill the process: writes then fail, and
        // the commands that write data there report it.
        signal(SIGPIPE, SIG_IGN)
        do { try BLASKernel.checkUsable() } catch {
            printError("Error: \((error as? SAEError)?.message ?? "\(error)")")
            Foundation.exit(1)
        }
        BLASKernel.restartWithBetterKernelIfNeeded()
        Interrupt.install()
        refuseCommandsOtherThanTrainOnRanks()
        // swift-argument-parser's `main` without its error report (see `exit(reporting:)`).
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(reporting: error)
        }
    }

    /// Ends the process for `error` with one line on standard error, as every other refusal of
    /// sae's is (README; scripts/hostile.sh checks it): swift-argument-parser reports a usage
    /// error (an unknown option, a bad value, a ValidationError) in three or four lines (the
    /// error, a "Help:" line, the usage, "See 'sae train --help' ..."), which a script reading
    /// the last line, or a log of one line per failure, gets wrong. So a usage error is
    /// "Error: <message> (see 'sae <command> --help')", with its status, 64 (EX_USAGE); any other
    /// error "Error: <message>", 1. Help, --version and a bare ExitCode (a training stopped by a
    /// signal: 130, 143, 129, its message already printed) keep the parser's own handling.
    static func exit(reporting error: Error, arguments: [String] = CommandLine.arguments) -> Never {
        let code = exitCode(for: error)
        let message = message(for: error)
        if code == .success || message.isEmpty { exit(withError: error) }
        // The message is one line already but for a rare multi-line one, joined rather than cut.
        let line = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: " ")
        var text = "Error: " + line
        if code == .validationFailure {
            // The subcommand whose help to read: the first argument when it names one (the
            // parser's own line names the root's help for a ValidationError thrown by `run`).
            let names = configuration.subcommands.map { $0._commandName }
            let command = arguments.dropFirst().first.flatMap { names.contains($0) ? "sae " + $0 : nil } ?? "sae"
            text += " (see '\(command) --help')"
        }
        printError(text)
        Foundation.exit(code.rawValue)
    }
}
