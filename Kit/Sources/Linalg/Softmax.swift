// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows, K = columns (the softmax axis).

/// Row-wise `out = softmax(input)`, subtracting each row's maximum for stability.
///
/// Entries equal to `-infinity` get probability 0 (masked attention scores); a row that
/// is entirely `-infinity` becomes all zeros rather than NaN. The exponentials come from
/// ``SIMDMath/exp(_:)``, eight at a time; rows are split across cores.
///
/// - Parameters:
///   - out: `(N, K)`; may alias `input`
///   - input: `(N, K)`
public func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, N: Int, K: Int) {
    nonisolated(unsafe) let out = out, input = input
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: K)) { rows in
        for n in rows {
            let x = input + n * K, y = out + n * K
            var maxima = SIMDMath.Vector(repeating: -.infinity)
            for k in stride(from: 0, to: K, by: 8) {
                let v = SIMDMath.load(x, k, end: K, padding: -.infinity)
                maxima = maxima.replacing(with: v, where: v .> maxima)
            }
            let maxValue = maxima.max()
            if maxValue == -Float.infinity {
                for k in 0..<K { y[k] = 0 }
                continue
            }
            // Summed in Double: over a vocabulary-sized row, a Float running sum near 1 drops the
            // tail's many tiny terms and overstates the top probability.
            var sums = SIMD8<Double>(repeating: 0)
            for k in stride(from: 0, to: K, by: 8) {
                let e = SIMDMath.exp(SIMDMath.load(x, k, end: K, padding: -.infinity) - maxValue)
                sums += SIMD8<Double>(e)
                SIMDMath.store(e, y, k, end: K)
            }
            let inverse = Float(1 / sums.sum())
            for k in stride(from: 0, to: K, by: 8) { SIMDMath.store(SIMDMath.load(y, k, end: K) * inverse, y, k, end: K) }
        }
    }
}

/// `dinput += out ⊙ (dout - Σ_k out·dout)` per row, the gradient of `out = softmax(input)`.
///
/// - Parameters:
///   - dinput: `(N, K)`, accumulated
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
            for k in 0..<K { dx[k] += y[k] * (g[k] - dot) }
        }
    }
}
