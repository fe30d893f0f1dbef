import ArgumentParser
import Foundation
import SparseAutoencoder

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
        let trainingSettings = try training.settings()
        // Check every setting before training any.
        let configs = try settings.map { setting -> RunConfig in
            var model = AutoencoderConfig.tutorial(setting.penalty)
            model.codeSize = setting.codeSize
            if let k = setting.topK { (model.codeActivation, model.topK) = (.topk, k) }
            try model.validate()
            return RunConfig(model: model, training: trainingSettings, data: DataSettings(trainLimit: dataOptions.trainLimit))
        }
        guard dataOptions.dataNpy.isEmpty else { throw ValidationError("sweeps run the tutorial's models on Fashion-MNIST; --data-npy is for `sae train`") }
        let data = try dataOptions.load()
        print("Linear probe on raw pixels (the baseline)...")
        let pixels = try LinearProbe.pixelAccuracy(train: data.train, test: data.test)
        var analyses: [RunAnalysis] = []
        for (i, (setting, config)) in zip(settings, configs).enumerated() {
            var run = RunDirectory(path: out + "/" + setting.name)
            print("\n[\(i + 1)/\(settings.count)] \(setting.name)")
            // A stored run counts (finished: skipped; interrupted: resumed) only if it was asked
            // for with these very settings; otherwise the setting trains afresh beside it.
            if let stored = try? run.loadConfig(), case let differences = stored.differences(from: config), !differences.isEmpty {
                var n = 2
                while FileManager.default.fileExists(atPath: "\(out)/\(setting.name)-\(n)") && (try? RunDirectory(path: "\(out)/\(setting.name)-\(n)").loadConfig())?.differences(from: config).isEmpty != true { n += 1 }
                let fresh = RunDirectory(path: "\(out)/\(setting.name)-\(n)")
                print("\(run.path) was trained with other settings (\(differences.joined(separator: ", "))); this one goes to \(fresh.path)")
                run = fresh
            }
            let state = (try? run.loadStatus())?.state
            if state == .finished {
                print("already finished with these settings; skipped")
            } else if state?.isUnfinished == true, FileManager.default.fileExists(atPath: run.checkpointPath) {
                print("Resuming \(run.path) from its checkpoint")
                _ = try runTraining(try run.loadConfig(), data: data, directory: run, resume: true)
            } else {
                try trainRun(config, data: data, out: run.path, force: true, summary: false)
            }
            let analysis = try RunAnalysis(run: run, test: data.test, name: (run.path as NSString).lastPathComponent, probe: (data.train, pixels))
            try analysis.write()
            analyses.append(analysis)
        }
        let sweep = Sweep(runs: analyses)
        try sweep.write(to: out)
        print("\n" + sweep.table)
        if let pick = sweep.recommendation() { print("\nRecommended: " + pick.reason) }
        print(String(format: "Linear probe on raw pixels: %.1f%%", pixels * 100))
        print("Wrote \(out)/sweep.html, sweep.md, pareto_l0.svg, pareto_mean_activation.svg")
    }
}
