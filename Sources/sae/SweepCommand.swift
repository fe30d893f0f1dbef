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
            Several --learning-rate values cross every setting with each rate (the baseline too); \
            a setting's name then says its rate, e.g. topk_k16_lr3e-4:
              sae sweep --penalty none --k 8,16,32 --learning-rate 3e-4,1e-3 \\
                --out runs/sweep-lr
            On your vectors (--data-npy), a sweep compares dictionary SAE architectures: each of \
            --architecture at each --k (TopK, BatchTopK, Matryoshka's k; JumpReLU's target L0), \
            --gate-l1 (Gated) or --l1 (the standard L1 SAE), on the same vectors, FVU against L0:
              sae sweep --data-npy acts.npy --val-npy val.npy --code 4096 \\
                --architecture topk,batchtopk,jumprelu,gated \\
                --k 16,32,64 --gate-l1 0.5,1,2 --out runs/architectures
            There, --code takes several sizes, or --expansion gives them as multiples of the \
            vectors' width (SAELens's expansion_factor: 4,8,16 on 768-wide vectors trains 3072, \
            6144 and 12288 latents), named e.g. topk_k32_x8:
              sae sweep --data-npy acts.npy --architecture topk --k 32,64 \\
                --expansion 4,8,16 --out runs/widths
            """)

    @Option(help: "l1, kl, or none (with --k: TopK settings only).") var penalty: PenaltyKind = .l1
    @Option(name: .customLong("l1"), help: ArgumentHelp("L1 strengths, comma-separated (default 1e-6,1e-5,1e-4,1e-3; with --data-npy: the standard SAE's, default 1e-4,1e-3,1e-2).", valueName: "list")) var lambdas: String?
    @Option(name: .customLong("gate-l1"), help: ArgumentHelp("With --data-npy: Gated's L1 on its gates, comma-separated (default 0.5,1,2: L0 374, 112 and 21 on bench/make_vectors.py's d 512 vectors with 4,096 latents after 384 steps).", valueName: "list")) var gateL1: String?
    @Option(help: ArgumentHelp("KL targets, comma-separated.", valueName: "list")) var rho = "0.05"
    @Option(help: ArgumentHelp("KL weights, comma-separated.", valueName: "list")) var beta = "3"
    @Option(help: ArgumentHelp("Code sizes, comma-separated (default 64).", valueName: "list")) var code: String?
    @Option(help: ArgumentHelp("With --data-npy, instead of --code: code sizes as expansion factors, comma-separated (latents = factor x the vectors' width).", valueName: "list")) var expansion: String?
    @Option(help: ArgumentHelp("TopK settings: units kept per sample, comma-separated (a topk code, no penalty); with --data-npy, each k-taking architecture's k and JumpReLU's target L0.", valueName: "list")) var k: String?
    @Option(help: ArgumentHelp("With --data-npy: the architectures to compare, comma-separated: \(Sweep.sweptArchitectures.joined(separator: ", ")).", valueName: "list")) var architecture: String?
    @Option(name: .customLong("groups"), help: ArgumentHelp("With --data-npy: Matryoshka's group fractions (default 0.0625,0.1875,0.75).", valueName: "list")) var groupsOption: String?
    private var groups: String { groupsOption ?? "0.0625,0.1875,0.75" }
    @OptionGroup(title: "Training") var rates: LearningRatesOption
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
        // A swept axis of its own (--learning-rate, --expansion): each value a run's, so each
        // positive and given once (two equal values would name one directory twice).
        func axis<T: LosslessStringConvertible & Comparable & Numeric>(_ text: String, _ name: String) throws -> [T] {
            let values: [T] = try list(text, name), written = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !values.isEmpty else { throw ValidationError("\(name): give one value or more, comma-separated") }
            if let bad = values.indices.first(where: { !(values[$0] > 0) }) { throw ValidationError("\(name): '\(written[bad])' must be > 0") }
            if let twice = values.indices.first(where: { values[..<$0].contains(values[$0]) }) {
                throw ValidationError("\(name): '\(written[twice])' is the same as an earlier value")
            }
            return values
        }
        if code != nil && expansion != nil { throw ValidationError("give --code (latents) or --expansion (multiples of the input width), not both") }
        let codes: [Int] = try list(code ?? "64", "--code")
        let expansions: [Int]? = try expansion.map { try axis($0, "--expansion") }
        let learningRates: [Float] = try rates.learningRates.map { try axis($0, "--learning-rate") } ?? []
        let ks: [Int] = try k.map { try list($0, "--k") } ?? []
        if !dataOptions.dataNpy.isEmpty {
            return try sweepArchitectures(ks: ks, codeSizes: expansions.map { .expansion($0) } ?? .latents(codes), learningRates: learningRates,
                                          l1s: try list(lambdas ?? "1e-4,1e-3,1e-2", "--l1"), gateL1s: try list(gateL1 ?? "0.5,1,2", "--gate-l1"))
        }
        if architecture != nil { throw ValidationError("--architecture compares dictionary SAEs on your vectors: give --data-npy") }
        if gateL1 != nil || groupsOption != nil {
            throw ValidationError("--\(gateL1 != nil ? "gate-l1" : "groups") sets an architecture of an architecture sweep: give --data-npy and --architecture")
        }
        if expansion != nil { throw ValidationError("--expansion multiplies the width of your vectors: give --data-npy (on Fashion-MNIST, --code)") }
        let settings: [Sweep.Setting]
        switch penalty {
        case .kl: settings = Sweep.grid(rhos: try list(rho, "--rho"), betas: try list(beta, "--beta"), ks: ks, codeSizes: codes, learningRates: learningRates)
        case .l1: settings = Sweep.grid(lambdas: try list(lambdas ?? "1e-6,1e-5,1e-4,1e-3", "--l1"), ks: ks, codeSizes: codes, learningRates: learningRates)
        case .none: settings = Sweep.grid(ks: ks, codeSizes: codes, learningRates: learningRates)
        }
        // Check every setting, and the directory, before training any.
        let configs = try Sweep.configs(settings, training: try training.settings(learningRate: TrainingOptions.defaultLearningRate),
                                        trainLimit: dataOptions.trainLimit)
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

    /// An architecture sweep on the user's vectors: one dictionary SAE per architecture and setting
    /// (at each code size and learning rate).
    private func sweepArchitectures(ks: [Int], codeSizes: Sweep.CodeSizes, learningRates: [Float], l1s: [Float], gateL1s: [Float]) throws {
        let names = (architecture ?? "topk,batchtopk,jumprelu").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        // Everything that can be checked without the vectors is, before they are read.
        try names.forEach(Sweep.checkArchitecture)
        guard !ks.isEmpty || names.allSatisfy({ AutoencoderConfig.sweep(of: $0)?.list != "k" }) else {
            throw ValidationError("give the k's (and JumpReLU's target L0s) to sweep: --k 16,32,64")
        }
        let fractions = try groups.split(separator: ",").map { part -> Double in
            guard let f = Double(part.trimmingCharacters(in: .whitespaces)), f > 0, f <= 1 else { throw ValidationError("--groups takes fractions adding up to 1, got '\(groups)'") }
            return f
        }
        guard abs(fractions.reduce(0, +) - 1) < 1e-6 else { throw ValidationError("--groups takes fractions adding up to 1, got '\(groups)'") }
        let training = try training.settings(for: .dictionary, learningRate: TrainingOptions.defaultLearningRate)
        let dataSettings = try dataOptions.settings()
        let data = try dataOptions.load()
        // The code sizes need the vectors' width (for --expansion), so the grid is made here;
        // every setting is still checked before the first one trains.
        let lists = ["k": ks.map(Double.init), "l1": l1s.map(Double.init), "gate-l1": gateL1s.map(Double.init), "groups": fractions]
        let settings = try Sweep.dictionaryGrid(architectures: names, lists: lists, codeSizes: codeSizes, inputSize: data.train.featureCount,
                                                learningRates: learningRates)
        let configs = try Sweep.configs(settings, training: training, data: dataSettings,
                                        inputSize: data.train.featureCount, outputSize: data.train.targets?.featureCount)
            .map(self.training.withDefaultClipping)
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

/// The sweep's learning rates: a list, where `sae train` takes one (`LearningRateOption`).
struct LearningRatesOption: ParsableArguments {
    @Option(name: .customLong("learning-rate"), parsing: .unconditional,
            help: ArgumentHelp("Adam's learning rates, comma-separated: every setting is trained at each (default 1e-3).", valueName: "list"))
    var learningRates: String?
}
