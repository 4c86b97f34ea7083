// SPDX-License-Identifier: Apache-2.0
import Glibc

// Dimensions: B batch, T time, NH heads (query or key/value heads), HD head width (even),
// P positions covered by the tables.
//
// Convention: Hugging Face Llama's `rotate_half`. Within one head, channel i < HD/2 pairs with
// channel i + HD/2 and the pair turns by angle p·f_i at position p, f_i = θ^(-2i/HD):
//
//     out[i]        = x[i] · cos(p·f_i) - x[i + HD/2] · sin(p·f_i)
//     out[i + HD/2] = x[i + HD/2] · cos(p·f_i) + x[i] · sin(p·f_i)
//
// GGUF files converted by llama.cpp store the q and k projections with their rows permuted for
// the interleaved convention (pairs 2i, 2i+1): use them through
// `GGUFFile.dequantize(_:unpermutingRotaryHeads:into:)` before these kernels.

/// Fills the cos/sin tables: `cos[p, i] = cos(p · f_i)` with `f_i = 1 / θ^(2i/HD)`.
///
/// Computed like transformers' `LlamaRotaryEmbedding`: `f_i` and the angle `p · f_i` are
/// rounded to Float (so tables match its float32 values), the cosine is taken in Double.
public func rotaryTables(
    cos cosTable: UnsafeMutablePointer<Float>,  // (P, HD/2)
    sin sinTable: UnsafeMutablePointer<Float>,  // (P, HD/2)
    theta: Float, P: Int, HD: Int
) {
    precondition(P >= 0 && HD > 0 && HD % 2 == 0, "bad dimensions P=\(P) HD=\(HD)")
    let half = HD / 2
    for i in 0..<half {
        let frequency = 1 / powf(theta, Float(2 * i) / Float(HD))
        for p in 0..<P {
            let angle = Double(Float(p) * frequency)
            cosTable[p * half + i] = Float(Glibc.cos(angle))
            sinTable[p * half + i] = Float(Glibc.sin(angle))
        }
    }
}

/// Rotates every head of `input` by the angles of its token's position. `out` may be `input`.
public func rotaryForward(
    out: UnsafeMutablePointer<Float>,     // (B, T, NH, HD)
    input: UnsafePointer<Float>,          // (B, T, NH, HD)
    positions: UnsafePointer<Int32>,      // (B, T), each in 0..<P
    cos cosTable: UnsafePointer<Float>,   // (P, HD/2)
    sin sinTable: UnsafePointer<Float>,   // (P, HD/2)
    B: Int, T: Int, NH: Int, HD: Int, P: Int
) {
    rotate(out, input, positions, cosTable, sinTable, B: B, T: T, NH: NH, HD: HD, P: P, sign: 1)
}

/// Writes the input gradient of ``rotaryForward(out:input:positions:cos:sin:B:T:NH:HD:P:)``,
/// overwriting `dinp` (so that a backbone need not zero it first); `dinp` may be `dout`.
///
/// Forward is `out = R(p) · x` with R a rotation, so `dinp = R(p)ᵀ · dout = R(-p) · dout`:
///
///     dinp[i]        =  dout[i] · cos + dout[i + HD/2] · sin
///     dinp[i + HD/2] = -dout[i] · sin + dout[i + HD/2] · cos
public func rotaryBackward(
    dinp: UnsafeMutablePointer<Float>,    // (B, T, NH, HD)
    dout: UnsafePointer<Float>,           // (B, T, NH, HD)
    positions: UnsafePointer<Int32>,      // (B, T)
    cos cosTable: UnsafePointer<Float>,   // (P, HD/2)
    sin sinTable: UnsafePointer<Float>,   // (P, HD/2)
    B: Int, T: Int, NH: Int, HD: Int, P: Int
) {
    rotate(dinp, dout, positions, cosTable, sinTable, B: B, T: T, NH: NH, HD: HD, P: P, sign: -1)
}

/// `out = R(sign · p) · x` for every head; `out` may be `x`, as each pair is read before it is written.
private func rotate(
    _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ positions: UnsafePointer<Int32>,
    _ cosTable: UnsafePointer<Float>, _ sinTable: UnsafePointer<Float>,
    B: Int, T: Int, NH: Int, HD: Int, P: Int, sign: Float
) {
    precondition(B >= 0 && T >= 0 && NH > 0 && HD > 0 && HD % 2 == 0, "bad dimensions B=\(B) T=\(T) NH=\(NH) HD=\(HD)")
    let half = HD / 2
    for bt in 0..<(B * T) {
        let p = Int(positions[bt])
        precondition(p >= 0 && p < P, "position \(p) outside the tables' 0..<\(P)")
        let c = cosTable + p * half
        let s = sinTable + p * half
        for h in 0..<NH {
            let base = (bt * NH + h) * HD
            for i in 0..<half {
                let a = x[base + i], b = x[base + i + half]
                let sn = sign * s[i]
                out[base + i] = a * c[i] - b * sn
                out[base + i + half] = b * c[i] + a * sn
            }
        }
    }
}
