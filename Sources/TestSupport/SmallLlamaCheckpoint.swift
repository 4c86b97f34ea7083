// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Transformer

/// A small random Llama checkpoint in Hugging Face form (2 blocks, hidden 16, grouped-query
/// attention: 4 query heads over 2 key/value heads, tied embeddings), for tests that need a
/// decoder whose every number they can reason about, without the real model.
public enum SmallLlamaCheckpoint {
    public static func config(vocabulary: Int) -> [String: Any] {
        ["model_type": "llama", "vocab_size": vocabulary, "hidden_size": 16, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 24,
         "max_position_embeddings": 32, "rms_norm_eps": 1e-5, "rope_theta": 10_000.0,
         "hidden_act": "silu", "tie_word_embeddings": true]
    }

    /// Hugging Face tensors (q and k rows in `rotate_half` order), drawn from `seed`.
    public static func tensors(seed: UInt64, vocabulary: Int) -> [String: Tensor] {
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
        return tensors
    }

    /// A fresh temporary model directory (`config.json`, `model.safetensors`); the caller removes it.
    public static func directory(tensors: [String: Tensor], config: [String: Any]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-llama-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        try SafetensorsFile.write(tensors, to: directory.appendingPathComponent("model.safetensors"))
        return directory
    }
}
