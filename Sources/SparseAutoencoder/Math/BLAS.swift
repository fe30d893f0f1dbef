import COpenBLAS

/// Row-major single-precision matrix products through OpenBLAS's `cblas_sgemm`.
///
/// Every matrix product in the library goes through this one function, so a change of BLAS
/// (or a profile of where time goes) has one place to look.
enum BLAS {
    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    ///
    /// - Parameters:
    ///   - m, n, k: `op(A)` is (m, k), `op(B)` is (k, n), `C` is (m, n).
    ///   - transA, transB: use the transpose of the stored matrix.
    ///   - a, b, c: storage; leading dimensions are those of the stored (untransposed) layout.
    @inline(__always)
    static func gemm(
        _ transA: Bool, _ transB: Bool,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
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
