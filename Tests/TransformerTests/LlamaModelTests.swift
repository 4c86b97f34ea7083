// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import TestSupport
import Testing
import Transformer

/// A small random Llama (GQA: 4 query heads over 2 key/value heads) in both file formats.
extension SmallModels {
    static let llamaVocabulary = 13
    static var llamaConfig: [String: Any] { SmallLlamaCheckpoint.config(vocabulary: llamaVocabulary) }

    static func llamaTensors(seed: UInt64) -> [String: Tensor] {
        SmallLlamaCheckpoint.tensors(seed: seed, vocabulary: llamaVocabulary)
    }

    static func llamaDirectory(seed: UInt64) throws -> URL {
        try SmallLlamaCheckpoint.directory(tensors: llamaTensors(seed: seed), config: llamaConfig)
    }

    static func llamaGGUF(seed: UInt64) throws -> GGUFFile {
        try GGUFFile(bytes: llamaGGUFBytes(seed: seed), name: "small-llama.gguf")
    }

    /// The same weights as llama.cpp's converter writes them: GGUF names, q and k rows permuted
    /// for adjacent-pair RoPE (GGUF row `h·HD + 2i + j` holds HF row `h·HD + j·HD/2 + i`).
    static func llamaGGUFBytes(seed: UInt64) throws -> [UInt8] {
        let tensors = llamaTensors(seed: seed)
        let metadata = GGUFMetadata([
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(2)),
            ("llama.context_length", .uint32(32)), ("llama.embedding_length", .uint32(16)),
            ("llama.feed_forward_length", .uint32(24)), ("llama.attention.head_count", .uint32(4)),
            ("llama.attention.head_count_kv", .uint32(2)), ("llama.rope.freq_base", .float32(10_000)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("tokenizer.ggml.tokens", .array(.string, (0..<13).map { .string("t\($0)") })),
        ])
        var writer = GGUFWriter(metadata: try #require(metadata))
        func add(_ gguf: String, _ hf: String, rotaryHeads: Int? = nil) throws {
            let tensor = try #require(tensors[hf])
            var values = tensor.scalars
            if let heads = rotaryHeads {
                let columns = tensor.shape[1], headDim = tensor.shape[0] / heads, half = headDim / 2
                for h in 0..<heads {
                    for i in 0..<half {
                        for j in 0..<2 {
                            let to = (h * headDim + 2 * i + j) * columns, from = (h * headDim + j * half + i) * columns
                            values.replaceSubrange(to..<(to + columns), with: tensor.scalars[from..<(from + columns)])
                        }
                    }
                }
            }
            writer.addTensor(name: gguf, shape: tensor.shape, values: values)
        }
        try add("token_embd.weight", "model.embed_tokens.weight")
        try add("output_norm.weight", "model.norm.weight")
        for l in 0..<2 {
            let p = "model.layers.\(l).", b = "blk.\(l)."
            try add(b + "attn_norm.weight", p + "input_layernorm.weight")
            try add(b + "attn_q.weight", p + "self_attn.q_proj.weight", rotaryHeads: 4)
            try add(b + "attn_k.weight", p + "self_attn.k_proj.weight", rotaryHeads: 2)
            try add(b + "attn_v.weight", p + "self_attn.v_proj.weight")
            try add(b + "attn_output.weight", p + "self_attn.o_proj.weight")
            try add(b + "ffn_norm.weight", p + "post_attention_layernorm.weight")
            try add(b + "ffn_gate.weight", p + "mlp.gate_proj.weight")
            try add(b + "ffn_up.weight", p + "mlp.up_proj.weight")
            try add(b + "ffn_down.weight", p + "mlp.down_proj.weight")
        }
        return writer.serialized()
    }
}

@Suite struct LlamaModelTests {
    init() { BLAS.setThreadCount(2) }

    /// The GGUF loader's un-permutation of q and k and the safetensors loader agree, and
    /// ``loadBackbone(url:)`` recognises both.
    @Test func ggufAndSafetensorsGiveTheSameModel() throws {
        let directory = try SmallModels.llamaDirectory(seed: 31)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fromSafetensors = try #require(try loadBackbone(directory: directory) as? LlamaModel)
        let file = try SmallModels.llamaGGUF(seed: 31)
        let fromGGUF = try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
        #expect(fromGGUF.config == fromSafetensors.config)
        let ids: [Int32] = [1, 5, 7, 2, 12, 0, 3]
        let mask = [Int32](repeating: 1, count: 7)
        let a = Array(fromSafetensors.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 7))
        let b = Array(fromGGUF.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 7))
        #expect(maxAbsDifference(a, b) == 0)

