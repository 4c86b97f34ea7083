// SPDX-License-Identifier: Apache-2.0

// Dimensions: B batch, T time (sequence positions), C channels (model width).
// Backward argument order follows forward's: outputs (gradients), caches, inputs, weights, dims.

/// RMSNorm (Llama): each row of C values is scaled by the reciprocal of its root mean square.
///
///     out[b,t,:] = input[b,t,:] * rstd[b,t] * weight,   rstd = 1 / sqrt(mean(input[b,t,:]²) + ε)
///
/// The sum of squares is accumulated in Float, like PyTorch's float32 `pow(2).mean(-1)`.
/// Rows are split across cores.
public func rmsNormForward(
    out: UnsafeMutablePointer<Float>,     // (B, T, C)
    rstd: UnsafeMutablePointer<Float>,    // (B, T) cache for backward
    input: UnsafePointer<Float>,          // (B, T, C)
    weight: UnsafePointer<Float>,         // (C)
    B: Int, T: Int, C: Int, epsilon: Float
) {
    precondition(B >= 0 && T >= 0 && C > 0, "bad dimensions B=\(B) T=\(T) C=\(C)")
    nonisolated(unsafe) let out = out, rstd = rstd, input = input, weight = weight
    concurrentChunks(B * T, minimumChunk: minimumRowsPerChunk(width: C)) { rows in
        for row in rows {
            let x = input + row * C
            let y = out + row * C
            var sumSquares: Float = 0
            for i in 0..<C { sumSquares += x[i] * x[i] }
            let r = 1 / (sumSquares / Float(C) + epsilon).squareRoot()
            for i in 0..<C { y[i] = x[i] * r * weight[i] }
            rstd[row] = r
        }
    }
}

/// The gradients of ``rmsNormForward(out:rstd:input:weight:B:T:C:epsilon:)``.
///
/// Differentiating `out_i = w_i · x_i · r` with `r = (Σ x_k² / C + ε)^(-1/2)`, `∂r/∂x_j = -r³ x_j / C`:
///
///     dinp_j   += r · w_j · dout_j - (r³ / C) · x_j · Σ_i dout_i · w_i · x_i
///     dweight_i += dout_i · x_i · r        (summed over B, T; skipped when dweight is nil)
///
/// `dinp` is accumulated when `accumulate`, else overwritten, so that a backbone need not zero
/// it first; `dweight` is always accumulated. Rows of `dinp` are split across cores;
/// `dweight`, a sum over rows, is accumulated serially.
public func rmsNormBackward(
    dinp: UnsafeMutablePointer<Float>,    // (B, T, C)
    dweight: UnsafeMutablePointer<Float>?, // (C), nil for a frozen weight
    rstd: UnsafePointer<Float>,           // (B, T)
    dout: UnsafePointer<Float>,           // (B, T, C)
    input: UnsafePointer<Float>,          // (B, T, C)
    weight: UnsafePointer<Float>,         // (C)
    B: Int, T: Int, C: Int, accumulate: Bool = true
) {
    precondition(B >= 0 && T >= 0 && C > 0, "bad dimensions B=\(B) T=\(T) C=\(C)")
    nonisolated(unsafe) let dinp = dinp, rstd = rstd, dout = dout, input = input, weight = weight
    concurrentChunks(B * T, minimumChunk: minimumRowsPerChunk(width: C)) { rows in
        for row in rows {
            let x = input + row * C
            let g = dout + row * C
            let dx = dinp + row * C
            let r = rstd[row]
            var dot: Float = 0
            for i in 0..<C { dot += g[i] * weight[i] * x[i] }
            let k = r * r * r / Float(C) * dot
            // Two loops rather than a select per element, which would keep them from vectorizing.
            if accumulate {
                for i in 0..<C { dx[i] += r * weight[i] * g[i] - k * x[i] }
            } else {
                for i in 0..<C { dx[i] = r * weight[i] * g[i] - k * x[i] }
            }
        }
    }
    guard let dweight else { return }
    for row in 0..<(B * T) {
        let x = input + row * C, g = dout + row * C, r = rstd[row]
        for i in 0..<C { dweight[i] += g[i] * x[i] * r }
    }
}
