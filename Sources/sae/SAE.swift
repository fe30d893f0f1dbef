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
        subcommands: [Train.self, Demo.self, Analyze.self, Compare.self, Report.self, SweepCommand.self, Bench.self, Summary.self, Encode.self,
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
        main(nil)
    }
}
