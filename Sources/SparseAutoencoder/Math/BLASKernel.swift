import CKernels
import COpenBLAS
import Foundation

/// Which OpenBLAS kernel runs the matrix products, and a fix for a CPU it does not recognise.
///
/// OpenBLAS picks its kernel once, when the library loads. Debian's OpenBLAS 0.3.21 does not know
/// recent Xeons and falls back to its generic SSE3 kernel ("Prescott"), about 3x slower than
/// the AVX2 one on this model's shapes (measured: 38-46 vs 109-121 GFLOP/s). Since the choice
/// is made before `main` runs, the tool re-executes itself once with `OPENBLAS_CORETYPE=Haswell`
/// (AVX2 + FMA, the kernel the reference machines use). A value the user set is always kept.
package enum BLASKernel {
    /// OpenBLAS's name for the kernel in use, e.g. "Haswell".
    package static var coreName: String { String(cString: openblas_get_corename()) }

    /// Which variant sae's own C kernels run: "x86-64-v3" (AVX2 + FMA) or "baseline" (a CPU
    /// without AVX2, or SAE_KERNELS=baseline; see Sources/CKernels/dispatch.h).
    package static var ownKernels: String { sae_kernels_are_baseline() != 0 ? "baseline" : "x86-64-v3" }

    /// The OpenBLAS library's name and version, e.g. "OpenBLAS 0.3.21" (from its build configuration).
    package static var libraryVersion: String {
        String(cString: openblas_get_config()).split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// The least address space (`ulimit -v`) sae runs in: the program and its libraries, and one
    /// OpenBLAS buffer of 128 MiB for the thread that calls sgemm (OpenBLAS retries a failed one
    /// forever instead of failing).
    package static let minimumAddressSpace = 320 << 20

    /// Refuses, in one line, to start where OpenBLAS cannot work: not installed, or an address-space
    /// limit too small for its buffer. (Above the minimum, the worker pool takes no more threads
    /// than buffers fit, and `MemoryBudget` counts them.)
    package static func checkUsable() throws {
        var error = [CChar](repeating: 0, count: 512)
        guard sae_openblas_load(&error, UInt(error.count)) == 0 else { throw SAEError(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max, Int(clamping: limit.rlim_cur) < minimumAddressSpace {
            throw SAEError("this process may use \(limit.rlim_cur >> 20) MiB of address space (ulimit -v) but sae needs at least "
                + "\(minimumAddressSpace >> 20) MiB (the program, and OpenBLAS's 128 MiB buffer): raise the limit")
        }
    }

    /// The core type to restart with, or nil when the current kernel is fine or was chosen by the user.
    package static func betterCoreType(environment: [String: String] = ProcessInfo.processInfo.environment,
                                      coreName: String = BLASKernel.coreName,
                                      cpuFlags: Set<String> = BLASKernel.cpuFlags()) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil, coreName == "Prescott",
              cpuFlags.isSuperset(of: ["avx2", "fma"]) else { return nil }
        return "Haswell"
    }

    /// The CPU feature flags from /proc/cpuinfo (empty where there is none).
    package static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Re-executes the current program with a better `OPENBLAS_CORETYPE` if there is one.
    /// Returns only if no restart is needed or the restart failed (the run then goes on, slower).
    package static func restartWithBetterKernelIfNeeded() {
        guard let core = betterCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        for p in argv { free(p) }
    }
}
