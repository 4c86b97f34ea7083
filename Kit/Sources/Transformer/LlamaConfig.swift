// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The hyper-parameters of a Llama-family decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention).
///
/// Read from GGUF metadata (`llama.*` keys, the format local-LLM users hold) or from a Hugging Face
/// `config.json` (`model_type` "llama"). Anything the kernels here do not implement (biases,
/// partial or scaled RoPE, another activation) is refused rather than silently ignored.
public struct LlamaConfig: Sendable, Hashable {
    /// L: transformer blocks.
    public var layerCount: Int
    /// C: model width.
    public var hiddenSize: Int
    /// Width of the SwiGLU MLP (gate and up projections).
    public var intermediateSize: Int
    /// NH: query heads.
    public var headCount: Int
    /// Key/value heads (grouped-query attention: each serves headCount / kvHeadCount query heads).
    public var kvHeadCount: Int
    /// HD: width of one head (usually C / NH).
    public var headDim: Int
    /// V: vocabulary size.
    public var vocabSize: Int
    /// Longest sequence the model was trained for.
    public var contextLength: Int
    /// RoPE base θ (inverse frequencies θ^(-2i/HD)).
    public var ropeTheta: Float
    /// ε added to the mean square in RMSNorm.
    public var rmsNormEpsilon: Float
    /// Whether the output projection reuses the token embedding.
    public var tieWordEmbeddings: Bool

    /// A configuration from explicit values.
    ///
    /// - Throws: ``LlamaConfigError`` `.invalidValue` when the values cannot describe a model.
    public init(
        layerCount: Int, hiddenSize: Int, intermediateSize: Int, headCount: Int, kvHeadCount: Int,
        headDim: Int, vocabSize: Int, contextLength: Int, ropeTheta: Float, rmsNormEpsilon: Float,
        tieWordEmbeddings: Bool, source: String = "<explicit>"
    ) throws {
        self.layerCount = layerCount
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
        try validate(source: source)
    }

    /// Reads the `llama.*` metadata of `file`; the vocabulary size is the length of
    /// `tokenizer.ggml.tokens`, and embeddings are tied when the file has no `output.weight`.
    ///
    /// - Throws: ``LlamaConfigError`` naming the key that is missing, mistyped or unsupported.
    public init(gguf file: GGUFFile) throws {
        let metadata = file.metadata
        let source = file.path
        func value<T>(_ key: String, _ read: (GGUFValue) -> T?) throws -> T? {
            guard let raw = metadata[key] else { return nil }
            guard let typed = read(raw) else {
                throw LlamaConfigError(.invalidValue, source: source, "\(key) has the wrong type (\(raw.type))")
            }
            return typed
        }
        func required<T>(_ key: String, _ read: (GGUFValue) -> T?) throws -> T {
            guard let typed = try value(key, read) else {
                throw LlamaConfigError(.missingField, source: source, "\(key) is missing")
            }
            return typed
        }
        let architecture = try required("general.architecture", \.stringValue)
        guard architecture == "llama" else {
            throw LlamaConfigError(.unsupported, source: source, "general.architecture is \"\(architecture)\", not \"llama\"")
        }
        if let scaling = try value("llama.rope.scaling.type", \.stringValue), scaling != "none" {
            throw LlamaConfigError(.unsupported, source: source, "llama.rope.scaling.type is \"\(scaling)\"; only unscaled RoPE is implemented")
        }
        let hidden = try required("llama.embedding_length", \.intValue)
        let heads = try required("llama.attention.head_count", \.intValue)
        let headDim = try value("llama.attention.key_length", \.intValue) ?? (heads > 0 ? hidden / heads : 0)
        if let rotary = try value("llama.rope.dimension_count", \.intValue), rotary != headDim {
            throw LlamaConfigError(.unsupported, source: source,
                                   "llama.rope.dimension_count is \(rotary) for heads of \(headDim); partial RoPE is not implemented")
        }
        let vocab = try required("tokenizer.ggml.tokens", \.arrayValue).count
        if let declared = try value("llama.vocab_size", \.intValue), declared != vocab {
            throw LlamaConfigError(.invalidValue, source: source,
                                   "llama.vocab_size is \(declared) but tokenizer.ggml.tokens holds \(vocab) tokens")
        }
        try self.init(
            layerCount: try required("llama.block_count", \.intValue),
            hiddenSize: hidden,
            intermediateSize: try required("llama.feed_forward_length", \.intValue),
            headCount: heads,
            kvHeadCount: try value("llama.attention.head_count_kv", \.intValue) ?? heads,
            headDim: headDim,
            vocabSize: vocab,
            contextLength: try required("llama.context_length", \.intValue),
            ropeTheta: Float(try value("llama.rope.freq_base", \.doubleValue) ?? 10_000),
            rmsNormEpsilon: Float(try required("llama.attention.layer_norm_rms_epsilon", \.doubleValue)),
            tieWordEmbeddings: file.tensor(named: "output.weight") == nil,
            source: source)
    }

