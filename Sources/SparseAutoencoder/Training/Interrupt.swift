#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Ctrl-C, `kill` (SIGTERM) and a closed terminal (SIGHUP) during training: the first one asks
/// training to stop at the next step (which then saves a checkpoint, marks the run interrupted
/// and says how to resume); a second one ends the process at once, as usual. SIGPIPE is ignored,
/// so a closed stdout (`sae train ... | head -1`) never stops a training: writes to it fail quietly.
package enum Interrupt {
    /// The signal that asked to stop (0: none yet).
    nonisolated(unsafe) private static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.pointee = 0
        return p
    }()

    package static func install() {
        _ = flag
        signal(SIGPIPE, SIG_IGN)
        for s in [SIGINT, SIGTERM, SIGHUP] {
            signal(s) { received in
                Interrupt.flag.pointee = received
                signal(received, SIG_DFL)
            }
        }
    }

    /// Whether a stop signal has arrived since `install`.
    package static var requested: Bool { flag.pointee != 0 }

    /// The exit status for the signal that stopped training: 128 + its number (130 for Ctrl-C).
    package static var exitStatus: Int32 { 128 + (flag.pointee == 0 ? SIGINT : flag.pointee) }

    /// The signal's name for messages.
    package static var signalName: String {
        switch flag.pointee {
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "Ctrl-C"
        }
    }
}

/// Deterministic crash points for the resume tests: `SAE_FAULT=NAME@N` kills the process
/// (SIGKILL, as `kill -9` would) the Nth time it reaches the point NAME; `SAE_FAULT=NAME@N:interrupt`
/// sends it SIGINT instead. Points: `step` (after every training step) and `checkpoint-rename`
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
