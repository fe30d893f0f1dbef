import CMPI
import Foundation

/// The processes one training run is spread over, and the few collective operations the trainer
/// needs: in-place sums and maxima over every rank (MPI_Allreduce) and a barrier.
///
/// A plain run has one rank (`Communicator.single`), and every operation is the identity: no MPI
/// anywhere. Under `mpirun` (or `srun`), `Communicator.launch()` opens Open MPI's `libmpi.so.40`
/// with `dlopen` (see `Sources/CMPI`): sae is built without MPI and a plain run never loads it.
///
/// Errors are returned, not fatal (MPI_ERRORS_RETURN): a failed call throws an `SAEError` naming
/// the call, the rank and MPI's reason.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Whether the operations go through MPI (false: one process, operations are the identity).
    package let usesMPI: Bool
    /// The library MPI_Get_library_version names, e.g. "Open MPI v4.1.4" (empty without MPI).
    package let libraryVersion: String

    public var isRoot: Bool { rank == 0 }
    /// More than one rank: the trainer splits batches and reduces over them.
    public var isDistributed: Bool { size > 1 }

    /// One process, no MPI.
    public static let single = Communicator(rank: 0, size: 1, usesMPI: false, libraryVersion: "")

    private init(rank: Int, size: Int, usesMPI: Bool, libraryVersion: String) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
        self.libraryVersion = libraryVersion
    }

    // MARK: - Launch

    nonisolated(unsafe) private static var launched: Communicator?

    /// The communicator of this process: MPI's world when `MPIEnvironment.isLaunched` (mpirun,
    /// srun or SAE_MPI=1), else `single`. MPI is initialised once; later calls return the same.
    public static func launch(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Communicator {
        if let launched { return launched }
        guard MPIEnvironment.isLaunched(environment) else {
            launched = .single
            return .single
        }
        let library = environment["SAE_MPI_LIBRARY"] ?? "libmpi.so.40"
        var error = [CChar](repeating: 0, count: 1024)
        guard sae_mpi_load(library, &error, error.count) == 0 else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SAEError("sae was started by an MPI launcher (\(MPIEnvironment.launcherDescription(environment))) but cannot load Open MPI "
                + "(\(reason)): install it (apt-get install openmpi-bin), point SAE_MPI_LIBRARY at its libmpi.so.40, or run without mpirun")
        }
        var rank: Int32 = 0, size: Int32 = 0
        let code = sae_mpi_init(&rank, &size)
        guard code == 0 else { throw SAEError("MPI_Init_thread failed: \(errorString(code))") }
        var version = [CChar](repeating: 0, count: 256)
        sae_mpi_library_version(&version, Int32(version.count))
        let communicator = Communicator(rank: Int(rank), size: Int(size), usesMPI: true,
                                        libraryVersion: String(decoding: version.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        launched = communicator
        if let expected = MPIEnvironment.expectedSize(environment), expected != communicator.size {
            throw SAEError("the launcher started \(expected) processes but Open MPI sees \(communicator.size) in MPI_COMM_WORLD: "
                + "sae uses Open MPI's libmpi.so.40, so launch it with Open MPI's mpirun (or srun --mpi=pmix), not another MPI's")
        }
        return communicator
    }

    /// MPI_Finalize (nothing without MPI). Call once, after the last collective operation.
    public func finalize() {
        if usesMPI { _ = sae_mpi_finalize() }
    }

    /// Ends every rank at once (MPI_Abort); for an error on one rank that the others cannot know of.
    package func abort(status: Int32) -> Never {
        if usesMPI { sae_mpi_abort(status) }
        exit(status)
    }

    // MARK: - Collective operations (every rank must call them, in the same order)

    package enum Operation: Int32 { case sum = 0, max = 1, min = 2 }

    /// In place: every rank's `buffer` becomes the elementwise `operation` over the ranks.
    package func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int, _ operation: Operation = .sum) throws {
        guard usesMPI, count > 0 else { return }
        try check(sae_mpi_allreduce_float(buffer, count, operation.rawValue), "MPI_Allreduce")
    }

    package func allReduce(_ buffer: UnsafeMutablePointer<Double>, count: Int, _ operation: Operation = .sum) throws {
        guard usesMPI, count > 0 else { return }
        try check(sae_mpi_allreduce_double(buffer, count, operation.rawValue), "MPI_Allreduce")
    }

    package func allReduce(_ values: inout [Double], _ operation: Operation = .sum) throws {
        let count = values.count
        try values.withUnsafeMutableBufferPointer { try allReduce($0.baseAddress!, count: count, operation) }
    }

    public func barrier() throws {
        guard usesMPI else { return }
        try check(sae_mpi_barrier(), "MPI_Barrier")
    }

    /// Every rank's `bytes` bytes at `send`, into `receive` (size x bytes, rank r's at r x bytes).
    package func allGather(_ send: UnsafeRawPointer, bytes: Int, into receive: UnsafeMutableRawPointer) throws {
        guard usesMPI else { return receive.copyMemory(from: send, byteCount: bytes) }
        guard bytes < Int(Int32.max) else { throw SAEError("MPI_Allgather of \(bytes) bytes per rank is over MPI's 2 GiB limit: use a smaller batch") }
        try check(sae_mpi_allgather_bytes(send, receive, bytes), "MPI_Allgather")
    }

    /// Rank 0's `text` on every rank (at most 4,095 bytes of UTF-8).
    package func broadcast(_ text: String) throws -> String {
        guard usesMPI else { return text }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let utf8 = Array(text.utf8.prefix(4095))
        if isRoot { bytes.replaceSubrange(0..<utf8.count, with: utf8) }
        try check(sae_mpi_bcast_bytes(&bytes, bytes.count), "MPI_Bcast")
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Every rank's `values` (the same count on every rank), indexed by rank: an all-gather made
    /// of one all-reduce (each rank fills its own slot, zeros elsewhere, sums are then exact).
    package func gather(_ values: [Double]) throws -> [[Double]] {
        guard isDistributed else { return [values] }
        let k = values.count
        var slots = [Double](repeating: 0, count: k * size)
        for (i, v) in values.enumerated() { slots[rank * k + i] = v }
        try allReduce(&slots)
        return (0..<size).map { Array(slots[($0 * k)..<($0 * k + k)]) }
    }

    /// `gather` of one or two values a rank, without allocating (for what every training step
    /// exchanges): `body` reads every rank's `count` values, rank by rank, from a buffer on the stack.
    package func withGathered<R>(_ a: Double, _ b: Double = 0, count k: Int, _ body: (UnsafeBufferPointer<Double>) -> R) throws -> R {
        precondition(k == 1 || k == 2)
        return try withUnsafeTemporaryAllocation(of: Double.self, capacity: k * size) { slots in
            slots.initialize(repeating: 0)
            slots[rank * k] = a
            if k == 2 { slots[rank * k + 1] = b }
            try allReduce(slots.baseAddress!, count: k * size)
            return body(UnsafeBufferPointer(slots))
        }
    }

    /// The sum of one value a rank over the ranks before this one, without allocating.
    package func sumBefore(_ value: Double) throws -> Double {
        try withGathered(value, count: 1) { $0.prefix(rank).reduce(0, +) }
    }

    /// Collective: whether any rank failed. Every rank passes its own error (or nil); if any rank
    /// has one, every rank throws a `DistributedStop`. A message is printed once: by rank 0 when
    /// every rank failed alike, else by rank 0 if it failed and by each failing rank (named) whose
    /// error is not rank 0's; the ranks that did not fail stop silently.
    package func agree(_ error: Error?) throws {
        guard isDistributed else {
            if let error { throw error }
            return
        }
        let message = error.map { ($0 as? SAEError)?.message ?? ($0 as? DistributedStop)?.message ?? "\($0)" }
        let all = try gather([message == nil ? 0 : 1, message.map { Double(Self.fingerprint($0)) } ?? 0])
        let failed = all.indices.filter { all[$0][0] != 0 }
        guard !failed.isEmpty else { return }
        if let message {
            let alike = failed.count == size && all.allSatisfy { $0[1] == all[0][1] }
            if alike { throw DistributedStop(message: message, reportsHere: isRoot) }
            let differs = all[0][0] == 0 || all[0][1] != all[rank][1]
            throw DistributedStop(message: "rank \(rank): " + message, reportsHere: isRoot || differs)
        }
        let names = failed.count == 1 ? "rank \(failed[0])" : "ranks " + failed.map(String.init).joined(separator: ", ")
        throw DistributedStop(message: "\(names) failed; every rank stopped", reportsHere: false)
    }

    /// 53 bits of FNV-1a of `text` (exact as a Double).
    package static func fingerprint(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash >> 11
    }

    /// Runs `body` on every rank and agrees on its success (see `agree`).
    package func agree<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: Error?
        do { result = try body() } catch { failure = error }
        try agree(failure)
        return result!
    }

    /// The part of `0..<count` this rank takes when `count` items are split into contiguous
    /// slices in rank order, sizes differing by at most one (the first `count % size` ranks get
    /// the extra one).
    package func slice(of count: Int) -> Range<Int> { Self.slice(of: count, rank: rank, size: size) }

    package static func slice(of count: Int, rank: Int, size: Int) -> Range<Int> {
        let base = count / size, extra = count % size
        let lower = rank * base + min(rank, extra)
        return lower..<(lower + base + (rank < extra ? 1 : 0))
    }

    private func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        throw SAEError("\(call) failed on rank \(rank) of \(size): \(Self.errorString(code)) (another rank probably died; mpirun names it)")
    }

    static func errorString(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: 512)
        sae_mpi_error_string(code, &text, Int32(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An error every rank knows of (each stops with it); `reportsHere` says whether this rank prints
/// it, so that a message is printed once: by the rank it happened on, or by rank 0.
package struct DistributedStop: Error, CustomStringConvertible, Sendable {
    package let message: String
    package let reportsHere: Bool

    package init(message: String, reportsHere: Bool) {
        self.message = message
        self.reportsHere = reportsHere
    }

    package var description: String { message }
}

/// What the environment says about an MPI launch, before MPI is initialised (the worker pool
/// and the fault injection read it early).
package enum MPIEnvironment {
    /// Launched by Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMIx launcher such as srun
    /// --mpi=pmix or prterun (PMIX_RANK), or asked for with SAE_MPI=1; SAE_MPI=0 turns MPI off.
    package static func isLaunched(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if let flag = environment["SAE_MPI"] { return flag != "0" }
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil
    }

    /// The number of processes the launcher says it started, if it says.
    package static func expectedSize(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        (environment["OMPI_COMM_WORLD_SIZE"] ?? environment["PMI_SIZE"] ?? environment["SLURM_STEP_NUM_TASKS"]).flatMap { Int($0) }
    }

    /// This process's rank as the launcher set it (nil when not launched by MPI).
    package static func rank(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard isLaunched(environment) else { return nil }
        return (environment["OMPI_COMM_WORLD_RANK"] ?? environment["PMIX_RANK"] ?? environment["PMI_RANK"] ?? environment["SLURM_PROCID"]).flatMap { Int($0) }
    }

    /// Whether the job runs several programs (MPMD: `mpirun -np 1 a : -np 1 b`), as far as the
    /// launcher says (Open MPI's OMPI_NUM_APP_CTX).
    package static func isMultipleProgram(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        isLaunched(environment) && (environment["OMPI_NUM_APP_CTX"].flatMap { Int($0) } ?? 1) > 1
    }

    /// The number of ranks on this machine (nil when unknown or not launched by MPI).
    package static func localSize(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard isLaunched(environment) else { return nil }
        if let n = (environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? environment["MPI_LOCALNRANKS"]).flatMap({ Int($0) }) { return n }
        // Slurm: "2(x4),1" = 2 tasks on each of the first four nodes, then 1.
        return environment["SLURM_STEP_TASKS_PER_NODE"].flatMap { Int($0.prefix { $0.isNumber }) }
    }

    static func launcherDescription(_ environment: [String: String]) -> String {
        if let flag = environment["SAE_MPI"] { return "SAE_MPI=\(flag)" }
        if let n = environment["OMPI_COMM_WORLD_SIZE"] { return "OMPI_COMM_WORLD_SIZE=\(n)" }
        return "PMIX_RANK=\(environment["PMIX_RANK"] ?? "?")"
    }

    /// Threads per rank when SAE_THREADS is not set: the cores this rank is bound to (mpirun binds
    /// each of up to two ranks to a core), or, unbound, an equal share of the machine's cores.
    static func defaultThreads(activeCores: Int, onlineCores: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard let local = localSize(environment), local > 1 else { return nil }
        return activeCores < onlineCores ? activeCores : max(1, onlineCores / local)
    }
}
