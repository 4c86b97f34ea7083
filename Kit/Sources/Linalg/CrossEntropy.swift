// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows, V = classes (vocabulary).
import Glibc

/// `losses[n] = -log softmax(logits[n])[targets[n]]`; saves the probabilities.
///
/// A negative target marks a row that is not scored (padding, prompt tokens): its loss
/// is 0 and backward leaves its logits' gradient untouched.
///
/// - Parameters:
///   - losses: `(N)`, written
///   - probs: `(N, V)`, written
///   - logits: `(N, V)`
///   - targets: `(N)`, in `0..<V` or negative
@inlinable
public func crossEntropyForward(
    losses: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, N: Int, V: Int
) {
    softmaxForward(out: probs, input: logits, N: N, K: V)
    for n in 0..<N {
        let target = Int(targets[n])
        precondition(target < V, "target \(target) outside \(V) classes")
        losses[n] = target < 0 ? 0 : -log(max(probs[n * V + target], Float.leastNormalMagnitude))
    }
}

/// `dlogits[n] += dlosses[n] · (probs[n] - onehot(targets[n]))` for scored rows, split
/// across cores by row.
///
/// - Parameters:
///   - dlogits: `(N, V)`, accumulated
///   - dlosses: `(N)`
///   - probs: `(N, V)` saved by forward
///   - targets: `(N)`
public func crossEntropyBackward(
    dlogits: UnsafeMutablePointer<Float>, dlosses: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    targets: UnsafePointer<Int32>, N: Int, V: Int
) {
    nonisolated(unsafe) let dlogits = dlogits, dlosses = dlosses, probs = probs, targets = targets
    concurrentChunks(N, minimumChunk: minimumRowsPerChunk(width: V)) { rows in
        for n in rows {
            let target = Int(targets[n])
            guard target >= 0 else { continue }
            let d = dlosses[n], p = probs + n * V, g = dlogits + n * V
            for v in 0..<V { g[v] += d * p[v] }
            g[target] -= d
        }
    }
}
