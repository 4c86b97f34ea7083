// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements.
import CVectorMath
import Glibc

/// The two GELU forms found in checkpoints.
///
/// BERT uses the exact form (`hidden_act: "gelu"`); GPT-2 uses the tanh approximation
/// (`"gelu_new"`). Mixing them up costs about 1e-3 in the hidden states, well above parity.
public enum GELUForm: Sendable, Hashable {
    /// `0.5 x (1 + erf(x / √2))`
    case erf
    /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`
    case tanh
}

@usableFromInline let geluTanhScale: Float = (2 / Float.pi).squareRoot()

/// `out = gelu(input)` elementwise.
///
/// The erf form runs `dptune_gelu_erf_forward` (CVectorMath: an erf within 1.2e-7 of the
/// exact one, sixteen elements at a time on AVX-512F, eight on AVX2 + FMA); the tanh form
/// uses the C library's `tanh`. Split across cores by element.
///
/// - Parameters:
///   - out: `(N)`; may alias `input`
///   - input: `(N)`
public func geluForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, N: Int, form: GELUForm) {
    nonisolated(unsafe) let out = out, input = input
    concurrentChunks(N, minimumChunk: minimumElementsPerChunk) { range in
        switch form {
        case .erf:
            dptune_gelu_erf_forward(out + range.lowerBound, input + range.lowerBound, range.count)
        case .tanh:
            for i in range {
                let x = input[i]
                out[i] = 0.5 * x * (1 + tanh(geluTanhScale * (x + 0.044715 * x * x * x)))
            }
        }
    }
}

/// `dinput = gelu'(input) * dout`.
///
/// Overwritten rather than accumulated: the backbones need nothing else in `dinput`, so it
/// can be `dout` itself and no `(N)` buffer has to be zeroed or kept for it.
///
/// erf form: `d/dx [x Φ(x)] = Φ(x) + x φ(x)`, with `Φ` and `φ` from one erf evaluation
/// (`dptune_gelu_erf_backward`).
/// tanh form: with `u = √(2/π)(x + 0.044715 x³)`,
/// `d/dx [0.5 x (1 + tanh u)] = 0.5 (1 + tanh u) + 0.5 x (1 - tanh² u) √(2/π)(1 + 3·0.044715 x²)`.
///
/// - Parameters:
///   - dinput: `(N)`, overwritten; may alias `dout`
///   - dout: `(N)`
///   - input: `(N)` as given to forward
public func geluBackward(
    dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>, N: Int, form: GELUForm
) {
    nonisolated(unsafe) let dinput = dinput, dout = dout, input = input
    concurrentChunks(N, minimumChunk: minimumElementsPerChunk) { range in
        switch form {
        case .erf:
            let start = range.lowerBound
            dptune_gelu_erf_backward(dinput + start, dout + start, input + start, range.count)
        case .tanh:
            for i in range {
                let x = input[i]
                let t = tanh(geluTanhScale * (x + 0.044715 * x * x * x))
                let local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * geluTanhScale * (1 + 3 * 0.044715 * x * x)
                dinput[i] = local * dout[i]
            }
        }
    }
}
