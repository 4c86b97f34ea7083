// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, TQ = query positions, TK = key positions (T when both are the same),
// NH = query heads, NKV = key/value heads, HD = head width, Q = NH·HD, KV = NKV·HD.
import Linalg

/// Causal grouped-query attention (Llama): query head `h` reads key/value head `h / (NH / NKV)`.
///
/// A separate kernel from ``attentionForward`` because keys and values are narrower than the
/// queries and because the queries may continue a key/value cache. Query `i` sits at absolute
/// position `offset + i`; key `j` is visible from it iff `j <= offset + i` and, when a mask is
/// given, `keyMask[b, j] != 0`. Hidden keys score `-inf`, so their probabilities are exactly 0
/// and they receive exactly zero gradient; a query that sees no key (left padding) gets zeros.
///
///     queries (TQ rows)          keys (TK rows): 0 … offset-1 (cached) | offset … offset+TQ-1 (new)
///     q_i at position offset+i   sees keys 0 … offset+i
///
/// - Parameters:
///   - out: `(B, TQ, Q)`, overwritten: head `h` fills columns `h*HD ..< (h+1)*HD`
///   - att: `(B, NH, TQ, TK)`, written: the attention probabilities, saved for backward
///   - q: `(B, TQ, Q)`
///   - k, v: `(B, TK, KV)`
///   - keyMask: `(B, TK)`, 1 for real tokens, 0 for padding; nil when every key is real
func groupedQueryAttentionForward(
    out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?,
    B: Int, TQ: Int, TK: Int, NH: Int, NKV: Int, HD: Int, offset: Int
) {
    precondition(NH % NKV == 0 && offset + TQ <= TK, "bad attention shape NH=\(NH) NKV=\(NKV) TQ=\(TQ) TK=\(TK) offset=\(offset)")
    let Q = NH * HD, KV = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    nonisolated(unsafe) let out = out, att = att, q = q, k = k, v = v, keyMask = keyMask
    // One (b, h) pair per item: each writes its own scores and its own columns of out.
    concurrentChunks(B * NH, minimumChunk: 1) { pairs in
        for pair in pairs {
            let b = pair / NH, h = pair % NH, g = h / group
            let qb = q + b * TQ * Q, kb = k + b * TK * KV, vb = v + b * TK * KV
            let scores = att + pair * TQ * TK
            // scores = scale · q_h k_gᵀ   (TQ, TK)
            BLAS.sgemm(transB: true, m: TQ, n: TK, k: HD, alpha: scale, a: qb + h * HD, lda: Q, b: kb + g * HD, ldb: KV,
                       c: scores, ldc: TK)
            for i in 0..<TQ {
                maskScores(scores + i * TK, keyMask: keyMask.map { $0 + b * TK }, visible: offset + i + 1, count: TK)
            }
            softmaxForward(out: scores, input: scores, N: TQ, K: TK)
            // out_h = att · v_g   (TQ, HD)
            BLAS.sgemm(m: TQ, n: HD, k: TK, a: scores, lda: TK, b: vb + g * HD, ldb: KV, c: out + b * TQ * Q + h * HD, ldc: Q)
        }
    }
}

/// Writes `dq`, `dk`, `dv` from `dout` through ``groupedQueryAttentionForward`` with
/// `TQ = TK = T` and no offset (training runs whole sequences).
///
/// With `P = softmax(S)`, `S = scale · Q_h K_gᵀ`, `O_h = P V_g`, summing over the query heads
/// `h` of group `g`: `dP = dO_h V_gᵀ`, `dV_g = Σ_h Pᵀ dO_h`, `dS = P ⊙ (dP - rowsum(P ⊙ dP))`
/// (in place of `dP`), `dQ_h = scale · dS K_g`, `dK_g = Σ_h scale · dSᵀ Q_h`.
///
/// All three are overwritten, so they need no zeroing first: each query head writes its own
/// columns of `dq` once, and a group's first head writes `dk_g` and `dv_g` that the others
/// add to.
///
/// - Parameters:
///   - dq: `(B, T, Q)`, overwritten
///   - dk, dv: `(B, T, KV)`, overwritten
///   - scratch: `(workers, T, T)` workspace, one slice per concurrent worker
///   - workers: the slices in `scratch`; at least 1, at most ``BLAS/threadCount`` are used
///   - dout: `(B, T, Q)`
///   - att: `(B, NH, T, T)` saved by forward
///   - q, k, v: as given to forward
func groupedQueryAttentionBackward(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, att: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    B: Int, T: Int, NH: Int, NKV: Int, HD: Int, workers: Int
) {
    let Q = NH * HD, KV = NKV * HD, group = NH / NKV
    let scale = 1 / Float(HD).squareRoot()
    nonisolated(unsafe) let dq = dq, dk = dk, dv = dv, scratch = scratch, dout = dout, att = att, q = q, k = k, v = v
    // One (b, g) key/value group per item: its query heads sum into dk_g and dv_g in order
    // h = g·group, g·group + 1, …, as a serial loop would.
    concurrentChunks(B * NKV, minimumChunk: 1, maximumChunks: workers) { worker, groups in
        let dS = scratch + worker * T * T
        for item in groups {
            let b = item / NKV, g = item % NKV
            let qb = q + b * T * Q, kb = k + b * T * KV, vb = v + b * T * KV
            let dqb = dq + b * T * Q, dkb = dk + b * T * KV, dvb = dv + b * T * KV
            for h in (g * group)..<((g + 1) * group) {
                let P = att + (b * NH + h) * T * T
                let dO = dout + b * T * Q + h * HD
                let groupBeta: Float = h == g * group ? 0 : 1
                // dP = dO · v_gᵀ   (T, T)
                BLAS.sgemm(transB: true, m: T, n: T, k: HD, a: dO, lda: Q, b: vb + g * HD, ldb: KV, c: dS, ldc: T)
                // dv_g (+)= Pᵀ · dO
                BLAS.sgemm(transA: true, m: T, n: HD, k: T, a: P, lda: T, b: dO, ldb: Q, beta: groupBeta,
                           c: dvb + g * HD, ldc: KV)
                softmaxBackward(dinput: dS, dout: dS, out: P, N: T, K: T)
                // dq_h = scale · dS · k_g;  dk_g (+)= scale · dSᵀ · q_h
                BLAS.sgemm(m: T, n: HD, k: T, alpha: scale, a: dS, lda: T, b: kb + g * HD, ldb: KV,
                           c: dqb + h * HD, ldc: Q)
                BLAS.sgemm(transA: true, m: T, n: HD, k: T, alpha: scale, a: dS, lda: T, b: qb + h * HD, ldb: Q,
                           beta: groupBeta, c: dkb + g * HD, ldc: KV)
            }
        }
    }
}
