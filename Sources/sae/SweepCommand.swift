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
            why; sweep.html also links each run's figures) and pareto_l0.svg / pareto_mean_activation.svg.
            The recommended setting is the sparse one (a penalty, a TopK code, an architecture) with \
            the fewest active units (L0; a tie goes to the lower error) whose BCE on the test \
            set (FVU on validation vectors) is within 2% of the lowest in the sweep, the no-penalty baseline's included. \
            The baseline is never recommended itself; when no sparse setting is within 2%, \
            there is no recommendation and the closest setting is named with its cost.
            Examples:
              sae sweep --penalty l1 --l1 1e-6,1e-5,1e-4,1e-3 --out runs/sweep-l1
              sae sweep --penalty kl --rho 0.01,0.05 --beta 1,3 --out runs/sweep-kl
              sae sweep --penalty none --k 8,16,32 --out runs/sweep-topk
            On your vectors (--data-npy), a sweep compares dictionary SAE architectures: each of \
            --architecture at each --k (TopK, BatchTopK, Matryoshka's k; JumpReLU's target L0), \
            --gate-l1 (Gated) or --l1 (the standard L1 SAE), on the same vectors, FVU against L0:
              sae sweep --data-npy acts.npy --val-npy val.npy --code 4096 \\
                --architecture topk,batchtopk,jumprelu,gated \\
                --k 16,32,64 --gate-l1 0.3,1,3 --out runs/architectures
            """)

    @Option(help: "l1, kl, or none (with --k: TopK settings only).") var penalty: PenaltyKind = .l1
    @Option(name: .customLong("l1"), help: ArgumentHelp("L1 strengths, comma-separated (default 1e-6,1e-5,1e-4,1e-3; with --data-npy: the standard SAE's, default 1e-4,1e-3,1e-2).", valueName: "list")) var lambdas: String?
    @Option(name: .customLong("gate-l1"), help: ArgumentHelp("With --data-npy: Gated's L1 on its gates, comma-separated.", valueName: "list")) var gateL1 = "0.3,1,3"
    @Option(help: ArgumentHelp("KL targets, comma-separated.", valueName: "list")) var rho = "0.05"
    @Option(help: ArgumentHelp("KL weights, comma-separated.", valueName: "list")) var beta = "3"
    @Option(help: ArgumentHelp("Code sizes, comma-separated.", valueName: "list")) var code = "64"
    @Option(help: ArgumentHelp("TopK settings: units kept per sample, comma-separated (a topk code, no penalty); with --data-npy, each k-taking architecture's k and JumpReLU's target L0.", valueName: "list")) var k: String?
    @Option(help: ArgumentHelp("With --data-npy: the architectures to compare, comma-separated: \(Sweep.sweptArchitectures.joined(separator: ", ")).", valueName: "list")) var architecture: String?
    @Option(help: ArgumentHelp("With --data-npy: Matryoshka's group fractions.", valueName: "list")) var groups = "0.0625,0.1875,0.75"
    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions
    @Option(help: ArgumentHelp("Directory for the runs and the sweep report.", valueName: "dir")) var out = "runs/sweep"
    @Flag(help: "Replace files of the report's names (sweep.md, sweep.html, pareto_*.svg) that a sweep did not write.") var force = false

    func run() throws {
        func list<T: LosslessStringConvertible>(_ text: String, _ name: String) throws -> [T] {
            try text.split(separator: ",").map {
                guard let v = T(String($0).trimmingCharacters(in: .whitespaces)) else { throw ValidationError("\(name): '\($0)' is not a number") }
                return v
            }
        }
        let codes: [Int] = try list(code, "--code")
        let ks: [Int] = try k.map { try list($0, "--k") } ?? []
        if !dataOptions.dataNpy.isEmpty {
            return try sweepArchitectures(ks: ks, codes: codes, l1s: try list(lambdas ?? "1e-4,1e-3,1e-2", "--l1"), gateL1s: try list(gateL1, "--gate-l1"))
        }
        if architecture != nil { throw ValidationError("--architecture compares dictionary SAEs on your vectors: give --data-npy") }
        let settings: [Sweep.Setting]
        switch penalty {
        case .kl: settings = Sweep.grid(rhos: try list(rho, "--rho"), betas: try list(beta, "--beta"), ks: ks, codeSizes: codes)
        case .l1: settings = Sweep.grid(lambdas: try list(lambdas ?? "1e-6,1e-5,1e-4,1e-3", "--l1"), ks: ks, codeSizes: codes)
        case .none: settings = Sweep.grid(ks: ks, codeSizes: codes)
        }
        // Check every setting, and the directory, before training any.
        let configs = try Sweep.configs(settings, training: try training.settings(), trainLimit: dataOptions.trainLimit)
        try Sweep.prepare(out, force: force)
        let data = try dataOptions.load()
        print("Linear probe on raw pixels (the baseline)...")
        let pixels = try LinearProbe.pixelAccuracy(train: data.train, test: data.test)
        let sweep = try reportingInterruption {
            try Sweep.run(settings, configs: configs, data: data, pixelAccuracy: pixels, out: out, shouldStop: stopRequested,
                          events: Self.printing(RunPrinter()))
        }
        try report(sweep)
        print(String(format: "Linear probe on raw pixels: %.1f%%", pixels * 100))
    }

    /// An architecture sweep on the user's vectors: one dictionary SAE per architecture and setting.
    private func sweepArchitectures(ks: [Int], codes: [Int], l1s: [Float], gateL1s: [Float]) throws {
        guard codes.count == 1, let codeSize = codes.first else { throw ValidationError("an architecture sweep takes one --code") }
        let names = (architecture ?? "topk,batchtopk,jumprelu").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !ks.isEmpty || names.allSatisfy({ $0 == "gated" || $0 == "standard" }) else {
            throw ValidationError("give the k's (and JumpReLU's target L0s) to sweep: --k 16,32,64")
        }
        let fractions = try groups.split(separator: ",").map { part -> Double in
            guard let f = Double(part.trimmingCharacters(in: .whitespaces)), f > 0, f <= 1 else { throw ValidationError("--groups takes fractions adding up to 1, got '\(groups)'") }
            return f
        }
        guard abs(fractions.reduce(0, +) - 1) < 1e-6 else { throw ValidationError("--groups takes fractions adding up to 1, got '\(groups)'") }
        let settings = try Sweep.dictionaryGrid(architectures: names, ks: ks, l1s: l1s, gateL1s: gateL1s, groups: fractions,
                                                    codeSize: codeSize)
        let data = try dataOptions.load()
        let configs = try Sweep.configs(settings, training: try training.settings(for: .dictionary), data: try dataOptions.settings(),
                                        inputSize: data.train.featureCount, outputSize: data.train.targets?.featureCount)
        try Sweep.prepare(out, force: force)
        let sweep = try reportingInterruption {
            try Sweep.run(settings, configs: configs, data: data, pixelAccuracy: nil, out: out, shouldStop: stopRequested,
                          events: Self.printing(RunPrinter()))
        }
        try report(sweep)
    }

    /// What a sweep says as it goes: each setting, what it does with a stored run, and its training.
    private static func printing(_ printer: RunPrinter) -> (Sweep.Event) -> Void {
        { event in
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

    private func report(_ sweep: Sweep) throws {
        try sweep.write(to: out)
        print("\n" + sweep.table)
        print("\n" + sweep.advice)
        print("Wrote \(out)/sweep.html, sweep.md, pareto_l0.svg, pareto_mean_activation.svg")
    }
}
