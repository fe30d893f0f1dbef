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

    init(summary: Bool = false, suffix: String = "", interactive: Bool? = nil) {
        (self.summary, self.suffix, self.interactive) = (summary, suffix, interactive)
    }

    func handle(_ event: RunEvent) {
        switch event {
        case .training(let directory, let config, let data):
            if summary { print(config.model.summary) }
            let heldOut = config.data.dataset == .npy && config.data.validationPaths == nil
            let validating = heldOut ? "validating on \(data.test.count) held-out rows" : "validating on \(data.test.count)"
            print("Training \(config.model.kindText) on \(min(data.train.count, config.data.trainLimit ?? .max)) samples of "
                  + "\(config.data.summaryText(mentioningHeldOut: false)) (\(validating)) into \(directory.path)" + suffix)
            start()
        case .resuming(let directory, let config):
            print("Resuming \(directory.path) (\(config.model.kindText), \(config.training.epochs) epochs)" + suffix)
            start()
        case .progress(let event):
            progress.handle(event)
        case .finished(let directory, let metrics):
            print("Wrote \(directory.path): test MSE \(String(format: "%.4f", metrics.testMse)), FVU \(metrics.testFvu.map { String(format: "%.4f", $0) } ?? "undefined (the vectors do not vary)"), "
                  + "mean code activation \(String(format: "%.4g", metrics.codes.meanActivation)), "
                  + "\(metrics.deadUnits) dead units")
        }
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
