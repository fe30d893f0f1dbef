import ArgumentParser
import SparseAutoencoder
import SparseAutoencoderToolkit

extension SAEExport.Format: ExpressibleByArgument {}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dictionary SAE run in the layout SAELens (or sparsify) loads.",
        discussion: """
            saelens:  OUT/cfg.json + OUT/sae_weights.safetensors with W_enc (d_in, d_sae), b_enc, \
            W_dec (d_sae, d_in), b_dec; load with sae_lens.SAE.load_from_disk(OUT).
            sparsify: OUT/cfg.json + OUT/sae.safetensors with encoder.weight (d_sae, d_in), \
            encoder.bias, W_dec, b_dec (TopK runs only).
            Both encode z = act((x - b_dec) W_enc + b_enc) exactly as `sae encode` does.
            Example: sae export runs/acts --out export/acts --hook-name blocks.8.hook_resid_pre
            """)

    @Argument(help: "The run directory (a dictionary SAE).") var runDirectory: String
    @Option(help: ArgumentHelp("Directory to write the files into.", valueName: "dir")) var out: String
    @Option(help: "saelens or sparsify.") var format: SAEExport.Format = .saelens
    @Flag(help: "Replace output files that exist (never a run's own files; a symlink's target, not the link; pipes and devices are written to).")
    var force = false
    @Option(help: "Name of the model the activations came from (recorded in cfg.json).") var modelName = ""
    @Option(help: "Hook point the activations came from (recorded in cfg.json).") var hookName = ""

    func run() throws {
        let run = RunDirectory(path: runDirectory)
        let (_, model) = try run.loadModel()
        // None of the files written may be one of the run's own under another name (a hard link).
        for file in format.files { try UserOutput.refuseSameFile(out + "/" + file, as: run.ownFilePaths) }
        let files = try SAEExport.write(model, format: format, to: out, source: .init(modelName: modelName, hookName: hookName), force: force)
        print("Wrote " + files.joined(separator: ", "))
    }
}
