import XCTest
@testable import SparseAutoencoder

/// OpenBLAS is opened at run time (`Sources/COpenBLAS`): under an address-space limit the tool
/// refuses in one line or runs with as many threads as OpenBLAS's buffers fit, never spinning
/// (a linked OpenBLAS spun in its load-time constructor, before main); a missing OpenBLAS is a
/// one-line error.
final class AddressSpaceTests: XCTestCase {
    /// Runs `sae arguments` under `ulimit -v kilobytes`, killed after 60 s (a hang fails the test).
    private func underLimit(_ kilobytes: Int, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let sae = try builtExecutable("sae")
        let quoted = ([sae] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try runProcess("/bin/bash", ["-c", "ulimit -v \(kilobytes) && exec timeout 60 \(quoted)"])
    }

    func testALimitTooSmallIsRefusedAndALargerOneRuns() throws {
        let small = try underLimit(150_000, ["--version"])
        XCTAssertEqual(small.status, 1, small.output)
        XCTAssertTrue(small.output.contains("may use 146 MiB of address space (ulimit -v) but sae needs at least 320 MiB"), small.output)
        XCTAssertEqual(small.output.split(separator: "\n").count, 1, small.output)

        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(600 * 8, seed: 1), rows: 600, cols: 8, to: dir + "/x.npy")
        let trained = try underLimit(600_000, ["train", "--data-npy", dir + "/x.npy", "--code", "32", "--k", "4", "--epochs", "1", "--out", dir + "/run"])
        XCTAssertEqual(trained.status, 0, trained.output)
        let encoded = try underLimit(600_000, ["encode", dir + "/run", "--npy", dir + "/x.npy", "--out", dir + "/codes.npy"])
        XCTAssertEqual(encoded.status, 0, encoded.output)
        // A model whose budget the limit leaves no room for: the memory refusal, naming the limit.
        let big = try underLimit(450_000, ["train", "--data-npy", dir + "/x.npy", "--code", "200000", "--k", "4", "--epochs", "1", "--out", dir + "/big"])
        XCTAssertEqual(big.status, 1, big.output)
        XCTAssertTrue(big.output.contains("address-space limit (ulimit -v"), big.output)
    }

    func testAMissingOpenBLASIsOneLine() throws {
        let r = try runSAE(["--version"], environment: ["SAE_OPENBLAS_LIBRARY": "libopenblas-missing.so.0"])
        assertCommandFails(r, mentioning: "cannot load OpenBLAS (libopenblas-missing.so.0")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        let ldd = try runProcess("/usr/bin/env", ["ldd", try builtExecutable("sae")])
        XCTAssertFalse(ldd.output.contains("libopenblas"), "opened at run time, not linked: \(ldd.output)")
    }
}
