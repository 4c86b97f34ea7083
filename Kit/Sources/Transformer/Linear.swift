// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows (B·T), IC = input features, OC = output features.
import Linalg

/// How a checkpoint stores a dense layer's weight matrix.
public enum WeightLayout: Sendable, Hashable {
    /// `(OC, IC)`: PyTorch `nn.Linear` (BERT, Llama); `out = input · Wᵀ`.
    case outIn
    /// `(IC, OC)`: GPT-2's `Conv1D`; `out = input · W`.
    case inOut
}

/// `out = input · W(ᵀ) + bias`.
///
/// - Parameters:
///   - out: `(N, OC)`, overwritten
///   - input: `(N, IC)`
///   - weight: `(OC, IC)` or `(IC, OC)` per `layout`
///   - bias: `(OC)` or nil
func linearForward(
    out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, N: Int, IC: Int, OC: Int, layout: WeightLayout
) {
    if let bias {
        nonisolated(unsafe) let out = out, bias = bias
        concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: OC)) { rows in
            for n in rows { (out + n * OC).update(from: bias, count: OC) }
        }
    }
    BLAS.sgemm(transB: layout == .outIn, m: N, n: OC, k: IC,
               a: input, lda: IC, b: weight, ldb: layout == .outIn ? IC : OC,
               beta: bias == nil ? 0 : 1, c: out, ldc: OC)
}

/// `dinput (+)= dout · W` (the gradient of `out = input · Wᵀ`), or `dout · Wᵀ` for `.inOut`.
///
/// The backbone is frozen, so no weight gradient is formed here; adapters get theirs
/// from the hook that sees `input` and `dout`. A layer whose input also feeds a residual
/// accumulates onto the residual's gradient; any other overwrites, so that its buffer is
/// neither zeroed nor copied first.
///
/// - Parameters:
///   - dinput: `(N, IC)`, accumulated when `accumulate`, else overwritten
///   - dout: `(N, OC)`
///   - weight: as in ``linearForward``
func linearBackward(
    dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    N: Int, IC: Int, OC: Int, layout: WeightLayout, accumulate: Bool
) {
    BLAS.sgemm(transB: layout == .inOut, m: N, n: IC, k: OC,
               a: dout, lda: OC, b: weight, ldb: layout == .outIn ? IC : OC,
               beta: accumulate ? 1 : 0, c: dinput, ldc: IC)
}
