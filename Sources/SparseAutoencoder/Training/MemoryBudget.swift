import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a training run will allocate, checked against what this process may use before anything
/// is allocated or written, so that a model too large for the machine is refused with the figures
/// instead of dying in an allocation with an empty run directory behind it.
///
///     try MemoryBudget.check(config.model, batchSize: 256, evaluationBatchSize: 256)
package enum MemoryBudget {
    /// Bytes of the parameters, their gradients and Adam's two moments (16 per parameter), one
    /// batch's workspace (activations, their gradients, the sparse step's or AuxK's buffers) and
    /// the final evaluation's workspace (0 rows: none). The evaluation keeps no codes (their
    /// statistics are gathered batch by batch) and checkpoints are streamed from the weights.
    package static func trainingBytes(_ config: AutoencoderConfig, batchSize: Int, evaluationBatchSize: Int) -> Int {
        workspaceBytes(config, batchSize: batchSize) &+ workspaceBytes(config, batchSize: evaluationBatchSize)
            &+ 16 &* config.layerShapes.reduce(0) { $0 &+ $1.inputSize &* $1.outputSize &+ $1.outputSize }
    }

    /// Bytes of an evaluation of the whole model: its weights (4 per parameter) and a workspace.
    package static func evaluationBytes(_ config: AutoencoderConfig, batchSize: Int) -> Int {
        workspaceBytes(config, batchSize: batchSize) &+ 4 &* config.layerShapes.reduce(0) { $0 &+ $1.inputSize &* $1.outputSize &+ $1.outputSize }
    }

    /// A workspace of `b` rows (upper bounds).
    private static func workspaceBytes(_ config: AutoencoderConfig, batchSize b: Int) -> Int {
        guard b > 0 else { return 0 }
        let shapes = config.layerShapes
        // (d: the wider of the input and the output, for a transcoder's targets as well)
        let (d, c) = (max(config.inputSize, config.targetSize) &* (config.isTranscoder ? 2 : 1), config.codeSize)
        let widths = shapes.reduce(0) { $0 &+ $1.outputSize }
        let pairs = b &* ((config.topK ?? 0) &+ (config.auxK?.k ?? 0))
        // input, outputs and deltas, the centring, AuxK's or the sparse step's buffers (upper bounds)
        // (pairs: value, latent, sample and grouping order each; BatchTopK: its bucket counts per part)
        let workspace = b &* (2 &* d &+ 2 &* widths &+ 3 &* c &+ 7 &* d) &+ 4 &* pairs &+ (config.architecture.takesK ? 8 &* 32_768 : 0) &+ (config.auxK != nil ? c &* d : 0)
        return 4 &* workspace
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
            // The address space also holds the program, its libraries and thread stacks, and a
            // 128 MiB OpenBLAS buffer for every thread that calls sgemm (`WorkerPool.shared`).
            limits.append(max(0, Int(clamping: rl.rlim_cur) - 256 << 20 - WorkerPool.shared.parts * (128 << 20)))
        }
        return limits.min()!
    }

    /// Refuses a run that would not fit, with both figures and what to change.
    package static func check(_ config: AutoencoderConfig, batchSize: Int, evaluationBatchSize: Int) throws {
        let needed = trainingBytes(config, batchSize: batchSize, evaluationBatchSize: evaluationBatchSize)
        let available = availableBytes()
        guard needed > available else { return }
        let parameters = config.layerShapes.reduce(0) { $0 &+ $1.inputSize &* $1.outputSize &+ $1.outputSize }
        var rl = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &rl) == 0, rl.rlim_cur != rlim_t.max, available < 256 << 20 {
            throw SAEError("this model needs about \(gigabytes(needed)) to train but the address-space limit (ulimit -v, \(rl.rlim_cur >> 20) MiB) "
                + "leaves \(gigabytes(available)) after the program (256 MiB) and OpenBLAS's buffers (\(WorkerPool.shared.parts) x 128 MiB): raise the limit")
        }
        throw SAEError("this model needs about \(gigabytes(needed)) to train (\(parameters) parameters, each with its gradient and Adam's two moments, "
            + "plus a batch of \(batchSize) and the final evaluation) but this process may use \(gigabytes(available)); "
            + "choose a smaller --code or --hidden, or a smaller --batch-size"
            + ((try? LatentShard(rank: 0, ranks: 2, config: config)) != nil ? ", or split the latents over MPI ranks (mpirun -np N sae train ... --shard-latents)" : ""))
    }

    /// Refuses a latent shard that would not fit: its part's training (its latents, the whole
    /// batch), or on rank 0 the whole model's final evaluation (run once the shard is let go).
    package static func check(shard: LatentShard, batchSize: Int) throws {
        let training = trainingBytes(shard.local, batchSize: batchSize, evaluationBatchSize: 0)
        let evaluation = shard.rank == 0 ? evaluationBytes(shard.full, batchSize: batchSize) : 0
        let available = availableBytes()
        guard max(training, evaluation) > available else { return }
        if training > available {
            throw SAEError("rank \(shard.rank)'s shard (\(shard.latents.count) of \(shard.full.codeSize) latents) needs about \(gigabytes(training)) to train "
                + "with batches of \(batchSize), but this process may use \(gigabytes(available)): use more ranks, or a smaller --batch-size")
        }
        throw SAEError("rank 0 evaluates the whole model at the end, which needs about \(gigabytes(evaluation)) (its weights and a batch of \(batchSize)), "
            + "but this process may use \(gigabytes(available)): give rank 0 more memory, or use a smaller --batch-size")
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.2f GB", Double(bytes) / 1e9) }

    private static func readNumber(_ path: String) -> Int? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
}
