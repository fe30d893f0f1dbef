import ArgumentParser
import SparseAutoencoder

/// `--architecture matryoshka`'s option: its nested groups of latents.
struct MatryoshkaOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Matryoshka: the nested groups of latents, first to last, comma-separated: sizes adding up to --code (e.g. 256,768,3072) or fractions adding up to 1 (e.g. 0.0625,0.1875,0.75; the last group takes what rounding leaves).", valueName: "sizes"))
    var groups: String?

    /// Puts the group sizes into `config` (a matryoshka SAE's); refuses them for another architecture.
    func apply(to config: inout AutoencoderConfig) throws {
        guard let groups else { return }
        guard config.architecture == .matryoshka else { throw ValidationError("--groups is Matryoshka's (add --architecture matryoshka)") }
        config.groups = try Self.groupSizes(groups, code: config.codeSize)
    }

    /// "256,768,3072" (sizes) or "0.25,0.75" (fractions of `code`, the last group taking what
    /// rounding leaves) as group sizes.
    static func groupSizes(_ text: String, code: Int) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let bad = ValidationError("--groups takes sizes adding up to --code (e.g. 256,768,3072) or fractions adding up to 1 (e.g. 0.25,0.75), got '\(text)'")
        if parts.allSatisfy({ Int($0) != nil }) {
            let sizes = parts.map { Int($0)! }
            guard sizes.allSatisfy({ $0 > 0 }) else { throw bad }
            return sizes
        }
        let fractions = try parts.map { part -> Double in
            guard let f = Double(part), f > 0, f <= 1 else { throw bad }
            return f
        }
        guard abs(fractions.reduce(0, +) - 1) < 1e-6 else { throw bad }
        let sizes = MatryoshkaGroups.sizes(fractions: fractions, code: code)
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--groups \(text) leaves a group empty at --code \(code): use larger fractions or sizes")
        }
        return sizes
    }
}
