// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows, K = columns (the softmax axis).
import CVectorMath

/// Row-wise `out = softmax(input)`, subtracting each row's maximum for stability.
///
/// Entries equal to `-infinity` get probability 0 (masked attention scores); a row that
/// is entirely `-infinity` becomes all zeros rather than NaN. Each row is one
/// `dptune_softmax_row` (CVectorMath: sixteen or eight exponentials at a time, the sum in Double);
/// rows are split across cores.
///
/// - Parameters:
///   - out: `(N, K)`; may alias `input`
///   - input: `(N, K)`
public func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, N: Int, K: Int) {
    nonisolated(unsafe) let out = out, input = input
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: K)) { rows in
        for n in rows { dptune_softmax_row(out + n * K, input + n * K, K) }
    }
}

/// `dinput = out ⊙ (dout - Σ_k out·dout)` per row, the gradient of `out = softmax(input)`.
///
/// Overwritten, and `dinput` may be `dout`: attention turns its score gradient into the
/// pre-softmax gradient in place, with no second `(T, T)` buffer to zero per head.
///
/// - Parameters:
///   - dinput: `(N, K)`, overwritten; may alias `dout`
///   - dout: `(N, K)`
///   - out: `(N, K)` saved by forward
public func softmaxBackward(
    dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out: UnsafePointer<Float>, N: Int, K: Int
) {
    nonisolated(unsafe) let dinput = dinput, dout = dout, out = out
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: K)) { rows in
        for n in rows {
            let y = out + n * K, g = dout + n * K, dx = dinput + n * K
            var dot: Float = 0
            for k in 0..<K { dot += y[k] * g[k] }
            for k in 0..<K { dx[k] = y[k] * (g[k] - dot) }
        }
    }
}
