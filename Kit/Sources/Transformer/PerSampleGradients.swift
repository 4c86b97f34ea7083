// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, IC/OC = in/out features, S = sample index.
import Linalg

/// Per-sample gradient quantities of a dense layer `Y = X·Wᵀ + b` from its input
/// `X (B, T, IC)` and output gradient `G (B, T, OC)`, without a loop over samples in
/// the caller.
///
/// Sample `s`'s weight gradient is `G_sᵀ X_s (OC, IC)`; its squared Frobenius norm is
/// found either by forming it, or by the ghost norm `⟨X_s X_sᵀ, G_s G_sᵀ⟩` over `(T, T)`
/// Gram matrices, whichever is cheaper: ghost iff `2T² ≤ IC·OC`. Rows of `G` at padding
/// tokens are zero, so padding contributes nothing to either.
///
/// Holds a workspace that grows to the largest shape seen, so steady-state calls
/// allocate nothing. Samples are split across cores (``concurrentChunks(_:minimumChunk:_:)``),
/// one workspace slice per worker; each sample's result is computed as it would be alone.
///
/// - Important: not thread-safe; use one instance per training loop.
public final class PerSampleGradients {
    /// How a squared norm is computed.
    public enum Method: Sendable, Hashable {
        case instantiate, ghost
    }

    private let workspace = ActivationSlab()

    public init() {}

    /// The cheaper method for a layer: ghost iff `2T² ≤ IC·OC`.
    public static func method(seqLen T: Int, inFeatures IC: Int, outFeatures OC: Int) -> Method {
        2 * T * T <= IC * OC ? .ghost : .instantiate
    }

    /// `norms[s] += ‖G_sᵀ X_s‖²_F`.
    ///
    /// - Parameters:
    ///   - norms: `(B)`, accumulated (so several layers add up to a sample's total)
    ///   - input: `(B, T, IC)`
    ///   - outputGradient: `(B, T, OC)`
    ///   - method: nil picks the cheaper one
    public func accumulateSquaredNorms(
        into norms: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        B: Int, T: Int, IC: Int, OC: Int, method: Method? = nil
    ) {
        let workers = BLAS.threadCount
        nonisolated(unsafe) let norms = norms, input = input, outputGradient = outputGradient
        switch method ?? Self.method(seqLen: T, inFeatures: IC, outFeatures: OC) {
        case .ghost:
            workspace.reserve(workers * 2 * T * T)
            nonisolated(unsafe) let slab = workspace.base   // (workers, 2, T, T)
            concurrentChunks(B, minimumChunk: 1, maximumChunks: workers) { worker, samples in
                let xx = slab + worker * 2 * T * T, gg = xx + T * T
                for s in samples {
                    let x = input + s * T * IC, g = outputGradient + s * T * OC
                    BLAS.sgemm(transB: true, m: T, n: T, k: IC, a: x, lda: IC, b: x, ldb: IC, c: xx, ldc: T)
                    BLAS.sgemm(transB: true, m: T, n: T, k: OC, a: g, lda: OC, b: g, ldb: OC, c: gg, ldc: T)
                    var total: Double = 0
                    for i in 0..<(T * T) { total += Double(xx[i]) * Double(gg[i]) }
                    norms[s] += Float(total)
                }
            }
        case .instantiate:
            workspace.reserve(workers * OC * IC)
            nonisolated(unsafe) let slab = workspace.base   // (workers, OC, IC)
            concurrentChunks(B, minimumChunk: 1, maximumChunks: workers) { worker, samples in
                let w = slab + worker * OC * IC
                for s in samples {
                    // W_s = G_sᵀ X_s   (OC, IC)
                    BLAS.sgemm(transA: true, m: OC, n: IC, k: T, a: outputGradient + s * T * OC, lda: OC,
                               b: input + s * T * IC, ldb: IC, c: w, ldc: IC)
                    norms[s] += Float(Reductions.sumOfSquares(w, N: OC * IC))
                }
            }
        }
    }

    /// `biasGradients[s] += G_sᵀ 1`: each sample's bias gradient, summed over its tokens.
    ///
    /// - Parameters:
    ///   - biasGradients: `(B, OC)`, accumulated
    ///   - outputGradient: `(B, T, OC)`
    public static func accumulateBiasGradients(
        into biasGradients: UnsafeMutablePointer<Float>, outputGradient: UnsafePointer<Float>, B: Int, T: Int, OC: Int
    ) {
        nonisolated(unsafe) let biasGradients = biasGradients, outputGradient = outputGradient
        concurrentChunks(B, minimumChunk: minimumRowsPerChunk(width: T * OC)) { samples in
            for s in samples {
                Reductions.columnSums(out: biasGradients + s * OC, outputGradient + s * T * OC, N: T, K: OC)
            }
        }
    }

    /// `weightGradient += Σ_s scales[s]·G_sᵀ X_s` in one GEMM over all `B·T` rows
    /// (book-keeping: the clipped sum without per-sample gradients in memory).
    ///
    /// - Parameters:
    ///   - weightGradient: `(OC, IC)` for `.outIn`, `(IC, OC)` for `.inOut`; accumulated
    ///   - input: `(B, T, IC)`
    ///   - outputGradient: `(B, T, OC)`
    ///   - scales: `(B)`, each sample's clipping factor
    public func accumulateClippedSum(
        into weightGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, scales: UnsafePointer<Float>,
        B: Int, T: Int, IC: Int, OC: Int, layout: WeightLayout = .outIn
    ) {
        workspace.reserve(B * T * OC)
        nonisolated(unsafe) let scaled = workspace.base   // (B, T, OC): G with each sample's rows times its scale
        nonisolated(unsafe) let outputGradient = outputGradient, scales = scales
        concurrentChunks(B, minimumChunk: minimumRowsPerChunk(width: T * OC)) { samples in
            for s in samples {
                let c = scales[s], g = outputGradient + s * T * OC, y = scaled + s * T * OC
                for i in 0..<(T * OC) { y[i] = c * g[i] }
            }
        }
        switch layout {
        case .outIn:
            BLAS.sgemm(transA: true, m: OC, n: IC, k: B * T, a: scaled, lda: OC, b: input, ldb: IC,
                       beta: 1, c: weightGradient, ldc: IC)
        case .inOut:
            BLAS.sgemm(transA: true, m: IC, n: OC, k: B * T, a: input, lda: IC, b: scaled, ldb: OC,
                       beta: 1, c: weightGradient, ldc: OC)
        }
    }

    /// `biasGradient += Σ_s scales[s]·G_sᵀ 1`.
    ///
    /// - Parameters:
    ///   - biasGradient: `(OC)`, accumulated
    ///   - outputGradient: `(B, T, OC)`
    ///   - scales: `(B)`
    public static func accumulateClippedBiasSum(
        into biasGradient: UnsafeMutablePointer<Float>, outputGradient: UnsafePointer<Float>, scales: UnsafePointer<Float>,
        B: Int, T: Int, OC: Int
    ) {
        for s in 0..<B {
            let c = scales[s]
            for t in 0..<T {
                let g = outputGradient + (s * T + t) * OC
                for o in 0..<OC { biasGradient[o] += c * g[o] }
            }
        }
    }
}
