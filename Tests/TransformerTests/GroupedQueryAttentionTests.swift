// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing
@testable import Transformer

/// Grouped-query attention against multi-head attention (``attentionForward``/``attentionBackward``,
/// causal) with each key/value head repeated for the query heads of its group: the same
/// probabilities and `dq`, and `dk_g`, `dv_g` the sums of the repeated heads' gradients.
@Suite struct GroupedQueryAttentionTests {
    let B = 2, T = 5, NH = 4, NKV = 2, HD = 3
    var Q: Int { NH * HD }
    var KV: Int { NKV * HD }

    /// `(B, T, KV)` → `(B, T, Q)`: query head `h` gets key/value head `h / (NH / NKV)`.
    func repeatHeads(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: B * T * Q)
        for bt in 0..<(B * T) {
            for h in 0..<NH {
                let g = h / (NH / NKV)
                for d in 0..<HD { out[bt * Q + h * HD + d] = x[bt * KV + g * HD + d] }
            }
        }
        return out
    }

    /// `(B, T, Q)` → `(B, T, KV)`: each group's heads summed.
    func sumGroups(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: B * T * KV)
        for bt in 0..<(B * T) {
            for h in 0..<NH {
                let g = h / (NH / NKV)
                for d in 0..<HD { out[bt * KV + g * HD + d] += x[bt * Q + h * HD + d] }
            }
        }
        return out
    }

    @Test func equalsMultiHeadAttentionWithRepeatedHeadsAndOverwritesItsGradients() {
        var rng = SeededGenerator(seed: 41)
        let q = randomFloats(B * T * Q, &rng), k = randomFloats(B * T * KV, &rng), v = randomFloats(B * T * KV, &rng)
        let dout = randomFloats(B * T * Q, &rng)
        // The second sequence ends in two padding keys.
        let mask: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        let workers = 2
        var scratch = [Float](repeating: 0, count: workers * T * T)

        var out = [Float](repeating: 0, count: B * T * Q), att = [Float](repeating: 0, count: B * NH * T * T)
        groupedQueryAttentionForward(out: &out, att: &att, q: q, k: k, v: v, keyMask: mask,
                                     B: B, TQ: T, TK: T, NH: NH, NKV: NKV, HD: HD, offset: 0)
        // Stale values in the gradient buffers must not leak into the result.
        var dq = [Float](repeating: .nan, count: B * T * Q)
        var dk = [Float](repeating: .nan, count: B * T * KV), dv = dk
        groupedQueryAttentionBackward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: dout, att: att,
                                      q: q, k: k, v: v, B: B, T: T, NH: NH, NKV: NKV, HD: HD, workers: workers)

        let kRepeated = repeatHeads(k), vRepeated = repeatHeads(v)
        var outRef = [Float](repeating: 0, count: B * T * Q), attRef = att
        attentionForward(out: &outRef, att: &attRef, q: q, k: kRepeated, v: vRepeated, ld: Q, mask: mask,
                         B: B, T: T, C: Q, NH: NH, causal: true)
        var dqRef = [Float](repeating: 0, count: B * T * Q), dkRef = dqRef, dvRef = dqRef
        attentionBackward(dq: &dqRef, dk: &dkRef, dv: &dvRef, scratch: &scratch, dout: dout, att: attRef,
                          q: q, k: kRepeated, v: vRepeated, ld: Q, B: B, T: T, C: Q, NH: NH, workers: workers)

        #expect((dq + dk + dv).allSatisfy { $0.isFinite }, "a gradient was accumulated into, not overwritten")
        #expect(maxAbsDifference(out, outRef) < 1e-6)
        #expect(maxAbsDifference(att, attRef) < 1e-6)
        #expect(maxAbsDifference(dq, dqRef) < 1e-5)
        #expect(maxAbsDifference(dk, sumGroups(dkRef)) < 1e-5)
        #expect(maxAbsDifference(dv, sumGroups(dvRef)) < 1e-5)
    }
}
