#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Ctrl-C during training: the first SIGINT asks training to stop at the next step (which then
/// saves a checkpoint); a second one ends the process at once, as usual.
public enum Interrupt {
    nonisolated(unsafe) private static let flag: UnsafeMutablePointer<sig_atomic_t> = {
        let p = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        p.pointee = 0
        return p
    }()

    public static func install() {
        _ = flag
        signal(SIGINT) { _ in
            Interrupt.flag.pointee = 1
            signal(SIGINT, SIG_DFL)
        }
    }

    /// Whether a SIGINT has arrived since `install`.
    public static var requested: Bool { flag.pointee != 0 }
}

/// Deterministic crash points for the resume tests: `SAE_FAULT=NAME@N` kills the process
/// (SIGKILL, as `kill -9` would) the Nth time it reaches the point NAME; `SAE_FAULT=NAME@N:interrupt`
/// sends it SIGINT instead. Points: `step` (after every training step) and `checkpoint-rename`
/// (a checkpoint is written to its temporary file but not yet renamed into place).
/// Without the variable, each point is a dictionary look-up that finds nothing.
public enum FaultInjection {
    nonisolated(unsafe) private static var counts: [String: Int] = [:]
    private static let plan: (name: String, count: Int, signal: Int32)? = {
        guard let spec = ProcessInfo.processInfo.environment["SAE_FAULT"] else { return nil }
        let parts = spec.split(separator: ":")
        let target = parts[0].split(separator: "@")
        guard target.count == 2, let n = Int(target[1]) else { return nil }
        return (String(target[0]), n, parts.count > 1 && parts[1] == "interrupt" ? SIGINT : SIGKILL)
    }()

    public static func reach(_ name: String) {
        guard let plan, plan.name == name else { return }
        counts[name, default: 0] += 1
        if counts[name] == plan.count { raise(plan.signal) }
    }
}
