// SPDX-License-Identifier: Apache-2.0
import CBLAS
import CSGEMM
import Synchronization

/// Row-major single-precision GEMM and thread control.
///
/// Every dense product in the engine goes through here so that time spent outside the
/// GEMM kernels is easy to see in a profile. On a CPU with AVX-512F the products run on
/// the engine's own kernel (`CSGEMM`): the OpenBLAS build this project links runs its
/// AVX2 kernels there, at half of what a core with full-width 512-bit units can do.
/// Elsewhere they go to OpenBLAS.
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

    /// Whether products run on the AVX-512 kernel: on a CPU with AVX-512F, unless
    /// turned off with ``setUsesAVX512Kernel(_:)``.
    public static var usesAVX512Kernel: Bool { dptune_sgemm_available() != 0 }

    /// Turns the AVX-512 kernel off or back on for the whole process, so that a benchmark
    /// can measure OpenBLAS on the same machine.
    public static func setUsesAVX512Kernel(_ on: Bool) { dptune_sgemm_allow(on ? 1 : 0) }

    /// `C = alpha * op(A) * op(B) + beta * C`, all row-major.
    ///
    /// `op(A)` is `(m, k)` and `op(B)` is `(k, n)`; `lda`, `ldb`, `ldc` are row strides
    /// of the matrices as stored (before the transpose).
    ///
    /// On the AVX-512 kernel the rows of C are split across the configured threads, and
    /// every entry is one sum over `k` in order, so the result is the same for every
    /// thread count and every split of the rows (a piece of a batch gets the bits it
    /// would get inside the whole batch). OpenBLAS gives neither guarantee.
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
        if usesAVX512Kernel {
            nonisolated(unsafe) let b = b
            splitRows(transA: transA, m: m, n: n, k: k, a: a, lda: lda, c: c, ldc: ldc) { rows, a, c in
                dptune_sgemm(transA ? 1 : 0, transB ? 1 : 0, rows, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            }
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transA ? CblasTrans : CblasNoTrans,
            transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }

    /// `C = alpha * op(A) * op(B) + beta * C` with `op(B)` a ``PackedOperand``, or
    /// `C = alpha * op(A) * op(B) + bias` (every row) when a `bias` of `n` floats is given.
    ///
    /// On the kernel the bias is added in the product's last step rather than written
    /// into C first and read back; elsewhere C's rows are set to the bias and the product
    /// accumulates onto them. Both sum the same terms in the same order.
    public static func sgemm(
        transA: Bool = false, m: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: PackedOperand,
        bias: UnsafePointer<Float>? = nil,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        precondition(bias == nil || beta == 0, "a bias replaces beta · C; beta must be 0 with one")
        guard usesAVX512Kernel, let packed = b.panels else {
            if let bias {
                let n = b.n
                nonisolated(unsafe) let c = c, bias = bias
                concurrentChunks(m, minimumChunk: minimumRowsPerChunk(width: n)) { rows in
                    for row in rows { (c + row * ldc).update(from: bias, count: n) }
                }
            }
            sgemm(transA: transA, transB: b.transposed, m: m, n: b.n, k: b.k, alpha: alpha, a: a, lda: lda,
                  b: b.source, ldb: b.ldb, beta: bias == nil ? beta : 1, c: c, ldc: ldc)
            return
        }
        if m == 0 || b.n == 0 { return }
        nonisolated(unsafe) let panels = UnsafePointer(packed), bias = bias
        splitRows(transA: transA, m: m, n: b.n, k: b.k, a: a, lda: lda, c: c, ldc: ldc) { rows, a, c in
            dptune_sgemm_packed(transA ? 1 : 0, rows, b.n, b.k, alpha, a, lda, panels, bias, beta, c, ldc)
        }
    }

    /// Splits the `m` rows of an `(m, n)` product over `k` across the configured threads,
    /// with about 2²¹ FLOPs a chunk at least (some microseconds of one core), so that
    /// waking a second core pays for itself. `body` gets each chunk's row count and where
    /// its rows of `op(A)` and of C start.
    private static func splitRows(
        transA: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
        _ body: @Sendable (_ rows: Int, _ a: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>) -> Void
    ) {
        nonisolated(unsafe) let a = a, c = c
        concurrentChunks(m, minimumChunk: max(12, (1 << 20) / max(n * k, 1))) { rows in
            let first = rows.lowerBound
            body(rows.count, transA ? a + first : a + first * lda, c + first * ldc)
        }
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
