import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a training run will allocate, checked against what this process may use before anything
/// is allocated or written, so that a model too large for the machine is refused with the figures
/// instead of dying in an allocation with an empty run directory behind it.
///
///     try MemoryBudget.check(config.model, batchSize: 256, validationSamples: 10_000)
package enum MemoryBudget {
    /// Bytes of the parameters, their gradients and Adam's two moments (16 per parameter), one
    /// batch's workspace (activations, their gradients, the sparse step's or AuxK's buffers) and
    /// the final evaluation's codes (validation samples x code size).
    package static func trainingBytes(_ config: AutoencoderConfig, batchSize: Int, validationSamples: Int) -> Int {
        let shapes = config.layerShapes
        let parameters = shapes.reduce(0) { $0 &+ $1.inputSize &* $1.outputSize &+ $1.outputSize }
        let (d, c, b) = (config.inputSize, config.codeSize, batchSize)
        let widths = shapes.reduce(0) { $0 &+ $1.outputSize }
        let pairs = b &* ((config.topK ?? 0) &+ (config.auxK?.k ?? 0))
        // input, outputs and deltas, the centring, AuxK's or the sparse step's buffers (upper bounds)
        let workspace = b &* (2 &* d &+ 2 &* widths &+ 3 &* c &+ 7 &* d) &+ 3 &* pairs &+ (config.auxK != nil ? c &* d : 0)
        return 16 &* parameters &+ 4 &* workspace &+ 4 &* validationSamples &* c
    }

    /// What this process may allocate: the smallest of the memory the system has available, the
    /// cgroup's limit less its usage (containers, systemd), and the address-space rlimit (`ulimit -v`).
    package static func availableBytes() -> Int {
        var limits: [Int] = []
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = Int(line.split(separator: " ").dropFirst().first ?? "") {
            limits.append(kb * 1024)
        } else {
            limits.append(Int(clamping: ProcessInfo.processInfo.physicalMemory))
        }
        for (maxFile, currentFile) in [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                       ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")] {
            guard let limit = readNumber(maxFile), limit < Int.max / 2 else { continue }
            limits.append(max(0, limit - (readNumber(currentFile) ?? 0)))
        }
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max {
            // The address space also holds the program, its libraries and thread stacks.
            limits.append(max(0, Int(clamping: rl.rlim_cur) - 256 << 20))
        }
        return limits.min()!
    }

    /// Refuses a run that would not fit, with both figures and what to change.
    package static func check(_ config: AutoencoderConfig, batchSize: Int, validationSamples: Int) throws {
        let needed = trainingBytes(config, batchSize: batchSize, validationSamples: validationSamples)
        let available = availableBytes()
        guard needed > available else { return }
        let parameters = config.layerShapes.reduce(0) { $0 &+ $1.inputSize &* $1.outputSize &+ $1.outputSize }
        throw SAEError("this model needs about \(gigabytes(needed)) to train (\(parameters) parameters, each with its gradient and Adam's two moments, "
            + "plus a batch of \(batchSize) and the final evaluation) but this process may use \(gigabytes(available)); "
            + "choose a smaller --code or --hidden, or a smaller --batch-size")
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }

    private static func readNumber(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
