import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// Prints a run's events (`Run`, `Sweep.run`) as `sae train` does: the model summary if asked,
/// what trains on what and where (or what resumes), Keras-style progress and the result. Signal
/// handlers are installed as training starts, so Ctrl-C, SIGTERM and SIGHUP stop it cleanly
/// (see `reportingInterruption`).
final class RunPrinter {
    private let summary: Bool
    /// Said after "Training ..." and "Resuming ...", e.g. " on 2 MPI ranks (Open MPI v4.1.6)".
    private let suffix: String
    private let interactive: Bool?
    private var progress = ProgressPrinter()
    /// The run being trained (from its first event): the final line speaks its words.
    private var config: RunConfig?

    init(summary: Bool = false, suffix: String = "", interactive: Bool? = nil) {
        (self.summary, self.suffix, self.interactive) = (summary, suffix, interactive)
    }

    /// ", each holding 1/N of the latents" for a latent-sharded run.
    static func sharding(_ config: RunConfig) -> String {
        guard config.training.shardLatents == true, let n = config.training.ranks else { return "" }
        return ", each holding 1/\(n) of the latents"
    }

    func handle(_ event: RunEvent) {
        switch event {
        case .training(let directory, let config, let data):
            self.config = config
            if summary { print(config.model.summary) }
            print("Training \(config.model.kindText) on \(config.data.bannerText(trainCount: data.train.count, validationCount: data.test.count)), "
                  + "into \(directory.path)" + suffix + Self.sharding(config))
            start()
        case .resuming(let directory, let config):
            self.config = config
            print("Resuming \(directory.path) (\(config.model.kindText), \(config.training.epochs) epochs)" + suffix + Self.sharding(config))
            start()
        case .extending(let directory, let config, let from):
            self.config = config
            print("Extending \(directory.path) from \(from) to \(config.training.epochs) epochs (\(config.model.kindText))" + suffix + Self.sharding(config))
            if config.training.schedule?.dependsOnLength == true {
                print("Note: the learning rate decays to the run's last step, so the decay is now spread over \(config.training.epochs) epochs "
                      + "from here on: the weights will differ from a run asked for \(config.training.epochs) epochs from the start")
            }
            start()
        case .progress(let event):
            progress.handle(event)
        case .finished(let directory, let metrics):
            print("Wrote \(directory.path): " + Self.result(metrics, config: config))
        }
    }

    /// A finished run's headline numbers, in its words: the tutorial's mean activation and quiet
    /// units; a dictionary's FVU, L0 and dead latents.
    static func result(_ m: RunMetrics, config: RunConfig?) -> String {
        let words = config.map(RunWording.init) ?? RunWording([])
        let fvu = m.testFvu.map { String(format: "%.4f", $0) } ?? "undefined (the vectors do not vary)"
        let head = "\(words.evaluationSet) MSE \(String(format: "%.4f", m.testMse)), FVU \(fvu)"
        if config?.model.isDictionary == true {
            return head + String(format: ", L0 %.2f, dead latents ", m.codes.l0) + MetricsTable.deadLatents(m)
        }
        return head + ", mean code activation \(String(format: "%.4g", m.codes.meanActivation)), "
            + "\(m.quietUnits)/\(m.codes.unitMeans.count) quiet units (mean < 1e-3)"
    }

    /// Training starts: stop cleanly on a signal from now on, and count epochs afresh.
    func start() {
        Interrupt.pollDuringTraining()
        progress = interactive.map { ProgressPrinter(interactive: $0) } ?? ProgressPrinter()
    }
}

/// Whether a stop signal has arrived (see `RunPrinter.start`).
func stopRequested() -> Bool { Interrupt.requested }

/// Runs `body`; training stopped by a signal ends the command with how to continue and exit
/// status 128 + the signal (130, 143, 129).
@discardableResult
func reportingInterruption<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let interrupted as TrainingRun.Interrupted {
        print("")
        printError("\(Interrupt.signalName): " + interrupted.description)
        throw ExitCode(Interrupt.exitStatus)
    }
}
