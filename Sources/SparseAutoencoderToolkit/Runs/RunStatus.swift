import SparseAutoencoder

/// Where a run's training stands, as `status.json` spells it.
package enum RunState: String, Codable, CaseIterable, Sendable {
    /// Training has started and not (yet) stopped; also a run killed without warning.
    case training
    /// Stopped by a signal at a step, its checkpoint saved there: `sae train --resume` continues it.
    case interrupted
    /// Stopped by a non-finite loss or weight; the last good checkpoint is kept, resuming is refused.
    case diverged
    case finished

    /// An unfinished run, which `sae train --resume` may continue from its checkpoint.
    package var isUnfinished: Bool { self == .training || self == .interrupted }

    package init(from decoder: Decoder) throws {
        self = try JSONFile.UnknownValue.decode(decoder) {
            "unknown state \"\($0)\" (this sae knows " + Self.allCases.map(\.rawValue).joined(separator: ", ") + ")"
        }
    }
}

/// What a run directory's `status.json` says: `training`, `interrupted`, `diverged` or `finished`.
package struct RunStatus: Codable, Equatable, Sendable {
    package var state: RunState
    /// Where training stopped (epoch and step), for `interrupted` and `diverged`.
    package var epoch: Int?
    package var step: Int?
    package var message: String?

    package init(state: RunState, epoch: Int? = nil, step: Int? = nil, message: String? = nil) {
        self.state = state
        self.epoch = epoch
        self.step = step
        self.message = message
    }
}
