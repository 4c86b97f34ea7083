// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Tokenizers
import Transformer

/// A small random Llama (GQA: 4 query heads over 2 key/value heads, vocabulary 27) with LoRA
/// hooks on q and v, and a tokenizer over the same ids whose id 0 is `<|im_end|>`.
enum SmallLlamaFixture {
    static let vocabulary = 27

    static func model(seed: UInt64) throws -> LlamaModel {
        let C = 16, I = 24, V = vocabulary, Q = 16, KV = 8
        var rng = SeededGenerator(seed: seed)
        var tensors: [String: Tensor] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.4, offset: Float = 0) {
            let values = (0..<shape.reduce(1, *)).map { _ in Float(rng.nextStandardNormal()) * scale + offset }
            tensors[name] = Tensor(shape: shape, data: values)
        }
        add("model.embed_tokens.weight", [V, C], scale: 1)
        add("model.norm.weight", [C], scale: 0.2, offset: 1)
        for l in 0..<2 {
            let p = "model.layers.\(l)."
            for (module, i, o) in [("self_attn.q_proj", C, Q), ("self_attn.k_proj", C, KV), ("self_attn.v_proj", C, KV),
                                   ("self_attn.o_proj", Q, C), ("mlp.gate_proj", C, I), ("mlp.up_proj", C, I),
                                   ("mlp.down_proj", I, C)] {
                add(p + module + ".weight", [o, i])
            }
            add(p + "input_layernorm.weight", [C], scale: 0.2, offset: 1)
            add(p + "post_attention_layernorm.weight", [C], scale: 0.2, offset: 1)
        }
        let config: [String: Any] = [
            "model_type": "llama", "vocab_size": V, "hidden_size": C, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": I,
            "max_position_embeddings": 32, "rms_norm_eps": 1e-5, "rope_theta": 10_000.0,
            "hidden_act": "silu", "tie_word_embeddings": true]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-small-llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        try SafetensorsFile.write(tensors, to: directory.appendingPathComponent("model.safetensors"))
        return try LlamaModel(directory: directory)
    }

    /// `<|im_end|>` then the letters a…z, no merges.
    static func tokenizer() throws -> ByteLevelBPETokenizer {
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        return try ByteLevelBPETokenizer(tokens: ["<|im_end|>"] + letters, merges: [], specialTokenIDs: [0], preTokenizer: .gpt2)
    }

    /// Rank-2 LoRA on every q and v projection, with A and B drawn at random (B is zero at a
    /// real start, which would leave A's gradient zero), attached to `model`.
    static func lowRankParameters(on model: LlamaModel, seed: UInt64) -> (TrainableParameters, [LowRankUpdate]) {
        let parameters = TrainableParameters()
        let updates = model.linearSites.filter { $0.module == .qProj || $0.module == .vProj }.map { site in
            LowRankUpdate(site: site, rank: 2, scale: 2, down: .trainable(name: site.parameterName + ".A"),
                          upName: site.parameterName + ".B", parameters: parameters)
        }
        var generator = SeededGenerator(seed: seed)
        parameters.seal(generator: &generator)
        for i in parameters.flatValues.indices { parameters.flatValues[i] = Float(generator.nextStandardNormal()) * 0.3 }
        for update in updates { model.setHook(update, for: update.site) }
        return (parameters, updates)
    }
}
