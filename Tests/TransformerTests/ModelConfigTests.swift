// SPDX-License-Identifier: Apache-2.0
import Foundation
import TestSupport
import Testing
import Transformer

@Suite struct ModelConfigTests {
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func decodesTheSharedModels() throws {
        guard case .bert(let bert) = try ModelConfig(directory: SharedFixtures.url("models/minilm-l6")) else {
            Issue.record("minilm-l6 is not decoded as BERT")
            return
        }
        #expect(bert.hiddenSize == 384 && bert.numHiddenLayers == 6 && bert.numAttentionHeads == 12)
        #expect(bert.intermediateSize == 1536 && bert.vocabSize == 30522 && bert.layerNormEps == 1e-12)
        #expect(bert.geluForm == .erf)
        guard case .gpt2(let gpt2) = try ModelConfig(directory: SharedFixtures.url("models/tiny-gpt2")) else {
            Issue.record("tiny-gpt2 is not decoded as GPT-2")
            return
        }
        #expect(gpt2.nEmbd == 64 && gpt2.nLayer == 2 && gpt2.nHead == 4 && gpt2.innerSize == 256)
        #expect(gpt2.geluForm == .tanh)
    }

    /// The family the daemon checks each objective against at intake, from `config.json`
    /// alone: MiniLM is a BERT encoder, tiny-gpt2 a GPT-2 decoder, SmolLM2 a Llama decoder,
    /// and so is a directory with one GGUF file and no `config.json`; an empty directory, a
    /// config without `model_type` and one naming an architecture the engine lacks are refused.
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func tellsTheFamilyFromConfigAlone() throws {
        #expect(try backboneFamily(directory: SharedFixtures.url("models/minilm-l6")) == .bertEncoder)
        #expect(try backboneFamily(directory: SharedFixtures.url("models/tiny-gpt2")) == .gpt2Decoder)
        #expect(try backboneFamily(directory: SharedFixtures.url("models/smollm2-135m-instruct")) == .llamaDecoder)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-family-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect { try backboneFamily(directory: directory) } throws: { ($0 as? ModelLoadingError)?.code == .missingWeight }
        try Data().write(to: directory.appendingPathComponent("model.gguf"))
        #expect(try backboneFamily(directory: directory) == .llamaDecoder)
        let config = directory.appendingPathComponent("config.json")
        try Data(#"{"hidden_size": 8}"#.utf8).write(to: config)
        #expect { try backboneFamily(directory: directory) } throws: { ($0 as? ModelLoadingError)?.code == .badConfig }
        try Data(#"{"model_type": "t5"}"#.utf8).write(to: config)
        #expect { try backboneFamily(directory: directory) } throws: {
            ($0 as? ModelLoadingError)?.code == .unsupportedArchitecture
        }
    }

    @Test func refusesMalformedAndUnsupportedConfigs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("config.json")
        func expectCode(_ json: String, _ code: ModelLoadingError.Code, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try Data(json.utf8).write(to: url)
            #expect(sourceLocation: sourceLocation) { try ModelConfig(directory: directory) } throws: { error in
                (error as? ModelLoadingError)?.code == code
            }
        }
        try expectCode("not json", .badConfig)
        try expectCode(#"{"model_type": "llama"}"#, .unsupportedArchitecture)
        try expectCode(#"{"model_type": "bert", "hidden_size": 384}"#, .badConfig)
        let bert = #""vocab_size":10,"hidden_size":10,"num_hidden_layers":1,"num_attention_heads":3,"intermediate_size":4,"max_position_embeddings":8,"type_vocab_size":2,"layer_norm_eps":1e-12"#
        try expectCode(#"{"model_type":"bert",\#(bert),"hidden_act":"gelu"}"#, .badConfig)   // 10 % 3 != 0
        try expectCode(#"{"model_type":"bert",\#(bert.replacingOccurrences(of: "\"num_attention_heads\":3", with: "\"num_attention_heads\":2")),"hidden_act":"relu"}"#,
                       .unsupportedArchitecture)
        #expect(throws: ModelLoadingError(.badConfig, "")) { try ModelConfig(directory: directory.appendingPathComponent("absent")) }
    }
}
