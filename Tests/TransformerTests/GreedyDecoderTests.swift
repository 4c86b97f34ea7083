// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing
import Transformer

@Suite struct GreedyDecoderTests {
    init() { BLAS.setThreadCount(2) }

    func model(seed: UInt64) throws -> LlamaModel {
        let file = try SmallModels.llamaGGUF(seed: seed)
        return try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
    }

    /// Last-position logits of a full forward over `ids` (no cache).
    func fullLogits(_ model: LlamaModel, _ ids: [Int32]) -> [Float] {
        let T = ids.count, C = model.hiddenSize
        let hidden = Array(model.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: [Int32](repeating: 1, count: T),
                                         batch: 1, seqLen: T))
        var logits = [Float](repeating: 0, count: model.vocabularySize)
        model.logitsForward(logits: &logits, hidden: Array(hidden[((T - 1) * C)...]), N: 1)
        return logits
    }

    /// Chunks of any length continue the cache exactly where a full forward would be, with
    /// adapter hooks (bias deltas on q and v, a shift on an RMSNorm) applied in both.
    @Test func cachedChunksMatchFullForwardWithHooks() throws {
        let model = try model(seed: 51)
        var rng = SeededGenerator(seed: 52)
        for site in model.linearSites where site.module == .qProj || site.module == .vProj {
            let hook = BiasDeltaHook(outFeatures: site.outFeatures)
            hook.delta = randomFloats(site.outFeatures, &rng, scale: 0.3)
            model.setHook(hook, for: site)
        }
        let norm = NormShiftHook(width: model.hiddenSize)
        norm.shift = randomFloats(model.hiddenSize, &rng, scale: 0.3)
        model.setNormHook(norm, for: try #require(model.normSites.last))
        let ids: [Int32] = [1, 5, 7, 2, 12, 0, 3, 3, 9, 4]
        let cache = KeyValueCache(config: model.config, capacity: ids.count)
        var consumed = 0
        for chunk in [4, 1, 3, 2] {
            let cached = Array(ids[consumed..<(consumed + chunk)].withUnsafeBufferPointer {
                model.decodeForward(tokens: $0, cache: cache)
            })
            consumed += chunk
            let full = fullLogits(model, Array(ids[0..<consumed]))
            #expect(maxAbsDifference(cached, full) < 1e-5, "after \(consumed) tokens")
            #expect(cache.count == consumed)
        }
    }

    @Test func greedyTokensAreTheArgmaxOfFullForwards() throws {
        let model = try model(seed: 53)
        let prompt: [Int32] = [4, 8, 1]
        let generated = GreedyDecoder(model: model, stopTokens: []).generate(prompt: prompt, maxNewTokens: 9)
        #expect(generated.count == 9)
        var ids = prompt
        for token in generated {
            let logits = fullLogits(model, ids)
            let best = logits.indices.max { logits[$0] < logits[$1] }
            #expect(Int32(best ?? -1) == token)
            ids.append(token)
        }
    }

    @Test func stopsAtAStopTokenOrTheContextLength() throws {
        let model = try model(seed: 53)
        let prompt: [Int32] = [4, 8, 1]
        let free = GreedyDecoder(model: model, stopTokens: []).generate(prompt: prompt, maxNewTokens: 9)
        let stop = free[4]
        let firstStop = try #require(free.firstIndex(of: stop))
        let decoder = GreedyDecoder(model: model, stopTokens: [stop])
        #expect(decoder.generate(prompt: prompt, maxNewTokens: 9) == Array(free[...firstStop]))
        #expect(decoder.generate(prompt: prompt, maxNewTokens: 0) == [])
        // context length 32: a prompt of 30 leaves two positions to feed back, so three tokens come out
        let long = [Int32](repeating: 3, count: 30)
        #expect(GreedyDecoder(model: model, stopTokens: []).generate(prompt: long, maxNewTokens: 10).count == 3)
    }
}
