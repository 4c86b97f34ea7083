// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = new tokens in this call, TK = cached positions after it, C, Q, KV, I, NH, V as in LlamaModel.
import Linalg

extension LlamaModel {
    /// Runs `tokens` at the positions after those in `cache`, appends their keys and values to
    /// it, and returns the logits of the last one.
    ///
    /// The prompt goes through in one call (prefill), then each generated token alone. Every
    /// forward hook applies, as in ``forward(inputIDs:tokenTypeIDs:attentionMask:batch:seqLen:)``,
    /// so an adapter shapes generation too; hooks see `batch` 1 and `seqLen` = the number of
    /// tokens in this call (the final norm's hook sees only the last token, seqLen 1). Works in
    /// its own scratch: the activations saved by the last `forward` stay valid for `backward`.
    /// Allocates only when a call needs more scratch than any before.
    ///
    /// - Parameters:
    ///   - tokens: `(N)`, N ≥ 1, with room for them in `cache`
    ///   - cache: a cache made for this model's configuration
    /// - Returns: `(V)`, valid until the next call.
    public func decodeForward(tokens: UnsafeBufferPointer<Int32>, cache: KeyValueCache) -> UnsafeBufferPointer<Float> {
        let N = tokens.count, start = cache.count, TK = start + N
        let C = config.hiddenSize, I = config.intermediateSize, NH = config.headCount
        let HD = config.headDim, Q = NH * HD, KV = config.kvHeadCount * HD, V = config.vocabSize
        precondition(N >= 1 && TK <= cache.capacity, "\(N) tokens after \(start) do not fit a cache of \(cache.capacity)")
        precondition(cache.layerCount == layerCount && cache.width == KV, "the cache was made for another configuration")
        guard let ids = tokens.baseAddress else { preconditionFailure("no tokens") }

        // Sized by the cache's capacity rather than TK, so that steps of one token reuse the slab.
        var cursor = SlabCursor()
        let xOffset = cursor.take(N * C), yOffset = cursor.take(N * C)   // (N, C) each: block input and output
        let a1 = cursor.take(N * C), a2 = cursor.take(N * C)             // (N, C) each
        let r1 = cursor.take(N * C), normalized = cursor.take(N * C)     // (N, C) each
        let rstd1 = cursor.take(N), rstd2 = cursor.take(N)               // (N) each
        let mask = cursor.take(N)                                        // (N), all ones
        let q = cursor.take(N * Q), ctx = cursor.take(N * Q)             // (N, Q) each
        let att = cursor.take(NH * N * cache.capacity)                   // (NH, N, TK ≤ capacity)
        let gate = cursor.take(N * I), up = cursor.take(N * I)           // (N, I) each
        let swiglu = cursor.take(N * I)                                  // (N, I)
        let final = cursor.take(C), finalRstd = cursor.take(1)           // (C), (1): the last token only
        let logits = cursor.take(V)                                      // (V)
        decodeScratch.reserve(cursor.offset)
        let d = decodeScratch.base
        if decodePositions.count < N { decodePositions = [Int32](repeating: 0, count: N) }
        for i in 0..<N { decodePositions[i] = Int32(start + i) }
        (d + mask).update(repeating: 1, count: N)

        var x = d + xOffset, y = d + yOffset
        x.update(repeating: 0, count: N * C)
        embeddingForward(out: x, ids: ids, table: tokenEmbeddings, N: N, V: V, C: C)
        hooks.hidden[0]?.forward(hidden: x, mask: d + mask, batch: 1, seqLen: N, width: C)
        for l in 0..<layerCount {
            let keys = cache.keys(l), values = cache.values(l)
            let s = BlockBuffers(a1: d + a1, rstd1: d + rstd1, q: d + q, k: keys + start * KV, v: values + start * KV,
                                 att: d + att, ctx: d + ctx, r1: d + r1, a2: d + a2, rstd2: d + rstd2,
                                 gate: d + gate, up: d + up)
            blockForward(l, out: y, x: x, s: s, swiglu: d + swiglu, normalized: d + normalized, keys: keys, values: values,
                         keyMask: nil, mask: d + mask, positions: decodePositions, B: 1, T: N, TK: TK, offset: start)
            swap(&x, &y)
        }
        cache.count = TK
        let last = x + (N - 1) * C
        rmsNormForward(out: d + final, rstd: d + finalRstd, input: last, weight: finalNorm, B: 1, T: 1, C: C,
                       epsilon: config.rmsNormEpsilon)
        hooks.norms.forwardRMS(layerCount, .finalRMSNorm, out: d + final, scratch: d + normalized, input: last,
                               rstd: d + finalRstd, B: 1, T: 1, C: C)
        logitsForward(logits: d + logits, hidden: d + final, N: 1)
        return UnsafeBufferPointer(start: d + logits, count: V)
    }
}
