import ArgumentParser
import Foundation
import SparseAutoencoder
import SparseAutoencoderToolkit

/// `mpirun -np N sae train ...`: one model trained data-parallel over N ranks (see
/// `Trainer+Distributed.swift`). Every rank parses the same arguments and loads the same data
/// description (each then reads only its rows); rank 0 alone creates and writes the run
/// directory and prints progress, the others print only errors. Each error is printed once and
/// every rank stops with it; an error that only one rank can know of ends the job (MPI_Abort).
extension Train {
    func runOnRanks(_ comm: Communicator) throws {
        // Non-root ranks keep standard error only.
        if !comm.isRoot {
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDOUT_FILENO); close(null) }
        }
        do {
            try trainOnRanks(comm)
        } catch let stop as DistributedStop {
            // One write, so that the line reaches mpirun whole (not cut by its own messages).
            if stop.reportsHere { printError("Error: " + stop.message) }
            comm.finalize()
            throw ExitCode(1)
        } catch let interrupted as TrainingRun.Interrupted {
            comm.finalize()
            if comm.isRoot {
                print("")
                printError("\(Interrupt.signalName): " + interrupted.description)
            }
            throw ExitCode(Interrupt.exitStatus)
        } catch let exit as ExitCode {
            comm.finalize()
            throw exit
        } catch {
            // Known to this rank only (e.g. a failed MPI call): end the whole job now.
            printError("Error: rank \(comm.rank) of \(comm.size): \(error)")
            comm.abort(status: 1)
        }
        comm.finalize()
    }

    private func trainOnRanks(_ comm: Communicator) throws {
        let distributed = comm.isDistributed
        try checkSameDestination(comm)
        // Open MPI hands rank 0 a terminal even when mpirun's output goes to a file: one line per epoch.
        let printer = RunPrinter(summary: summary, suffix: " on " + ranksText(comm), interactive: false)
        if let resume {
            try Run.resume(RunDirectory(path: resume), extendingTo: training.epochs, communicator: comm, acceptingChangedData: acceptChangedData, loadData: { config in
                let data = try loadOnRanks(comm) { try config.data.load(fashionMNIST: dataOptions.data, log: { printError($0) }, forRanks: distributed) }
                try data.checkSameOnEveryRank(comm, config: config)
                return data
            }, shouldStop: stopRequested, events: printer.handle)
            return
        }
        let (dataSettings, training) = try comm.agree { () -> (DataSettings, TrainingSettings) in
            let dataSettings = try dataOptions.settings()
            let architecture = try model.config(inputSize: dataOptions.dataNpy.isEmpty ? 784 : 1, defaultArchitecture: dataOptions.defaultArchitecture).architecture
            var training = try self.training.settings(for: architecture, learningRate: rate.learningRate)
            if distributed { training.ranks = comm.size }
            if shardLatents { training.shardLatents = true }
            try training.validate()
            return (dataSettings, training)
        }
        let data = try loadOnRanks(comm) { try dataSettings.load(fashionMNIST: dataOptions.data, log: { printError($0) }, forRanks: distributed) }
        var config = try comm.agree {
            self.training.withDefaultClipping(RunConfig(
                model: try model.config(inputSize: data.train.featureCount, outputSize: data.train.targets?.featureCount, defaultArchitecture: dataOptions.defaultArchitecture),
                training: training, data: dataSettings))
        }
        config.data.directory = data.directory
        try data.checkSameOnEveryRank(comm, config: config)
        if comm.isRoot, let warning = Self.auxKWarning(config.model) { printError(warning) }
        try Run.train(config, data: data, out: self.out ?? "runs/\(config.model.runName)", force: force, communicator: comm,
                      shouldStop: stopRequested, events: printer.handle)
    }

    /// Collective: refuses ranks given another --out, --resume, --force or --accept-changed-data
    /// than rank 0 (an MPMD job whose contexts differ): rank 0 alone writes, so the others'
    /// would be silently ignored. (Other data and settings are refused by `checkSameOnEveryRank`.)
    private func checkSameDestination(_ comm: Communicator) throws {
        let destination = [out ?? "", resume ?? "", "\(force)", "\(acceptChangedData)"].joined(separator: "\u{0}")
        let all = try comm.gather([Double(Communicator.fingerprint(destination))])
        guard let r = all.indices.first(where: { all[$0][0] != all[0][0] }) else { return }
        throw DistributedStop(message: "rank \(r) was given another --out, --resume, --force or --accept-changed-data than rank 0, "
                                  + "whose alone would count: give every rank the same; nothing was trained", reportsHere: comm.isRoot)
    }

    /// Loads the data on every rank, rank 0 first (so that a Fashion-MNIST download happens
    /// once, into the cache the others then find), and agrees that every rank could.
    private func loadOnRanks(_ comm: Communicator, _ load: () throws -> RunData) throws -> RunData {
        var result: Result<RunData, Error>?
        if comm.isRoot { result = Result { try load() } }
        try comm.barrier()
        if !comm.isRoot { result = Result { try load() } }
        return try comm.agree { try result!.get() }
    }

    private func ranksText(_ comm: Communicator) -> String {
        "\(comm.size) MPI rank\(comm.size == 1 ? "" : "s") (\(comm.libraryVersion.isEmpty ? "MPI" : comm.libraryVersion))"
    }
}

/// Under mpirun (more than one rank) only `sae train` runs: any other command would run once per
/// rank, each writing the same files. Called before the command line is parsed. Rank 0 says so;
/// in an MPMD job (`mpirun -np 1 sae train ... : -np 1 sae encode ...`) every refused rank does,
/// since rank 0 may be one that runs `train` and would be stopped without a word.
func refuseCommandsOtherThanTrainOnRanks(_ arguments: [String] = CommandLine.arguments) {
    let environment = ProcessInfo.processInfo.environment
    guard MPIEnvironment.isLaunched(environment), let size = MPIEnvironment.expectedSize(environment), size > 1,
          let command = arguments.dropFirst().first, !command.hasPrefix("-"), command != "train", command != "help" else { return }
    let rank = MPIEnvironment.rank(environment) ?? 0
    if MPIEnvironment.isMultipleProgram(environment) {
        printError("Error: rank \(rank) of \(size): only `sae train` runs over MPI ranks, and every rank runs the same command; run `sae \(command)` without mpirun")
    } else if rank == 0 {
        printError("Error: only `sae train` runs over MPI ranks; run `sae \(command)` without mpirun")
    }
    exit(1)
}
