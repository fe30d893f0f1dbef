#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time spent in each phase of training, for `sae bench`. Passing no timer (the
/// default everywhere) costs one nil check per phase.
package final class PhaseTimer {
    package enum Phase: Int, CaseIterable, Sendable {
        case data, forward, loss, backward, optimizer, validation

        package var name: String {
            switch self {
            case .data: "data (gather + scale)"
            case .forward: "forward"
            case .loss: "loss + its gradient"
            case .backward: "backward"
            case .optimizer: "optimizer (Adam)"
            case .validation: "validation"
            }
        }
    }

    package private(set) var seconds = [Double](repeating: 0, count: Phase.allCases.count)
    private var last: UInt64 = 0

    package init() {}

    /// Starts timing the next phase.
    @inline(__always)
    package func start() { last = Self.now() }

    /// Adds the time since the previous mark (or `start`) to `phase`.
    @inline(__always)
    package func mark(_ phase: Phase) {
        let t = Self.now()
        seconds[phase.rawValue] += Double(t &- last) * 1e-9
        last = t
    }

    @inline(__always)
    package static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
