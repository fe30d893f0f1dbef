import COpenBLAS
import Foundation
import Synchronization

/// A few threads, started once, that run one job in parts: the training step's matrix products
/// (each split by output rows, every part a single-threaded `cblas_sgemm`) and its elementwise
/// loops (loss, activations, Adam, batch gathering).
///
/// Why not OpenBLAS's own threads: they parallelise only the products, and while they spin
/// between products they compete with any other thread, so the elementwise work (a third of an
/// epoch) stayed on one core. With one pool for both, every phase uses every core.
///
/// Results never depend on timing: a part always gets the same range, and partial sums are
/// combined in part order, so training stays bit-for-bit reproducible.
///
///     WorkerPool.shared.split(count) { part, range in ... }   // ranges cover 0..<count
package final class WorkerPool: @unchecked Sendable {
    /// One part per core, at most 8 (these products are too small to split further), or
    /// `SAE_THREADS` parts (at most 64); with more than one, OpenBLAS is made single-threaded (the
    /// pool splits the products instead). `SAE_THREADS=1` leaves all threading to OpenBLAS.
    /// Under MPI, several ranks share a machine: each takes the cores it is bound to, or an
    /// equal share (`MPIEnvironment.defaultThreads`), and OpenBLAS gets no threads of its own.
    /// Under an address-space limit (`ulimit -v`), no more parts than OpenBLAS's buffers fit:
    /// each thread that calls sgemm gets a 128 MiB buffer of its own, and a failed one makes
    /// OpenBLAS retry forever (`sae_openblas_thread_cap`).
    package static let shared: WorkerPool = {
        let requested = ProcessInfo.processInfo.environment["SAE_THREADS"].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let mpiShare = MPIEnvironment.defaultThreads(activeCores: cores, onlineCores: ProcessInfo.processInfo.processorCount)
        let cap = Int(sae_openblas_thread_cap())
        let pool = WorkerPool(parts: min(requested ?? min(mpiShare ?? cores, 8), 64, cap > 0 ? cap : .max))
        let mpi = MPIEnvironment.isLaunched() && ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] == nil
        if pool.parts > 1 || mpi { openblas_set_num_threads(1) }
        return pool
    }()

    let parts: Int

    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let wake = NSCondition()
    private var job: ((Int) -> Void)?

    /// Spins this many times waiting for work before sleeping: jobs come microseconds apart
    /// during training, and a sleeping thread takes tens of microseconds to wake.
    private static let spinLimit = 20_000

    init(parts: Int) {
        self.parts = parts
        for part in 1..<max(parts, 1) {
            let thread = Thread { [unowned self] in self.work(part: part) }
            thread.name = "sae-worker-\(part)"
            thread.start()
        }
    }

    /// Runs `body(part)` for every part in 0..<parts concurrently (part 0 on the caller) and
    /// returns when all are done. A call made while a job runs (nested) runs its parts in turn.
    func run(_ body: (Int) -> Void) {
        guard parts > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for part in 0..<parts { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            job = body
            finished.store(0, ordering: .relaxed)
            wake.lock()
            generation.add(1, ordering: .releasing)
            wake.broadcast()
            wake.unlock()
            body(0)
            while finished.load(ordering: .acquiring) < parts - 1 {}
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// Splits 0..<count into `parts` ranges (boundaries on multiples of `alignment`, so parts do
    /// not share cache lines) and runs `body(part, range)` on each; small counts run on the caller.
    package func split(_ count: Int, alignment: Int = 16, minimumPerPart: Int = 2048, _ body: (Int, Range<Int>) -> Void) {
        let n = min(parts, count / max(minimumPerPart, 1))
        guard n > 1 else {
            body(0, 0..<count)
            return
        }
        let size = (count / n + alignment - 1) / alignment * alignment
        run { part in
            let lo = min(part * size, count), hi = part == n - 1 ? count : min(lo + size, count)
            if part < n && lo < hi { body(part, lo..<hi) }
        }
    }

    private func work(part: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins > Self.spinLimit {
                    wake.lock()
                    while generation.load(ordering: .acquiring) == seen { wake.wait() }
                    wake.unlock()
                }
            }
            seen = generation.load(ordering: .acquiring)
            job?(part)
            finished.add(1, ordering: .releasing)
        }
    }
}
