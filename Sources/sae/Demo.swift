import ArgumentParser
import SparseAutoencoder

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the tutorial's two models (L1 and KL) and print them side by side.",
        discussion: """
            Writes OUT/l1 and OUT/kl (replacing earlier demo runs there) and prints final loss, \
            val_loss, test MSE, mean code activation, dead units and seconds per epoch of each.
            """)

    @Option(help: ArgumentHelp("Directory for the two runs.", valueName: "dir"))
    var out = "runs/demo"

    @OptionGroup(title: "Training") var training: TrainingOptions
    @OptionGroup(title: "Data") var dataOptions: DataOptions

    func run() throws {
        let data = try dataOptions.load()
        let settings = try training.settings()
        var results: [(name: String, metrics: RunMetrics)] = []
        for (name, penalty) in [("l1", ActivityPenalty.l1(lambda: 1e-5)), ("kl", .kl(rho: 0.05, beta: 3))] {
            let config = RunConfig(model: .tutorial(penalty), training: settings,
                                   data: DataSettings(trainLimit: dataOptions.trainLimit))
            let metrics = try trainRun(config, dataOptions: dataOptions, out: out + "/" + name, force: true,
                                       summary: name == "l1", data: data)
            results.append((name, metrics))
        }
        print("\n" + MetricsTable.render(results))
    }
}
