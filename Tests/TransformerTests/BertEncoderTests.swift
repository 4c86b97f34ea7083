// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import TestSupport
import Testing
import Transformer

@Suite struct BertEncoderTests {
    init() { BLAS.setThreadCount(2) }

    /// all-MiniLM-L6-v2 against PyTorch (testvectors/minilm.json): outputs, the gradients
    /// of `Σ last_hidden·R·mask` obtained through hooks, and per-sample gradient norms.
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func matchesPyTorchOnMiniLM() throws {
        let reference = try #require(try SharedFixtures.json("testvectors/minilm.json") as? [String: Any])
        let ids = try int32s(reference["input_ids"]), mask = try int32s(reference["attention_mask"])
        let types = try int32s(reference["token_type_ids"])
        let shape = try floats(reference["shape"]).map { Int($0) }
        let B = shape[0], T = shape[1], C = shape[2]
        let directory = SharedFixtures.url("models/minilm-l6")
        let encoder = try BertEncoder(directory: directory)
        #expect(encoder.hiddenSize == C)

        let sites = Dictionary(uniqueKeysWithValues: encoder.linearSites.map { ($0.parameterName, $0) })
        let query0 = RecordingHook(), output5 = RecordingHook(), intermediate2 = RecordingHook()
        encoder.setHook(query0, for: try #require(sites["encoder.layer.0.attention.self.query"]))
        encoder.setHook(output5, for: try #require(sites["encoder.layer.5.output.dense"]))
        encoder.setHook(intermediate2, for: try #require(sites["encoder.layer.2.intermediate.dense"]))
        let embeddingNorm = NormRecordingHook()
        encoder.setNormHook(embeddingNorm, for: try #require(encoder.normSites.first { $0.module == .embeddings }))

        let hidden = Array(encoder.forward(inputIDs: ids, tokenTypeIDs: types, attentionMask: mask, batch: B, seqLen: T))
        let hiddenError = maxAbsDifference(hidden, try floats(reference["last_hidden_state"]))
        print("last hidden state max |Δ| = \(hiddenError)")
        #expect(hiddenError <= 1e-4, "last hidden state max |Δ| = \(hiddenError)")
        let poolerError = maxAbsDifference(try #require(encoder.pooledOutput()), try floats(reference["pooler_output"]))
        print("pooler max |Δ| = \(poolerError)")
        #expect(poolerError <= 1e-4, "pooler max |Δ| = \(poolerError)")
        var pooled = [Float](repeating: 0, count: B * C)
        let floatMask = mask.map(Float.init)
        meanPoolingForward(out: &pooled, hidden: hidden, mask: floatMask, B: B, T: T, C: C)
        let pooledError = maxAbsDifference(pooled, try floats(reference["mean_pooled"]))
        print("mean pooled max |Δ| = \(pooledError)")
        #expect(pooledError <= 1e-4, "mean pooled max |Δ| = \(pooledError)")

        // loss = Σ h·R·mask  ⇒  ∂loss/∂h = R (the encoder drops padding rows itself)
        encoder.backward(lastHiddenGradient: try floats(reference["R"]))
        let batch = try #require(reference["batch_gradients"] as? [String: Any])
        let perSample = try #require(reference["per_sample_gradient_l2"] as? [String: Any])

        func expectVector(_ got: [Float], _ name: String) throws {
            let error = maxAbsDifference(got, try floats(batch[name]))
            print("\(name) max |Δ| = \(error)")
            #expect(error <= 1e-4, "\(name) max |Δ| = \(error)")
        }
        func expectNorms(_ got: [Double], _ name: String) throws {
            let want = try floats(perSample[name])
            print("\(name) per-sample norms \(got) vs \(want)")
            for (g, w) in zip(got, want) {
                #expect(abs(g - Double(w)) <= 1e-3 * Double(w), "\(name) per-sample norm \(g) vs \(w)")
            }
        }
        func rowNorms(_ rows: [Float], width: Int) -> [Double] {
            stride(from: 0, to: rows.count, by: width).map { l2(Array(rows[$0..<($0 + width)])) }
        }

        try expectVector(query0.biasGradient, "encoder.layer.0.attention.self.query.bias")
        try expectVector(output5.biasGradient, "encoder.layer.5.output.dense.bias")
        try expectNorms(rowNorms(query0.perSampleBias, width: C), "encoder.layer.0.attention.self.query.bias")
        try expectNorms(rowNorms(output5.perSampleBias, width: C), "encoder.layer.5.output.dense.bias")

        let weightNorm = l2(intermediate2.weightGradient)
        let wantNorm = try #require((batch["encoder.layer.2.intermediate.dense.weight"] as? [String: Any])?["l2"] as? Double)
        #expect(abs(weightNorm - wantNorm) <= 1e-3 * wantNorm, "intermediate weight gradient norm \(weightNorm) vs \(wantNorm)")
        try expectNorms(intermediate2.ghostSquaredNorms.map { Double($0).squareRoot() }, "encoder.layer.2.intermediate.dense.weight")
        try expectNorms(intermediate2.instantiatedSquaredNorms.map { Double($0).squareRoot() }, "encoder.layer.2.intermediate.dense.weight")

        // embeddings.LayerNorm: out = xhat·w + b  ⇒  ∂loss/∂w = Σ_t G⊙xhat
        let normGradient = embeddingNorm.perSampleWeight   // (B, C)
        var normBatch = [Float](repeating: 0, count: C)
        for s in 0..<B { for c in 0..<C { normBatch[c] += normGradient[s * C + c] } }
        try expectVector(normBatch, "embeddings.LayerNorm.weight")
        try expectNorms(rowNorms(normGradient, width: C), "embeddings.LayerNorm.weight")
    }

    @Test func hookGradientsMatchFiniteDifferencesOnSmallRandomBert() throws {
        let directory = try SmallModels.bert(seed: 11)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encoder = try BertEncoder(directory: directory)
        let B = 2, T = 5
        let ids: [Int32] = [1, 5, 7, 2, 0, 1, 9, 3, 3, 2]
        let mask: [Int32] = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]
        expectHookGradientsMatchFiniteDifferences(backbone: encoder, ids: ids, mask: mask, B: B, T: T, seed: 12)
    }

    /// The slab grows for a larger batch and is reused: results do not depend on history,
    /// and skipping backward below the lowest hook leaves the hooked gradients unchanged.
    @Test func slabReuseAndPartialBackwardAreConsistent() throws {
        let directory = try SmallModels.bert(seed: 14)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encoder = try BertEncoder(directory: directory)
        let C = encoder.hiddenSize
        let ids: [Int32] = [1, 4, 6, 2], mask: [Int32] = [1, 1, 1, 0]
        let first = Array(encoder.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 4))
        _ = encoder.forward(inputIDs: [Int32](repeating: 3, count: 3 * 7), tokenTypeIDs: nil,
                            attentionMask: [Int32](repeating: 1, count: 3 * 7), batch: 3, seqLen: 7)
        let again = Array(encoder.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 4))
        #expect(first == again)

        let top = RecordingHook()
        encoder.setHook(top, for: try #require(encoder.linearSites.last))
        var rng = SeededGenerator(seed: 15)
        let gradient = randomFloats(4 * C, &rng)
        _ = encoder.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 4)
        encoder.backward(lastHiddenGradient: gradient)
        let partial = top.weightGradient
        let bottom = RecordingHook()
        encoder.setHook(bottom, for: encoder.linearSites[0])
        _ = encoder.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 4)
        encoder.backward(lastHiddenGradient: gradient)
        #expect(top.weightGradient == partial)
        #expect(l2(bottom.weightGradient) > 0)
    }

    @Test func perSampleQuantitiesMatchBatchesOfOne() throws {
        let directory = try SmallModels.bert(seed: 16)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encoder = try BertEncoder(directory: directory)
        let ids: [Int32] = [1, 5, 7, 2, 0, 0, 1, 9, 3, 3, 2, 4, 1, 8, 2, 0, 0, 0]
        expectPerSampleQuantitiesMatchBatchesOfOne(backbone: encoder, ids: ids, lengths: [4, 6, 3], T: 6, seed: 17)
    }

    /// Padding must not change the real tokens' hidden states (attention masks it out).
    @Test func paddingDoesNotLeakIntoRealTokens() throws {
        let directory = try SmallModels.bert(seed: 13)
        defer { try? FileManager.default.removeItem(at: directory) }
        let encoder = try BertEncoder(directory: directory)
        let C = encoder.hiddenSize
        let short = Array(encoder.forward(inputIDs: [1, 4, 6], tokenTypeIDs: nil, attentionMask: [1, 1, 1], batch: 1, seqLen: 3))
        let padded = Array(encoder.forward(inputIDs: [1, 4, 6, 8, 9], tokenTypeIDs: nil, attentionMask: [1, 1, 1, 0, 0],
                                           batch: 1, seqLen: 5))
        #expect(maxAbsDifference(short, Array(padded[0..<(3 * C)])) < 1e-5)
    }
}

/// Tiny random models written to temporary directories in Hugging Face layout.
enum SmallModels {
    static func bert(seed: UInt64) throws -> URL {
        let config = BertConfig(vocabSize: 11, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2,
                                intermediateSize: 12, maxPositionEmbeddings: 16)
        let C = 8, I = 12
        var rng = SeededGenerator(seed: seed)
        var tensors: [String: Tensor] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.4, offset: Float = 0) {
            tensors[name] = Tensor(shape: shape, data: randomFloats(shape.reduce(1, *), &rng, scale: scale).map { $0 + offset })
        }
        add("embeddings.word_embeddings.weight", [11, C])
        add("embeddings.position_embeddings.weight", [16, C])
        add("embeddings.token_type_embeddings.weight", [2, C])
        add("embeddings.LayerNorm.weight", [C], scale: 0.2, offset: 1)
        add("embeddings.LayerNorm.bias", [C], scale: 0.1)
        for l in 0..<2 {
            let p = "encoder.layer.\(l)."
            for (module, i, o) in [("attention.self.query", C, C), ("attention.self.key", C, C), ("attention.self.value", C, C),
                                   ("attention.output.dense", C, C), ("intermediate.dense", C, I), ("output.dense", I, C)] {
                add(p + module + ".weight", [o, i])
                add(p + module + ".bias", [o], scale: 0.1)
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                add(p + norm + ".weight", [C], scale: 0.2, offset: 1)
                add(p + norm + ".bias", [C], scale: 0.1)
            }
        }
        add("pooler.dense.weight", [C, C])
        add("pooler.dense.bias", [C])
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any] ?? [:]
        json["model_type"] = "bert"
        return try write(tensors, config: json)
    }

    static func gpt2(seed: UInt64) throws -> URL {
        let C = 8, I = 32, V = 13, P = 16, L = 2
        var rng = SeededGenerator(seed: seed)
        var tensors: [String: Tensor] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.4, offset: Float = 0) {
            tensors[name] = Tensor(shape: shape, data: randomFloats(shape.reduce(1, *), &rng, scale: scale).map { $0 + offset })
        }
        add("transformer.wte.weight", [V, C])
        add("transformer.wpe.weight", [P, C])
        add("transformer.ln_f.weight", [C], scale: 0.2, offset: 1)
        add("transformer.ln_f.bias", [C], scale: 0.1)
        for l in 0..<L {
            let p = "transformer.h.\(l)."
            for (module, i, o) in [("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C), ("mlp.c_fc", C, I), ("mlp.c_proj", I, C)] {
                add(p + module + ".weight", [i, o])
                add(p + module + ".bias", [o], scale: 0.1)
            }
            for norm in ["ln_1", "ln_2"] {
                add(p + norm + ".weight", [C], scale: 0.2, offset: 1)
                add(p + norm + ".bias", [C], scale: 0.1)
            }
        }
        let config: [String: Any] = ["model_type": "gpt2", "vocab_size": V, "n_embd": C, "n_layer": L, "n_head": 2,
                                     "n_inner": NSNull(), "n_positions": P, "layer_norm_epsilon": 1e-5,
                                     "activation_function": "gelu_new"]
        return try write(tensors, config: config)
    }

    private static func write(_ tensors: [String: Tensor], config: [String: Any]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        try SafetensorsFile.write(tensors, to: directory.appendingPathComponent("model.safetensors"))
        return directory
    }
}