        let path = directory.appendingPathComponent("small.gguf")
        let ggufDirectory = directory.appendingPathComponent("gguf-only")
        try FileManager.default.createDirectory(at: ggufDirectory, withIntermediateDirectories: true)
        let bytes = Data(try SmallModels.llamaGGUFBytes(seed: 31))
        try bytes.write(to: path)
        try bytes.write(to: ggufDirectory.appendingPathComponent("model.gguf"))
        // a .gguf path; a directory with only a .gguf; a Llama config.json beside a .gguf
        let configDirectory = directory.appendingPathComponent("config-and-gguf")
        try FileManager.default.createDirectory(at: configDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: directory.appendingPathComponent("config.json"),
                                         to: configDirectory.appendingPathComponent("config.json"))
        try bytes.write(to: configDirectory.appendingPathComponent("model.Q8_0.gguf"))
        for url in [path, ggufDirectory, configDirectory] {
            let loaded = try #require(try loadBackbone(url: url) as? LlamaModel)
            let c = Array(loaded.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: 1, seqLen: 7))
            #expect(maxAbsDifference(a, c) == 0)
        }
        try bytes.write(to: ggufDirectory.appendingPathComponent("other.gguf"))
        #expect(throws: ModelLoadingError(.missingWeight, "")) { try loadBackbone(url: ggufDirectory) }
        #expect(throws: ModelLoadingError(.missingWeight, "")) {
            try loadBackbone(directory: ggufDirectory.appendingPathComponent("absent"))
        }
    }

    /// Grouped-query attention equals multi-head attention with each key/value head repeated
    /// for the query heads of its group (head h reads key/value head h / (NH / NKV)).
    @Test func groupedQueryAttentionEqualsRepeatedHeads() throws {
        let tensors = SmallModels.llamaTensors(seed: 30)
        var repeated = tensors
        let HD = 4, C = 16
        for l in 0..<2 {
            for name in ["k_proj", "v_proj"] {
                let key = "model.layers.\(l).self_attn.\(name).weight"
                let rows = try #require(tensors[key]).scalars
                let headSize = HD * C
                var heads: [Float] = []
                for h in 0..<4 {
                    let start = (h / 2) * headSize
                    heads += rows[start..<(start + headSize)]
                }
                repeated[key] = Tensor(shape: [4 * HD, C], data: heads)
            }
        }
        var config = SmallModels.llamaConfig
        config["num_key_value_heads"] = 4
        let grouped = try SmallLlamaCheckpoint.directory(tensors: tensors, config: SmallModels.llamaConfig)
        let full = try SmallLlamaCheckpoint.directory(tensors: repeated, config: config)
        defer {
            try? FileManager.default.removeItem(at: grouped)
            try? FileManager.default.removeItem(at: full)
        }
        let ids: [Int32] = [2, 7, 1, 8, 2, 8]
        let mask = [Int32](repeating: 1, count: 6)
        let a = Array(try LlamaModel(directory: grouped).forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask,
                                                                 batch: 1, seqLen: 6))
        let b = Array(try LlamaModel(directory: full).forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask,
                                                              batch: 1, seqLen: 6))
        #expect(maxAbsDifference(a, b) < 1e-5)
    }

    @Test func sitesAreNamedLikeHuggingFace() throws {
        let file = try SmallModels.llamaGGUF(seed: 32)
        let model = try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
        #expect(model.linearSites.count == 14 && model.normSites.count == 5)
        #expect(model.linearSites.prefix(7).map(\.module.shortName) == ["q_proj", "k_proj", "v_proj", "o_proj",
                                                                          "gate_proj", "up_proj", "down_proj"])
        let k = model.linearSites[1]
        #expect(k.parameterName == "model.layers.0.self_attn.k_proj" && k.inFeatures == 16 && k.outFeatures == 8)
        #expect(k.weightLayout == .outIn)
        #expect(model.normSites.map(\.parameterName) == [
            "model.layers.0.input_layernorm", "model.layers.0.post_attention_layernorm",
            "model.layers.1.input_layernorm", "model.layers.1.post_attention_layernorm", "model.norm"])
    }

    /// Central differences of `Σ last_hidden · R` against the gradients backward hands to hooks
    /// (bias deltas on the projections of both layers, RMSNorm shifts, a hidden-state shift).
    @Test func hookGradientsMatchFiniteDifferences() throws {
        let directory = try SmallModels.llamaDirectory(seed: 33)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = try LlamaModel(directory: directory)
        let ids: [Int32] = [1, 5, 7, 2, 0, 0, 1, 9, 3, 12, 2, 4]
        let mask: [Int32] = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]
        expectHookGradientsMatchFiniteDifferences(backbone: model, ids: ids, mask: mask, B: 2, T: 6, seed: 34)
    }

    /// The activation gradient at the embeddings, element by element, against central differences.
    ///
    /// Float32 only, so the step is large: with h = 1e-2 the central difference's truncation error
    /// is O(h²·f''') ≈ 1e-4 of the gradient's scale (≈ 3), and each loss (160 Float32 products
    /// summed in Double) carries ~1e-6 of rounding, ≈ 5e-5 after dividing by 2h. Measured worst:
    /// 3e-4 of the scale; the 2e-3 tolerance leaves room for that, while a wrong or missing term
    /// (RoPE's direction, a query head reading the wrong key/value head) errs by O(1).
    @Test func embeddingGradientMatchesFiniteDifferences() throws {
        let file = try SmallModels.llamaGGUF(seed: 35)
        let model = try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
        let B = 2, T = 5, C = model.hiddenSize
        let ids: [Int32] = [3, 1, 4, 1, 5, 9, 2, 6, 0, 0]
        let mask: [Int32] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
        var rng = SeededGenerator(seed: 36)
        let r = randomFloats(B * T * C, &rng)
        let probe = ElementShiftHook()
        model.setHiddenStateHook(probe, atBoundary: 0)
        func loss() -> Double {
            let h = model.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T)
            var total: Double = 0
            for n in 0..<(B * T * C) where mask[n / C] != 0 { total += Double(h[n]) * Double(r[n]) }
            return total
        }
        _ = loss()
        model.backward(lastHiddenGradient: r)
        let analytic = probe.gradient
        var worst: Double = 0, scale: Double = 1e-6
        for n in stride(from: 0, to: B * T * C, by: 7) {
            let step: Float = 1e-2
            probe.index = n
            probe.delta = step
            let plus = loss()
            probe.delta = -step
            let minus = loss()
            probe.delta = 0
            let numeric = (plus - minus) / Double(2 * step)
            worst = max(worst, abs(numeric - Double(analytic[n])))
            scale = max(scale, abs(numeric))
            if mask[n / C] == 0 { #expect(analytic[n] == 0, "padding row \(n / C) has gradient \(analytic[n])") }
        }
        print("embedding gradient: max |analytic - numeric| = \(worst) (scale \(scale))")
        #expect(worst / scale < 2e-3, "max |analytic - numeric| = \(worst) (scale \(scale))")
    }

    @Test func perSampleQuantitiesMatchBatchesOfOne() throws {
        let file = try SmallModels.llamaGGUF(seed: 37)
        let model = try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
        let ids: [Int32] = [1, 5, 7, 2, 0, 0, 1, 9, 3, 3, 2, 4, 11, 8, 2, 0, 0, 0]
        expectPerSampleQuantitiesMatchBatchesOfOne(backbone: model, ids: ids, lengths: [4, 6, 3], T: 6, seed: 38)
    }

    /// Causality, and padding: a right- or left-padded row equals the row alone.
    @Test func paddingAndLaterTokensDoNotChangeRealPositions() throws {
        let file = try SmallModels.llamaGGUF(seed: 39)
        let model = try LlamaModel(config: LlamaConfig(gguf: file), gguf: file)
        let C = model.hiddenSize
        let alone = Array(model.forward(inputIDs: [3, 4, 5], tokenTypeIDs: nil, attentionMask: [1, 1, 1], batch: 1, seqLen: 3))
        let longer = Array(model.forward(inputIDs: [3, 4, 5, 11], tokenTypeIDs: nil, attentionMask: [1, 1, 1, 1],
                                         batch: 1, seqLen: 4))
        // Not bit-equal on OpenBLAS (the products on a CPU without AVX-512F): its Haswell SGEMM
        // rounds a row differently with the number of rows in the product (3 vs 4 here gave
        // 2.4e-6); a causal leak would be far larger.
        #expect(maxAbsDifference(alone, Array(longer[0..<(3 * C)])) < 1e-5)
        let padded = Array(model.forward(inputIDs: [3, 4, 5, 0, 9, 3, 4, 5], tokenTypeIDs: nil,
                                         attentionMask: [1, 1, 1, 0, 0, 1, 1, 1], batch: 2, seqLen: 4))
        #expect(maxAbsDifference(alone, Array(padded[0..<(3 * C)])) < 1e-5)
        #expect(maxAbsDifference(alone, Array(padded[(5 * C)...])) < 1e-5)
    }
}

/// Adds `delta` to one element of the hidden states at a boundary; records their gradient.
final class ElementShiftHook: HiddenStateHook {
    var index = 0
    var delta: Float = 0
    var gradient: [Float] = []

    func forward(hidden: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        hidden[index] += delta
    }

    func backward(hiddenGradient: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        gradient = Array(UnsafeBufferPointer(start: hiddenGradient, count: batch * seqLen * width))
    }
}
