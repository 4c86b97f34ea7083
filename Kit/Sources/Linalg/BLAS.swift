// SPDX-License-Identifier: Apache-2.0
import CBLAS
import Synchronization

/// Row-major single-precision GEMM and thread control, through OpenBLAS.
///
/// Every dense product in the engine goes through here so that time spent outside
/// OpenBLAS is easy to see in a profile.
public enum BLAS {
    /// The configured thread count and whether a ``concurrentChunks(_:minimumChunk:_:)``
    /// region is running (OpenBLAS is then held at one thread).
    private struct ThreadState {
        var configured: Int
        var inConcurrentRegion = false
    }

    /// Starts from OpenBLAS's own default (the core count, or `OPENBLAS_NUM_THREADS`).
    private static let threadState = Mutex(ThreadState(configured: Int(openblas_get_num_threads())))

    /// Sets the number of threads for every later call in the process: OpenBLAS's and the
    /// engine's own kernels' (``concurrentChunks(_:minimumChunk:_:)``).
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "thread count must be at least 1; found \(count)")
        threadState.withLock { state in
            state.configured = count
            if !state.inConcurrentRegion { openblas_set_num_threads(Int32(count)) }
        }
    }

    /// The configured thread count.
    public static var threadCount: Int { threadState.withLock { $0.configured } }

    /// Claims the cores for a concurrent region; false when another region holds them.
    static func enterConcurrentRegion() -> Bool {
        threadState.withLock { state in
            guard !state.inConcurrentRegion else { return false }
            state.inConcurrentRegion = true
            openblas_set_num_threads(1)
            return true
        }
    }

    static func leaveConcurrentRegion() {
        threadState.withLock { state in
            state.inConcurrentRegion = false
            openblas_set_num_threads(Int32(state.configured))
        }
    }

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
    ///
    /// The products are split across cores, each run single-threaded: they are usually
    /// too small for OpenBLAS to split well itself. Each product is computed as it would
    /// be alone, so the result does not depend on the thread count.
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
        nonisolated(unsafe) let a = a, b = b, c = c
        concurrentChunks(count, minimumChunk: 1) { products in
            for i in products {
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                      a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                      beta: beta, c: c + i * strideC, ldc: ldc)
            }
        }
    }
}
