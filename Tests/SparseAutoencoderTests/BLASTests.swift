import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class BLASTests: XCTestCase {
    /// Every transpose combination against a naive triple loop, with beta accumulating: a small
    /// product (one OpenBLAS call) and one large enough to be split by rows over the worker pool
    /// (odd sizes, so the parts are uneven).
    func testGemmMatchesNaiveProduct() {
        for (m, n, k) in [(7, 5, 9), (203, 37, 45)] {
            XCTAssertEqual(m * n * k >= BLAS.parallelThreshold, m > 7)
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                checkGemm(m: m, n: n, k: k, ta: ta, tb: tb)
            }
        }
    }

    private func checkGemm(m: Int, n: Int, k: Int, ta: Bool, tb: Bool) {
        let a = randomFloats(m * k, seed: 1), b = randomFloats(k * n, seed: 2)
        var c = randomFloats(m * n, seed: 3)
        let c0 = c
        BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: 2, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n, beta: 0.5, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
                XCTAssertEqual(c[i * n + j], 2 * s + 0.5 * c0[i * n + j], accuracy: 1e-3)
            }
        }
    }

    /// The pool's parts cover every index exactly once, in aligned ranges, whatever the count;
    /// a nested call runs its parts on the calling thread.
    func testWorkerPoolSplitsCoverEveryIndexOnce() {
        let pool = WorkerPool(parts: 3)
        for count in [0, 1, 5, 100, 4097, 10_000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                pool.split(count, alignment: 16, minimumPerPart: 64) { _, range in
                    XCTAssertTrue(range.lowerBound % 16 == 0)
                    for i in range { h[i] += 1 }
                }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count), "count \(count)")
        }
        var total = [Int](repeating: 0, count: 3)
        total.withUnsafeMutableBufferPointer { t in
            pool.run { outer in pool.run { inner in if inner == outer { t[outer] += 1 } } }
        }
        XCTAssertEqual(total, [1, 1, 1])
    }

    func testKernelChoiceKeepsTheUsersSettingAndOnlyFixesTheFallback() {
        let avx2: Set<String> = ["sse2", "avx", "avx2", "fma"]
        XCTAssertEqual(BLASKernel.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: avx2), "Haswell")
        XCTAssertNil(BLASKernel.betterCoreType(environment: ["OPENBLAS_CORETYPE": "Prescott"], coreName: "Prescott", cpuFlags: avx2))
        XCTAssertNil(BLASKernel.betterCoreType(environment: [:], coreName: "SkylakeX", cpuFlags: avx2))
        XCTAssertNil(BLASKernel.betterCoreType(environment: [:], coreName: "Prescott", cpuFlags: ["sse2", "avx"]))
    }
}
