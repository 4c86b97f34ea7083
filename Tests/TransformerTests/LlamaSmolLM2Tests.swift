// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import TestSupport
import Testing
import Transformer

/// SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized) against transformers' float32 run of the same
/// file (testvectors/smollm2.json). The model is loaded once and shared, so the suite is serialized.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct LlamaSmolLM2Tests {
    nonisolated(unsafe) static let loaded = Result {
        try LlamaModel(ggufPath: SharedFixtures.url("models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf").path)
    }
    static let endOfTurn: Int32 = 2

    let model: LlamaModel
    let reference: [String: Any]

    init() throws {
        BLAS.setThreadCount(2)
        model = try Self.loaded.get()
        reference = try #require(try SharedFixtures.json("testvectors/smollm2.json") as? [String: Any])
    }

    func prompts() throws -> [[String: Any]] {
        try #require(reference["prompts"] as? [[String: Any]])
    }

    /// All-position logits of one unpadded sequence.
    func logits(_ ids: [Int32]) -> [Float] {
        let T = ids.count, V = model.vocabularySize
        let hidden = Array(model.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: [Int32](repeating: 1, count: T),
                                         batch: 1, seqLen: T))
        var logits = [Float](repeating: 0, count: T * V)
        model.logitsForward(logits: &logits, hidden: hidden, N: T)
        return logits
    }

    @Test func logitsMatchTransformers() throws {
        let V = model.vocabularySize
        for prompt in try prompts() {
            let ids = try int32s(prompt["input_ids"])
            let all = logits(ids)
            let last = Array(all[((ids.count - 1) * V)...])
            let top = try #require(prompt["last_logits_top10"] as? [String: Any])
            let wantIDs = try int32s(top["ids"]), wantValues = try floats(top["values"])
            let order = last.indices.sorted { last[$0] > last[$1] }.prefix(10)
            #expect(order.map { Int32($0) } == wantIDs)
            let valueError = maxAbsDifference(order.map { last[$0] }, wantValues)
            print("top-10 logits max |Δ| = \(valueError)")
            #expect(valueError <= 1e-3)
            let wantL2 = try #require(prompt["last_logits_l2"] as? Double)
            #expect(abs(l2(last) - wantL2) <= 1e-4 * wantL2, "last-position logit L2 \(l2(last)) vs \(wantL2)")
            for (t, want) in try floats(prompt["first_positions_logits_l2"]).enumerated() {
                let got = l2(Array(all[(t * V)..<((t + 1) * V)]))
                #expect(abs(got - Double(want)) <= 1e-4 * Double(want), "position \(t) logit L2 \(got) vs \(want)")
            }
        }
    }

    @Test func greedyContinuationsMatchTransformers() throws {
        let decoder = GreedyDecoder(model: model, stopTokens: [Self.endOfTurn])
        for prompt in try prompts() {
            let ids = try int32s(prompt["input_ids"])
            let generated = decoder.generate(prompt: ids, maxNewTokens: 12)
            #expect(generated == (try int32s(prompt["greedy_12"])))
        }
    }

    /// Each step's logits from the key/value cache equal those of a full forward over the
    /// whole sequence so far (a different code path: batched GEMMs, no cache).
    @Test func cachedLogitsEqualFullRecompute() throws {
        let prompt = try prompts()[1]
        var ids = try int32s(prompt["input_ids"])
        let continuation = try int32s(prompt["greedy_12"])
        let V = model.vocabularySize
        let cache = KeyValueCache(config: model.config, capacity: ids.count + continuation.count)
        var cached = Array(ids.withUnsafeBufferPointer { model.decodeForward(tokens: $0, cache: cache) })
        var worst: Float = 0
        for token in continuation {
            let full = logits(ids)
            worst = max(worst, maxAbsDifference(cached, Array(full[((ids.count - 1) * V)...])))
            ids.append(token)
            cached = Array([token].withUnsafeBufferPointer { model.decodeForward(tokens: $0, cache: cache) })
        }
        print("cached vs full-recompute logits max |Δ| = \(worst)")
        #expect(worst <= 1e-3)
        #expect(cache.count == ids.count)
    }

    /// The mean next-token cross-entropy over response tokens, and the gradient norms of four
    /// weights as adapters see them through hooks: `Σ G_sᵀX_s` at q_proj (layer 0) and
    /// down_proj (layer 15), `Σ G⊙xhat` at two RMSNorms.
    @Test func responseLossAndGradientsMatchTransformers() throws {
        let example = try #require(reference["response_loss"] as? [String: Any])
        let ids = try int32s(example["input_ids"])
        let promptTokens = try #require(example["prompt_tokens"] as? Int)
        let T = ids.count, V = model.vocabularySize, C = model.hiddenSize
        let sites = Dictionary(uniqueKeysWithValues: model.linearSites.map { ($0.parameterName, $0) })
        let norms = Dictionary(uniqueKeysWithValues: model.normSites.map { ($0.parameterName, $0) })
        let query0 = RecordingHook(), down15 = RecordingHook()
        let post29 = NormRecordingHook(), final = NormRecordingHook()
        model.setHook(query0, for: try #require(sites["model.layers.0.self_attn.q_proj"]))
        model.setHook(down15, for: try #require(sites["model.layers.15.mlp.down_proj"]))
        model.setNormHook(post29, for: try #require(norms["model.layers.29.post_attention_layernorm"]))
        model.setNormHook(final, for: try #require(norms["model.norm"]))
        defer {
            for site in model.linearSites { model.setHook(nil, for: site) }
            for site in model.normSites { model.setNormHook(nil, for: site) }
        }

        let all = logits(ids)
        // labels are -100 on the prompt; position t predicts token t+1
        var targets = [Int32](repeating: -1, count: T)
        for t in (promptTokens - 1)..<(T - 1) { targets[t] = ids[t + 1] }
        let scored = T - promptTokens
        var losses = [Float](repeating: 0, count: T), probs = [Float](repeating: 0, count: T * V)
        crossEntropyForward(losses: &losses, probs: &probs, logits: all, targets: targets, N: T, V: V)
        let loss = Double(losses.reduce(0, +)) / Double(scored)
        let wantLoss = try #require(example["loss"] as? Double)
        print("response loss \(loss) vs \(wantLoss)")
        #expect(abs(loss - wantLoss) <= 1e-4 * wantLoss)

        var dlogits = [Float](repeating: 0, count: T * V), dhidden = [Float](repeating: 0, count: T * C)
        crossEntropyBackward(dlogits: &dlogits, dlosses: [Float](repeating: 1 / Float(scored), count: T), probs: probs,
                             targets: targets, N: T, V: V)
        model.logitsBackward(dhidden: &dhidden, dlogits: dlogits, N: T)
        model.backward(lastHiddenGradient: dhidden)

        let want = try #require(example["grad_l2"] as? [String: Double])
        let got: [String: Double] = [
            "model.layers.0.self_attn.q_proj.weight": l2(query0.weightGradient),
            "model.layers.15.mlp.down_proj.weight": l2(down15.weightGradient),
            "model.layers.29.post_attention_layernorm.weight": l2(post29.perSampleWeight),
            "model.norm.weight": l2(final.perSampleWeight),
        ]
        #expect(Set(got.keys) == Set(want.keys))
        for (name, value) in got {
            let expected = try #require(want[name])
            print("\(name) gradient L2 \(value) vs \(expected)")
            #expect(abs(value - expected) <= 1e-3 * expected, "\(name): \(value) vs \(expected)")
        }
    }

    /// Per-sample norms (ghost and instantiated) and bias gradients at every projection, from a
    /// right-padded batch of the two prompts, equal those of each prompt alone.
    @Test func perSampleQuantitiesMatchBatchesOfOne() throws {
        let all = try prompts().map { try int32s($0["input_ids"]) }
        let T = all.map(\.count).max() ?? 0
        let ids = all.flatMap { $0 + [Int32](repeating: Self.endOfTurn, count: T - $0.count) }
        expectPerSampleQuantitiesMatchBatchesOfOne(backbone: model, ids: ids, lengths: all.map(\.count), T: T, seed: 41)
    }
}
