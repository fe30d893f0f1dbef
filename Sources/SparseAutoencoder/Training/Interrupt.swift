#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSignals
import Foundation

/// Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP). During training the first one asks
/// training to stop at the next step (which then saves a checkpoint, marks the run interrupted
/// and says how to resume); a second one ends the process at once, as usual. Any other time
/// (an analysis, an encode, a final evaluation) the process ends at once with 128 + the signal,
/// removing the temporary files of the writes in progress (`AtomicFile`), so nothing is left
/// half-written. A signal inherited as ignored (nohup, a script's background job) stays ignored.
/// SIGPIPE is ignored, so a closed stdout (`sae train ... | head -1`) never stops a training:
/// writes to it fail quietly. The handler is C (`CSignals`), async-signal-safe.
package enum Interrupt {
    /// At start: every stop signal from now on is handled as above.
    package static func install() {
        signal(SIGPIPE, SIG_IGN)
        sae_signals_install()
    }

    /// A training loop starts polling `requested`: signals ask it to stop.
    package static func pollDuringTraining() { sae_signals_set_polled(1) }

    /// The loop ended without being stopped: signals end the process again, and one that arrived
    /// after the loop's last poll ends it now.
    package static func stopPolling() { sae_signals_set_polled(0) }

    /// Whether a stop signal has asked training to stop.
    package static var requested: Bool { sae_signals_received() != 0 }

    /// The exit status for the signal that stopped training: 128 + its number (130 for Ctrl-C).
    package static var exitStatus: Int32 { 128 + (sae_signals_received() == 0 ? SIGINT : sae_signals_received()) }

    /// The signal's name for messages.
    package static var signalName: String {
        switch sae_signals_received() {
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "Ctrl-C"
        }
    }
}

/// Deterministic crash points for the resume tests: `SAE_FAULT=NAME@N` kills the process
/// (SIGKILL, as `kill -9` would) the Nth time it reaches the point NAME; `SAE_FAULT=NAME@N:interrupt`
/// sends it SIGINT instead. Points: `step` (after every training step), `batch` (after every
/// batch of an evaluation, an encode or an analysis: validation too) and `checkpoint-rename`
/// (a checkpoint is written to its temporary file but not yet renamed into place); and
/// `checkpoint-write@N` makes the Nth checkpoint write fail as a full disk would.
/// Without the variable, each point is a dictionary look-up that finds nothing. Under MPI,
/// `SAE_FAULT_RANK=R` limits the fault to rank R, and `SAE_FAULT=drift@N` makes that rank's
/// weights differ from the others' at the Nth epoch's end (the ranks' checksum must catch it).
package enum FaultInjection {
    nonisolated(unsafe) private static var counts: [String: Int] = [:]
    private static let plan: (name: String, count: Int, signal: Int32)? = {
        let environment = ProcessInfo.processInfo.environment
        guard let spec = environment["SAE_FAULT"] else { return nil }
        if let rank = environment["SAE_FAULT_RANK"].flatMap({ Int($0) }), rank != MPIEnvironment.rank(environment) ?? 0 { return nil }
        // A spec that is not NAME@N[:interrupt] (empty, ":", "x@") plans no fault.
        let parts = spec.split(separator: ":")
        guard let first = parts.first else { return nil }
        let target = first.split(separator: "@")
        guard target.count == 2, let n = Int(target[1]), n > 0 else { return nil }
        return (String(target[0]), n, parts.count > 1 && parts[1] == "interrupt" ? SIGINT : SIGKILL)
    }()

    package static func reach(_ name: String) {
        if fires(name) { raise(plan!.signal) }
    }

    /// Whether this is the Nth time the point NAME is reached (for faults other than signals).
    package static func fires(_ name: String) -> Bool {
        guard let plan, plan.name == name else { return false }
        counts[name, default: 0] += 1
        return counts[name] == plan.count
    }
}
