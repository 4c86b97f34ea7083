// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows (B·T), C = channels.

/// `out = (input - mean) * rstd * weight + bias` per row; saves `mean` and `rstd` for backward.
///
/// Rows are split across cores; each row's sums run in eight SIMD lanes.
///
/// - Parameters:
///   - out: `(N, C)`
///   - mean: `(N)`, written
///   - rstd: `(N)`, written: `1 / sqrt(var + eps)` with the biased variance
///   - input: `(N, C)`
///   - weight: `(C)`
///   - bias: `(C)`
public func layerNormForward(
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
    input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    N: Int, C: Int, eps: Float
) {
    nonisolated(unsafe) let out = out, mean = mean, rstd = rstd, input = input, weight = weight, bias = bias
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: C)) { rows in
        for n in rows {
            let x = input + n * C
            // Eight running sums, one per lane (padding lanes add 0), then their total.
            var sums = SIMDMath.Vector(repeating: 0)
            for c in stride(from: 0, to: C, by: 8) { sums += SIMDMath.load(x, c, end: C) }
            let m = sums.sum() / Float(C)
            var squares = SIMDMath.Vector(repeating: 0)
            for c in stride(from: 0, to: C, by: 8) {
                let d = SIMDMath.load(x, c, end: C, padding: m) - m
                squares += d * d
            }
            let s = 1 / (squares.sum() / Float(C) + eps).squareRoot()
            let y = out + n * C
            for c in stride(from: 0, to: C, by: 8) {
                let xhat = (SIMDMath.load(x, c, end: C) - m) * s
                SIMDMath.store(xhat * SIMDMath.load(weight, c, end: C) + SIMDMath.load(bias, c, end: C), y, c, end: C)
            }
            mean[n] = m
            rstd[n] = s
        }
    }
}

/// The gradients of ``layerNormForward``.
///
/// With `xhat = (x - mean) * rstd` and `out = xhat * weight + bias`:
/// `dxhat = dout * weight`,
/// `dinput (+)= rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`,
/// `dweight += Σ_n dout * xhat`, `dbias += Σ_n dout`. The parameter gradients are
/// optional: a frozen backbone asks only for `dinput`. Rows of `dinput` are split across
/// cores; the parameter gradients, sums over rows, are accumulated serially afterwards.
///
/// - Parameters:
///   - dinput: `(N, C)`, accumulated when `accumulate`, else overwritten (so a backbone
///     need not zero it first)
///   - dweight: `(C)` or nil, accumulated
///   - dbias: `(C)` or nil, accumulated
///   - dout: `(N, C)`
///   - input: `(N, C)` as given to forward
///   - weight: `(C)`
///   - mean, rstd: `(N)` saved by forward
public func layerNormBackward(
    dinput: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
    dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    N: Int, C: Int, accumulate: Bool = true
) {
    nonisolated(unsafe) let dinput = dinput, dout = dout, input = input, weight = weight, mean = mean, rstd = rstd
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: C)) { rows in
        for n in rows {
            let x = input + n * C, g = dout + n * C, dx = dinput + n * C
            let m = mean[n], s = rstd[n]
            var meanDxhat: Float = 0
            var meanDxhatXhat: Float = 0
            for c in 0..<C {
                let xhat = (x[c] - m) * s
                let dxhat = g[c] * weight[c]
                meanDxhat += dxhat
                meanDxhatXhat += dxhat * xhat
            }
            meanDxhat /= Float(C)
            meanDxhatXhat /= Float(C)
            @inline(__always) func gradient(_ c: Int) -> Float {
                s * (g[c] * weight[c] - meanDxhat - (x[c] - m) * s * meanDxhatXhat)
            }
            // Two loops rather than a select per element, which kept the loop from vectorizing.
            if accumulate {
                for c in 0..<C { dx[c] += gradient(c) }
            } else {
                for c in 0..<C { dx[c] = gradient(c) }
            }
        }
    }
    guard dweight != nil || dbias != nil else { return }
    for n in 0..<N {
        let x = input + n * C, g = dout + n * C
        let m = mean[n], s = rstd[n]
        if let dweight {
            for c in 0..<C { dweight[c] += g[c] * (x[c] - m) * s }
        }
        if let dbias {
            for c in 0..<C { dbias[c] += g[c] }
        }
    }
}
