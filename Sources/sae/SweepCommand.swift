import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Train one run per penalty setting, then compare them on reconstruction against sparsity.",
        discussion: """
            Each setting trains into OUT/<setting> (a run without penalty is added as the baseline); \
            settings that already finished are skipped and interrupted ones resumed, so a sweep can be \
            rerun to completion. Every run is analysed (metrics, figures, a linear probe on its codes), \
            then OUT gets sweep.md and sweep.html (table, Pareto front, the recommended setting and \
            why) and pareto_l0.svg / pareto_mean_activation.svg.
            Examples:
              sae sweep --penalty l1 --l1 1e-6,1e-5,1e-4,1e-3 --out runs/sweep-l1
              sae sweep --penalty kl --rho 0.01,0.05 --beta 1,3 --out runs/sweep-kl
              sae sweep --penalty none --k 8,16,32 --out runs/sweep-topk
            """)

    @Option(help: "l1, kl, or none (with --k: TopK settings only).") var penalty: PenaltyKind = .l1
    @Option(name: .customLong("l1"), help: ArgumentHelp("L1 strengths, comma-separated.", valueName: "list")) var lambdas = "1e-6,1e-5,1e-4,1e-3"
    @Option(help: ArgumentHelp("KL targets, comma-separated.", valueName: "list")) var rho = "0.05"
    @Option(help: ArgumentHelp("KL weights, comma-separated.", valueName: "list")) var beta = "3"
    @Option(help: ArgumentHelp("Code sizes, comma-separated.", valueName: "list")) var code = "64"
    @Option(help: ArgumentHelp("TopK settings: units kept per sample, comma-separated (a topk code, no penalty).", valueName: "list")) var k: String?
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @Option(help: ArgumentHelp("Directory for the runs and the sweep report.", valueName: "dir")) var out = "runs/sweep"

    func run() throws {
        func list<T: LosslessStringConvertible>(_ text: String, _ name: String) throws -> [T] {
            try text.split(separator: ",").map {
                guard let v = T(String($0).trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(name): '\($0)' is not a number") }
                return v
            }
        }
        let codes: [Int] = try list(code, "--code")
        let ks: [Int] = try k.map { try list($0, "--k") } ?? []
        let settings: [Sweep.Setting]
        switch penalty {
        case .kl: settings = Sweep.grid(rhos: try list(rho, "--rho"), betas: try list(beta, "--beta"), ks: ks, codeSizes: codes)
        case .l1: settings = Sweep.grid(lambdas: try list(lambdas, "--l1"), ks: ks, codeSizes: codes)
        case .none: settings = Sweep.grid(ks: ks, codeSizes: codes)
        }
        // Check every setting before training any.
        let configs = try Sweep.configs(settings, training: try training.settings(), trainLimit: dataOptions.trainLimit)
        guard dataOptions.dataNpy.isEmpty else { throw ValidationError("sweeps run the tutorial's models on Fashion-MNIST; --data-npy is for `sae train`") }
        let data = try dataOptions.load()
        print("Linear probe on raw pixels (the baseline)...")
        let pixels = try LinearProbe.pixelAccuracy(train: data.train, test: data.test)
        let printer = RunPrinter()
        let sweep = try reportingInterruption {
            try Sweep.run(settings, configs: configs, data: data, pixelAccuracy: pixels, out: out, shouldStop: stopRequested) { event in
                switch event {
                case .setting(let index, let count, let name): print("\n[\(index)/\(count)] \(name)")
                case .trainsBeside(let stored, let differences, let fresh):
                    print("\(stored.path) was trained with other settings (\(differences.joined(separator: ", "))); this one goes to \(fresh.path)")
                case .skipped: print("already finished with these settings; skipped")
                case .resuming(let run): print("Resuming \(run.path) from its checkpoint")
                case .run(.resuming): printer.start()
                case .run(let event): printer.handle(event)
                }
            }
        }
        try sweep.write(to: out)
        print("\n" + sweep.table)
        if let pick = sweep.recommendation() { print("\nRecommended: " + pick.reason) }
        print(String(format: "Linear probe on raw pixels: %.1f%%", pixels * 100))
        print("Wrote \(out)/sweep.html, sweep.md, pareto_l0.svg, pareto_mean_activation.svg")
    }
}
