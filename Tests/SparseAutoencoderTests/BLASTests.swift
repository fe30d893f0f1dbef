import XCTest
@testable import SparseAutoencoder

final class BLASTests: XCTestCase {
    /// Every transpose combination against a naive triple loop, with beta accumulating.
    func testGemmMatchesNaiveProduct() {
        let m = 7, n = 5, k = 9
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomFloats(m * k, seed: 1), b = randomFloats(k * n, seed: 2)
            var c = randomFloats(m * n, seed: 3)
            let c0 = c
            BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: 2, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n, beta: 0.5, c: &c, ldc: n)
            for i in 0..<m {
                for j in 0..<n {
                    var s: Float = 0
                    for p in 0..<k { s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
                    XCTAssertEqual(c[i * n + j], 2 * s + 0.5 * c0[i * n + j], accuracy: 1e-4)
                }
            }
        }
    }

    func testKernelChoiceKeepsTheUsersSettingAndOnlyFixesTheFallback() {
        let avx2: Set<String> = ["sse2", "avx", "avx2", "fma"]
        XCTAssertEqual(BLASKernel.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: avx2), "Haswell")
        XCTAssertNil(BLASKernel.betterCoreType(environment: ["OPENBLAS_CORETYPE": "Prescott"], coreName: "Prescott", cpuFlags: avx2))
        XCTAssertNil(BLASKernel.betterCoreType(environment: [:], coreName: "SkylakeX", cpuFlags: avx2))
        XCTAssertNil(BLASKernel.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: ["sse2", "avx"]))
    }
}
