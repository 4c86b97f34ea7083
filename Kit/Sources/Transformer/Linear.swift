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

/// A frozen dense layer's weight as the right-hand operands of its two products: `W` as
/// stored and `Wᵀ`, the latter packed once (``PackedOperand``).
///
/// Against the 100–300 rows of a training piece, packing a transpose on every product
/// costs up to a third of the product. `W` itself is packed on the fly, a plain copy;
/// packing it once too took two more copies of every weight instead of one and did not
/// measurably shorten a training step. LM heads are packed too: greedy decoding multiplies
/// one row at a time, against which packing the transpose would cost more than the product.
struct FrozenWeight {
    let layout: WeightLayout
    /// `(OC, IC)` for `.outIn`, `(IC, OC)` for `.inOut`.
    let stored: PackedOperand
    let transposed: PackedOperand

    init(_ weight: UnsafePointer<Float>, IC: Int, OC: Int, layout: WeightLayout) {
        self.layout = layout
        let (rows, columns) = layout == .outIn ? (OC, IC) : (IC, OC)
        stored = PackedOperand(b: weight, ldb: columns, transposed: false, k: rows, n: columns, packs: false)
        transposed = PackedOperand(b: weight, ldb: columns, transposed: true, k: columns, n: rows)
    }

    /// The operand of the forward product `out = input · op(W)`; the backward multiplies by the other.
    var forward: PackedOperand { layout == .outIn ? transposed : stored }
    var backward: PackedOperand { layout == .outIn ? stored : transposed }
}

/// `out = input · W(ᵀ) + bias`.
///
/// - Parameters:
///   - out: `(N, OC)`, overwritten
///   - input: `(N, IC)`
///   - bias: `(OC)` or nil
func linearForward(
    out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: FrozenWeight,
    bias: UnsafePointer<Float>?, N: Int
) {
    let operand = weight.forward
    BLAS.sgemm(m: N, a: input, lda: operand.k, b: operand, bias: bias, c: out, ldc: operand.n)
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
func linearBackward(
    dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, weight: FrozenWeight,
    N: Int, accumulate: Bool
) {
    let operand = weight.backward
    BLAS.sgemm(m: N, a: dout, lda: operand.k, b: operand, beta: accumulate ? 1 : 0, c: dinput, ldc: operand.n)
}
