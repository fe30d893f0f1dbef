/// What a run directory's `status.json` says: `training`, `interrupted`, `diverged` or `finished`.
public struct RunStatus: Codable, Equatable, Sendable {
    public var state: String
    /// Where training stopped (epoch and step), for `interrupted` and `diverged`.
    public var epoch: Int?
    public var step: Int?
    public var message: String?

    public init(state: String, epoch: Int? = nil, step: Int? = nil, message: String? = nil) {
        self.state = state
        self.epoch = epoch
        self.step = step
        self.message = message
    }
}
