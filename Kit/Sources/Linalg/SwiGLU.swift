// SPDX-License-Identifier: Apache-2.0
import Glibc

// Dimensions: B batch, T time, H width of the MLP's hidden layer (Llama's intermediate size).

/// The gated activation of a Llama MLP: `out = silu(gate) · up`, `silu(g) = g · σ(g)`.
///
/// `gate` and `up` are the outputs of the two input projections (GGUF `ffn_gate`, `ffn_up`); no
/// cache is needed, backward recomputes σ(gate). Split across cores by element.
public func swigluForward(
    out: UnsafeMutablePointer<Float>,     // (B, T, H)
    gate: UnsafePointer<Float>,           // (B, T, H)
    up: UnsafePointer<Float>,             // (B, T, H)
    B: Int, T: Int, H: Int
) {
    precondition(B >= 0 && T >= 0 && H >= 0, "bad dimensions B=\(B) T=\(T) H=\(H)")
    nonisolated(unsafe) let out = out, gate = gate, up = up
    concurrentChunks(B * T * H, minimumChunk: minimumElementsPerChunk) { range in
        for i in range {
            let g = gate[i]
            out[i] = g / (1 + expf(-g)) * up[i]
        }
    }
}

/// Writes the gradients of ``swigluForward(out:gate:up:B:T:H:)`` (overwriting, so that a
/// backbone need not zero them first); `dgate` may be `dout` itself.
///
/// Differentiating `out = g · σ(g) · u`, with `σ' = σ(1 - σ)`:
///
///     dgate = dout · u · σ(g) · (1 + g · (1 - σ(g)))
///     dup   = dout · g · σ(g)
public func swigluBackward(
    dgate: UnsafeMutablePointer<Float>,   // (B, T, H)
    dup: UnsafeMutablePointer<Float>,     // (B, T, H)
    dout: UnsafePointer<Float>,           // (B, T, H)
    gate: UnsafePointer<Float>,           // (B, T, H)
    up: UnsafePointer<Float>,             // (B, T, H)
    B: Int, T: Int, H: Int
) {
    precondition(B >= 0 && T >= 0 && H >= 0, "bad dimensions B=\(B) T=\(T) H=\(H)")
    nonisolated(unsafe) let dgate = dgate, dup = dup, dout = dout, gate = gate, up = up
    concurrentChunks(B * T * H, minimumChunk: minimumElementsPerChunk) { range in
        for i in range {
            let g = gate[i], d = dout[i]
            let s = 1 / (1 + expf(-g))
            dgate[i] = d * up[i] * s * (1 + g * (1 - s))
            dup[i] = d * g * s
        }
    }
}
