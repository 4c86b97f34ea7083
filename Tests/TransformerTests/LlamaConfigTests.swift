// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import Transformer

@Suite struct LlamaConfigTests {
    static func metadata(_ extra: [(key: String, value: GGUFValue)] = []) -> GGUFMetadata {
        var metadata = GGUFMetadata([
            ("general.architecture", .string("llama")), ("llama.block_count", .uint32(2)),
            ("llama.context_length", .uint32(128)), ("llama.embedding_length", .uint32(16)),
            ("llama.feed_forward_length", .uint32(40)), ("llama.attention.head_count", .uint32(4)),
            ("llama.attention.head_count_kv", .uint32(2)), ("llama.rope.freq_base", .float32(500_000)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-6)),
            ("tokenizer.ggml.tokens", .array(.string, (0..<10).map { .string("t\($0)") })),
        ])!
        for (key, value) in extra { metadata[key] = value }
        return metadata
    }

    static func file(_ metadata: GGUFMetadata, outputWeight: Bool = false) throws -> GGUFFile {
        var writer = GGUFWriter(metadata: metadata)
        if outputWeight { writer.addTensor(name: "output.weight", shape: [10, 16], values: Array(repeating: 0, count: 160)) }
        return try GGUFFile(bytes: writer.serialized(), name: "tiny.gguf")
    }

    static func code(_ body: () throws -> LlamaConfig) -> LlamaConfigError.Code? {
        do {
            _ = try body()
            return nil
        } catch let error as LlamaConfigError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test func fromGGUFMetadata() throws {
        let config = try LlamaConfig(gguf: try Self.file(Self.metadata()))
        #expect(config == (try LlamaConfig(
            layerCount: 2, hiddenSize: 16, intermediateSize: 40, headCount: 4, kvHeadCount: 2, headDim: 4,
            vocabSize: 10, contextLength: 128, ropeTheta: 500_000, rmsNormEpsilon: 1e-6, tieWordEmbeddings: true)))
        #expect(try LlamaConfig(gguf: try Self.file(Self.metadata(), outputWeight: true)).tieWordEmbeddings == false)
    }

    @Test func ggufErrorsNameTheKey() throws {
        var missing = Self.metadata()
        missing["llama.block_count"] = nil
        let error = #expect(throws: LlamaConfigError.self) { try LlamaConfig(gguf: try Self.file(missing)) }
        #expect(error?.code == .missingField && error?.message.contains("llama.block_count") == true && error?.source == "tiny.gguf")
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("general.architecture", .string("gpt2"))]))) } == .unsupported)
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("llama.vocab_size", .uint32(11))]))) } == .invalidValue)
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("llama.block_count", .string("2"))]))) } == .invalidValue)
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("llama.attention.head_count_kv", .uint32(3))]))) } == .invalidValue)
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("llama.rope.dimension_count", .uint32(2))]))) } == .unsupported)
        #expect(Self.code { try LlamaConfig(gguf: try Self.file(Self.metadata([("llama.rope.scaling.type", .string("yarn"))]))) } == .unsupported)
    }

    static let json = """
        {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 16, "intermediate_size": 40,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 10, "max_position_embeddings": 128,
         "rms_norm_eps": 1e-06, "rope_theta": 500000.0, "tie_word_embeddings": true, "hidden_act": "silu"}
        """

    static func fromJSON(_ text: String) throws -> LlamaConfig {
        try LlamaConfig(huggingFaceConfig: Data(text.utf8), source: "config.json")
    }

    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> String {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        edit(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    @Test func fromHuggingFaceConfig() throws {
        let gguf = try LlamaConfig(gguf: try Self.file(Self.metadata()))
        #expect(try Self.fromJSON(Self.json) == gguf)
        let nested = try Self.edited {
            $0["rope_theta"] = nil
            $0["rope_parameters"] = ["rope_theta": 500000.0, "rope_type": "default"]
        }
        #expect(try Self.fromJSON(nested) == gguf)
        #expect(try Self.fromJSON(try Self.edited { $0["rope_theta"] = nil }).ropeTheta == 10_000)
    }

    @Test func huggingFaceErrors() throws {
        #expect(Self.code { try Self.fromJSON("[1, 2]") } == .malformed)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["hidden_size"] = nil }) } == .missingField)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["model_type"] = "gpt2" }) } == .unsupported)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["attention_bias"] = true }) } == .unsupported)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["hidden_act"] = "gelu" }) } == .unsupported)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["rope_scaling"] = ["rope_type": "llama3"] }) } == .unsupported)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["num_attention_heads"] = 0 }) } == .invalidValue)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["hidden_size"] = "16" }) } == .invalidValue)
        #expect(Self.code { try Self.fromJSON(try Self.edited { $0["rms_norm_eps"] = -1.0 }) } == .invalidValue)
    }
}
