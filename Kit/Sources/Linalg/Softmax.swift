// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows, K = columns (the softmax axis).
import Glibc

/// Row-wise `out = softmax(input)`, subtracting each row's maximum for stability.
///
/// Entries equal to `-infinity` get probability 0 (masked attention scores); a row that
/// is entirely `-infinity` becomes all zeros rather than NaN.
///
/// - Parameters:
///   - out: `(N, K)`; may alias `input`
///   - input: `(N, K)`
@inlinable
public func softmaxForward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, N: Int, K: Int) {
    for n in 0..<N {
        let x = input + n * K, y = out + n * K
        var maxValue = -Float.infinity
        for k in 0..<K where x[k] > maxValue { maxValue = x[k] }
        if maxValue == -Float.infinity {
            for k in 0..<K { y[k] = 0 }
            continue
        }
        // Summed in Double: over a vocabulary-sized row, a Float running sum near 1 drops the
        // tail's many tiny terms and overstates the top probability.
        var sum: Double = 0
        for k in 0..<K {
            let e = exp(x[k] - maxValue)
            y[k] = e
            sum += Double(e)
        }
        let inverse = Float(1 / sum)
        for k in 0..<K { y[k] *= inverse }
    }
}

/// `dinput += out ⊙ (dout - Σ_k out·dout)` per row, the gradient of `out = softmax(input)`.
///
/// - Parameters:
///   - dinput: `(N, K)`, accumulated
///   - dout: `(N, K)`
///   - out: `(N, K)` saved by forward
@inlinable
public func softmaxBackward(
    dinput: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out: UnsafePointer<Float>, N: Int, K: Int
) {
    for n in 0..<N {
        let y = out + n * K, g = dout + n * K, dx = dinput + n * K
        var dot: Float = 0
        for k in 0..<K { dot += y[k] * g[k] }
        for k in 0..<K { dx[k] += y[k] * (g[k] - dot) }
    }
}