    /// Reads a Hugging Face `config.json` with `model_type` "llama".
    ///
    /// Accepts RoPE θ as `rope_theta` or `rope_parameters.rope_theta` (transformers ≥ 5).
    ///
    /// - Throws: ``LlamaConfigError`` naming the file and the field.
    public init(huggingFaceConfig data: Data, source: String) throws {
        guard let json = try? JSONSerialization.jsonObject(with: data), let object = json as? [String: Any] else {
            throw LlamaConfigError(.malformed, source: source, "not a JSON object")
        }
        func value<T>(_ key: String, in object: [String: Any] = object, as: T.Type) throws -> T? {
            guard let raw = object[key], !(raw is NSNull) else { return nil }
            if T.self == Int.self, let number = raw as? NSNumber, !(raw is Bool),
               let exact = Int(exactly: number.doubleValue) {
                return exact as? T
            }
            if T.self == Double.self, let number = raw as? NSNumber, !(raw is Bool) { return number.doubleValue as? T }
            guard let typed = raw as? T else {
                throw LlamaConfigError(.invalidValue, source: source, "\(key) is \(raw), not a \(T.self)")
            }
            return typed
        }
        func required<T>(_ key: String, as type: T.Type) throws -> T {
            guard let typed = try value(key, as: type) else {
                throw LlamaConfigError(.missingField, source: source, "\(key) is missing")
            }
            return typed
        }
        let modelType = try required("model_type", as: String.self)
        guard modelType == "llama" else {
            throw LlamaConfigError(.unsupported, source: source, "model_type is \"\(modelType)\", not \"llama\"")
        }
        for flag in ["attention_bias", "mlp_bias"] where try value(flag, as: Bool.self) == true {
            throw LlamaConfigError(.unsupported, source: source, "\(flag) is true; Llama layers here have no biases")
        }
        if let activation = try value("hidden_act", as: String.self), activation != "silu" {
            throw LlamaConfigError(.unsupported, source: source, "hidden_act is \"\(activation)\"; only silu (SwiGLU) is implemented")
        }
        let ropeParameters = try value("rope_parameters", as: [String: Any].self)
        let ropeScaling = try value("rope_scaling", as: [String: Any].self) ?? ropeParameters
        if let kind = ropeScaling?["rope_type"] as? String ?? ropeScaling?["type"] as? String, kind != "default" {
            throw LlamaConfigError(.unsupported, source: source, "RoPE type is \"\(kind)\"; only the default (unscaled) RoPE is implemented")
        }
        let theta = try value("rope_theta", as: Double.self)
            ?? ropeParameters.flatMap { try? value("rope_theta", in: $0, as: Double.self) }
            ?? 10_000
        let hidden = try required("hidden_size", as: Int.self)
        let heads = try required("num_attention_heads", as: Int.self)
        try self.init(
            layerCount: try required("num_hidden_layers", as: Int.self),
            hiddenSize: hidden,
            intermediateSize: try required("intermediate_size", as: Int.self),
            headCount: heads,
            kvHeadCount: try value("num_key_value_heads", as: Int.self) ?? heads,
            headDim: try value("head_dim", as: Int.self) ?? (heads > 0 ? hidden / heads : 0),
            vocabSize: try required("vocab_size", as: Int.self),
            contextLength: try required("max_position_embeddings", as: Int.self),
            ropeTheta: Float(theta),
            rmsNormEpsilon: Float(try required("rms_norm_eps", as: Double.self)),
            tieWordEmbeddings: try value("tie_word_embeddings", as: Bool.self) ?? false,
            source: source)
    }

    private func validate(source: String) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            guard ok else { throw LlamaConfigError(.invalidValue, source: source, message()) }
        }
        for (name, v) in [("layers", layerCount), ("hidden size", hiddenSize), ("intermediate size", intermediateSize),
                          ("heads", headCount), ("key/value heads", kvHeadCount), ("head width", headDim),
                          ("vocabulary size", vocabSize), ("context length", contextLength)] {
            try check(v > 0, "\(name) must be positive; found \(v)")
        }
        try check(headCount % kvHeadCount == 0, "\(headCount) query heads do not split into groups of \(kvHeadCount) key/value heads")
        try check(headDim % 2 == 0, "head width must be even for RoPE; found \(headDim)")
        try check(ropeTheta.isFinite && ropeTheta > 1, "RoPE θ must be a finite number above 1; found \(ropeTheta)")
        try check(rmsNormEpsilon.isFinite && rmsNormEpsilon > 0, "RMSNorm ε must be positive; found \(rmsNormEpsilon)")
    }
}

/// A Llama configuration is missing, malformed, inconsistent, or asks for something not implemented.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct LlamaConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable { case malformed, missingField, invalidValue, unsupported }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The config file is not a JSON object.
        public static let malformed = Code(.malformed)
        /// A required key is absent (the message names it).
        public static let missingField = Code(.missingField)
        /// A value has the wrong type or is impossible (the message names it and its value).
        public static let invalidValue = Code(.invalidValue)
        /// The model needs something these kernels do not implement (biases, scaled RoPE, …).
        public static let unsupported = Code(.unsupported)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// The file the configuration came from.
    public let source: String
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, source: String, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.source = source
        self.message = message
        self.file = file
        self.line = line
    }

    public static func == (lhs: LlamaConfigError, rhs: LlamaConfigError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(source): \(message)" }
}
