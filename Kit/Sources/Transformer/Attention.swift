// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = channels, NH = heads, hs = C / NH,
// ld = row stride of q, k, v (C when they are separate buffers, 3C inside GPT-2's fused qkv).
import Linalg

/// Multi-head scaled dot-product attention with a key padding mask and an optional
/// causal mask, shared by every backbone.
///
/// Key `j` is visible from query `t` iff `mask[b, j] != 0` and, when causal, `j <= t`.
/// Masked scores are `-inf` before the softmax, so their probabilities are exactly 0
/// and padding keys receive exactly zero gradient. Llama's narrower keys and values have
/// their own kernel, ``groupedQueryAttentionForward``.
///
/// - Parameters:
///   - out: `(B, T, C)`, overwritten: head `h` fills columns `h*hs ..< (h+1)*hs`
///   - att: `(B, NH, T, T)`, written: the attention probabilities, saved for backward
///   - q, k, v: `(B, T, ld)` views, head `h` at column offset `h*hs`
///   - mask: `(B, T)`, 1 for real tokens, 0 for padding
func attentionForward(
    out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
    mask: UnsafePointer<Float>, B: Int, T: Int, C: Int, NH: Int, causal: Bool
) {
    let hs = C / NH
    let scale = 1 / Float(hs).squareRoot()
    nonisolated(unsafe) let out = out, att = att, q = q, k = k, v = v, mask = mask
    // One (b, h) pair per item: each writes its own scores and its own columns of out.
    concurrentChunks(B * NH, minimumChunk: 1) { pairs in
        for pair in pairs {
            let b = pair / NH, h = pair % NH
            let rowBase = b * T * ld
            let scores = att + pair * T * T
            // scores = scale · q_h k_hᵀ   (T, T)
            BLAS.sgemm(transB: true, m: T, n: T, k: hs, alpha: scale,
                       a: q + rowBase + h * hs, lda: ld, b: k + rowBase + h * hs, ldb: ld,
                       c: scores, ldc: T)
            for t in 0..<T {
                maskScores(scores + t * T, keyMask: mask + b * T, visible: causal ? t + 1 : T, count: T)
            }
            softmaxForward(out: scores, input: scores, N: T, K: T)
            // out_h = att · v_h   (T, hs)
            BLAS.sgemm(m: T, n: hs, k: T, a: scores, lda: T, b: v + rowBase + h * hs, ldb: ld,
                       c: out + b * T * C + h * hs, ldc: C)
        }
    }
}

/// Sets to `-inf` the scores of a query's row `(count)` for the keys it may not see: those
/// from `visible` on (causal) and those whose `keyMask` is 0 (padding).
///
/// A select over the row rather than a branch per key, so that it vectorizes: in a profile
/// of MiniLM training the branch per key took a fifth of the attention forward's time.
func maskScores(_ row: UnsafeMutablePointer<Float>, keyMask: UnsafePointer<Float>?, visible: Int, count: Int) {
    if let keyMask {
        for j in 0..<visible { row[j] = keyMask[j] == 0 ? -.infinity : row[j] }
    }
    for j in visible..<count { row[j] = -.infinity }
}

/// Writes `dq`, `dk`, `dv` from `dout` through ``attentionForward``.
///
/// With `P = softmax(S)`, `S = scale · Q Kᵀ`, `O = P V`:
/// `dP = dO Vᵀ`, `dV = Pᵀ dO`, `dS = P ⊙ (dP - rowsum(P ⊙ dP))` (in place of `dP`),
/// `dQ = scale · dS K`, `dK = scale · dSᵀ Q`.
///
/// Every `(b, h)` pair writes its own columns of all `T` rows exactly once, so the three
/// views are overwritten rather than accumulated and need no zeroing first.
///
/// - Parameters:
///   - dq, dk, dv: `(B, T, ld)` views, overwritten
///   - scratch: `(workers, T, T)` workspace, one slice per concurrent worker
///   - workers: the slices in `scratch`; at least 1, at most ``BLAS/threadCount`` are used
///   - dout: `(B, T, C)`
///   - att: `(B, NH, T, T)` saved by forward
///   - q, k, v: as given to forward
func attentionBackward(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>,
    dout: UnsafePointer<Float>, att: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
    B: Int, T: Int, C: Int, NH: Int, workers: Int
) {
    let hs = C / NH
    let scale = 1 / Float(hs).squareRoot()
    nonisolated(unsafe) let dq = dq, dk = dk, dv = dv, scratch = scratch, dout = dout, att = att, q = q, k = k, v = v
    // One (b, h) pair per item: each writes its own columns of dq, dk, dv.
    concurrentChunks(B * NH, minimumChunk: 1, maximumChunks: workers) { worker, pairs in
        let dS = scratch + worker * T * T
        for pair in pairs {
            let b = pair / NH, h = pair % NH
            let rowBase = b * T * ld
            let P = att + pair * T * T
            let dO = dout + b * T * C + h * hs
            // dP = dO · v_hᵀ   (T, T)
            BLAS.sgemm(transB: true, m: T, n: T, k: hs, a: dO, lda: C, b: v + rowBase + h * hs, ldb: ld,
                       c: dS, ldc: T)
            // dv_h = Pᵀ · dO
            BLAS.sgemm(transA: true, m: T, n: hs, k: T, a: P, lda: T, b: dO, ldb: C,
                       c: dv + rowBase + h * hs, ldc: ld)
            softmaxBackward(dinput: dS, dout: dS, out: P, N: T, K: T)
            // dq_h = scale · dS · k_h;  dk_h = scale · dSᵀ · q_h
            BLAS.sgemm(m: T, n: hs, k: T, alpha: scale, a: dS, lda: T, b: k + rowBase + h * hs, ldb: ld,
                       c: dq + rowBase + h * hs, ldc: ld)
            BLAS.sgemm(transA: true, m: T, n: hs, k: T, alpha: scale, a: dS, lda: T, b: q + rowBase + h * hs, ldb: ld,
                       c: dk + rowBase + h * hs, ldc: ld)
        }
    }
}
