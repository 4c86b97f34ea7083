// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = channels.

/// `out[b] = Σ_t mask[b,t]·hidden[b,t] / max(Σ_t mask[b,t], 1e-9)`: the sentence
/// embedding all-MiniLM-L6-v2 was trained with (padding excluded).
///
/// - Parameters:
///   - out: `(B, C)`, overwritten
///   - hidden: `(B, T, C)`
///   - mask: `(B, T)`
public func meanPoolingForward(out: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                               B: Int, T: Int, C: Int) {
    for b in 0..<B {
        let y = out + b * C
        y.update(repeating: 0, count: C)
        var count: Float = 0
        for t in 0..<T where mask[b * T + t] != 0 {
            let m = mask[b * T + t]
            count += m
            let h = hidden + (b * T + t) * C
            for c in 0..<C { y[c] += m * h[c] }
        }
        let inverse = 1 / max(count, 1e-9)
        for c in 0..<C { y[c] *= inverse }
    }
}

/// `dhidden[b,t] += mask[b,t] · dout[b] / max(Σ_t mask[b,t], 1e-9)`.
///
/// - Parameters:
///   - dhidden: `(B, T, C)`, accumulated
///   - dout: `(B, C)`
///   - mask: `(B, T)`
public func meanPoolingBackward(dhidden: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                B: Int, T: Int, C: Int) {
    for b in 0..<B {
        var count: Float = 0
        for t in 0..<T { count += mask[b * T + t] }
        let inverse = 1 / max(count, 1e-9)
        for t in 0..<T where mask[b * T + t] != 0 {
            let scale = mask[b * T + t] * inverse
            let dh = dhidden + (b * T + t) * C, g = dout + b * C
            for c in 0..<C { dh[c] += scale * g[c] }
        }
    }
}
