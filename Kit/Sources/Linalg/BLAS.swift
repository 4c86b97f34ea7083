// SPDX-License-Identifier: Apache-2.0
import CBLAS

/// Row-major single-precision GEMM and thread control, through OpenBLAS.
///
/// Every dense product in the engine goes through here so that time spent outside
/// OpenBLAS is easy to see in a profile.
public enum BLAS {
    /// Sets the number of threads OpenBLAS uses for every later call in the process.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "thread count must be at least 1; found \(count)")
        openblas_set_num_threads(Int32(count))
    }

    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    ///
    /// `op(A)` is `(m, k)` and `op(B)` is `(k, n)`; `lda`, `ldb`, `ldc` are row strides
    /// of the matrices as stored (before the transpose).
    @inlinable
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// A batch of `count` equally shaped products whose operands lie `strideA`,
    /// `strideB`, `strideC` floats apart (attention heads, per-sample products).
    @inlinable
    public static func sgemmStridedBatched(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
        count: Int
    ) {
        for i in 0..<count {
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                  a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                  beta: beta, c: c + i * strideC, ldc: ldc)
        }
    }
}
