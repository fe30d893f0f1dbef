import COpenBLAS

/// Row-major single-precision matrix products through OpenBLAS's `cblas_sgemm`.
///
/// Every matrix product in the library goes through this one function, so a change of BLAS
/// (or a profile of where time goes) has one place to look. Products are split by rows of C
/// over the `WorkerPool`'s threads, each part a single-threaded OpenBLAS call (OpenBLAS's own
/// threads are switched off when the pool has more than one part).
package enum BLAS {
    /// Products smaller than this many multiply-adds run on the calling thread.
    static let parallelThreshold = 1 << 16

    /// Off while `withOpenBLASThreads` runs: products then go to OpenBLAS whole.
    nonisolated(unsafe) private static var splitsProducts = true

    /// Runs `body` with OpenBLAS's own threads (one per pool part) doing every product instead of
    /// the pool: how `sae bench` checks that its sgemm floor is the faster of the two ways.
    package static func withOpenBLASThreads<T>(_ body: () throws -> T) rethrows -> T {
        let before = openblas_get_num_threads()
        openblas_set_num_threads(max(Int32(WorkerPool.shared.parts), before))
        splitsProducts = false
        defer {
            splitsProducts = true
            openblas_set_num_threads(before)
        }
        return try body()
    }

    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    ///
    /// - Parameters:
    ///   - m, n, k: `op(A)` is (m, k), `op(B)` is (k, n), `C` is (m, n).
    ///   - transA, transB: use the transpose of the stored matrix.
    ///   - a, b, c: storage; leading dimensions are those of the stored (untransposed) layout.
    @inline(__always)
    package static func gemm(
        _ transA: Bool, _ transB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let pool = WorkerPool.shared
        guard splitsProducts, pool.parts > 1, m >= 32, m * n * k >= parallelThreshold else {
            single(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // Rows i0..<i1 of C need rows i0..<i1 of op(A): at a + i0 * lda, or columns of the stored
        // A (a + i0) when it is transposed.
        pool.split(m, alignment: 8, minimumPerPart: 16) { _, rows in
            single(transA, transB, m: rows.count, n: n, k: k, alpha: alpha,
                   a: transA ? a + rows.lowerBound : a + rows.lowerBound * lda, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    }

    @inline(__always)
    private static func single(
        _ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }
}
