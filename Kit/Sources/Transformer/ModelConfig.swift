// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg

/// The architecture described by a Hugging Face `config.json`, keyed by its `model_type`.
///
/// New families (Llama: RMSNorm, RoPE, SwiGLU, grouped-query attention) get a new case.
public enum ModelConfig: Sendable, Hashable {
    case bert(BertConfig)
    case gpt2(GPT2Config)

    /// Reads `directory/config.json`.
    ///
    /// - Throws: ``ModelLoadingError`` `.badConfig` for an unreadable or malformed file,
    ///   `.unsupportedArchitecture` for a `model_type` or setting the engine cannot run.
    public init(directory: URL) throws {
        let url = directory.appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ModelLoadingError(.badConfig, "\(url.path): cannot read (\(error.localizedDescription))")
        }
        struct ModelType: Decodable { let model_type: String }
        let type = try Self.decode(ModelType.self, from: data, url: url).model_type
        switch type {
        case "bert":
            self = .bert(try Self.decode(BertConfig.self, from: data, url: url).validated(url: url))
        case "gpt2":
            self = .gpt2(try Self.decode(GPT2Config.self, from: data, url: url).validated(url: url))
        default:
            throw ModelLoadingError(.unsupportedArchitecture, "\(url.path): model_type \(type) is not bert or gpt2")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, url: URL) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw ModelLoadingError(.badConfig, "\(url.path): \(error)")
        }
    }
}

/// The fields of a BERT `config.json` that the encoder uses.
public struct BertConfig: Sendable, Hashable, Codable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var hiddenAct: String
    public var positionEmbeddingType: String?

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", hiddenAct = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
    }

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                maxPositionEmbeddings: Int, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12, hiddenAct: String = "gelu") {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.hiddenAct = hiddenAct
        self.positionEmbeddingType = "absolute"
    }

    /// The GELU form named by `hidden_act`.
    public var geluForm: GELUForm { hiddenAct == "gelu" ? .erf : .tanh }

    func validated(url: URL) throws -> BertConfig {
        guard [vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings,
               typeVocabSize].allSatisfy({ $0 > 0 }), hiddenSize % numAttentionHeads == 0 else {
            throw ModelLoadingError(.badConfig, "\(url.path): sizes must be positive and hidden_size \(hiddenSize) divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard ["gelu", "gelu_new", "gelu_pytorch_tanh"].contains(hiddenAct) else {
            throw ModelLoadingError(.unsupportedArchitecture, "\(url.path): hidden_act \(hiddenAct) is not gelu, gelu_new or gelu_pytorch_tanh")
        }
        guard (positionEmbeddingType ?? "absolute") == "absolute" else {
            throw ModelLoadingError(.unsupportedArchitecture, "\(url.path): position_embedding_type \(positionEmbeddingType ?? "") is not absolute")
        }
        return self
    }
}

/// The fields of a GPT-2 `config.json` that the decoder uses.
public struct GPT2Config: Sendable, Hashable, Codable {
    public var vocabSize: Int
    public var nEmbd: Int
    public var nLayer: Int
    public var nHead: Int
    public var nInner: Int?
    public var nPositions: Int
    public var layerNormEpsilon: Float
    public var activationFunction: String

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head", nInner = "n_inner"
        case nPositions = "n_positions", layerNormEpsilon = "layer_norm_epsilon", activationFunction = "activation_function"
    }

    public init(vocabSize: Int, nEmbd: Int, nLayer: Int, nHead: Int, nPositions: Int, nInner: Int? = nil,
                layerNormEpsilon: Float = 1e-5, activationFunction: String = "gelu_new") {
        self.vocabSize = vocabSize
        self.nEmbd = nEmbd
        self.nLayer = nLayer
        self.nHead = nHead
        self.nInner = nInner
        self.nPositions = nPositions
        self.layerNormEpsilon = layerNormEpsilon
        self.activationFunction = activationFunction
    }

    /// The MLP width: `n_inner`, or 4 × `n_embd` when it is null.
    public var innerSize: Int { nInner ?? 4 * nEmbd }
    public var geluForm: GELUForm { activationFunction == "gelu" ? .erf : .tanh }

    func validated(url: URL) throws -> GPT2Config {
        guard [vocabSize, nEmbd, nLayer, nHead, innerSize, nPositions].allSatisfy({ $0 > 0 }), nEmbd % nHead == 0 else {
            throw ModelLoadingError(.badConfig, "\(url.path): sizes must be positive and n_embd \(nEmbd) divisible by n_head \(nHead)")
        }
        guard ["gelu", "gelu_new", "gelu_pytorch_tanh"].contains(activationFunction) else {
            throw ModelLoadingError(.unsupportedArchitecture, "\(url.path): activation_function \(activationFunction) is not gelu, gelu_new or gelu_pytorch_tanh")
        }
        return self
    }
}
