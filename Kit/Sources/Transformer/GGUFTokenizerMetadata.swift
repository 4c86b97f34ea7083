// SPDX-License-Identifier: Apache-2.0

/// The tokenizer and chat template a GGUF file carries (`tokenizer.*` keys), as plain values.
///
/// The Tokenizers module builds a tokenizer from these; nothing here tokenizes.
public struct GGUFTokenizerMetadata: Sendable, Hashable {
    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE), "llama" (SentencePiece), …
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer regex family, e.g. "smollm", "llama-bpe".
    public var preTokenizer: String?
    /// `tokenizer.ggml.tokens`: the vocabulary; a token's id is its index.
    public var tokens: [String]
    /// `tokenizer.ggml.token_type`, one per token (1 normal, 2 unknown, 3 control, 4 user-defined,
    /// 5 unused, 6 byte), or nil if absent.
    public var tokenTypes: [Int]?
    /// `tokenizer.ggml.merges`: BPE merges in priority order, each "left right"; empty if absent.
    public var merges: [String]
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    public var unknownTokenID: Int?
    public var paddingTokenID: Int?
    /// `tokenizer.ggml.add_bos_token`: whether encoding should prepend BOS (nil: not stated).
    public var addBOSToken: Bool?
    /// `tokenizer.chat_template`: the Jinja chat template, if the file has one.
    public var chatTemplate: String?

    /// Reads the tokenizer keys of `file`.
    ///
    /// - Throws: ``GGUFError`` `.missingMetadata` without a model or tokens; `.invalidMetadata`
    ///   for a value of the wrong type, a token type list of the wrong length, or a special
    ///   token id outside the vocabulary.
    public init(_ file: GGUFFile) throws {
        let metadata = file.metadata
        func invalid(_ key: String, _ why: String) -> GGUFError {
            GGUFError(.invalidMetadata, path: file.path, offset: nil, "\(key) \(why)",
                      hint: "the file's tokenizer metadata is broken; re-export it with llama.cpp")
        }
        func required<T>(_ key: String, _ read: (GGUFValue) -> T?) throws -> T {
            guard let value = metadata[key] else {
                throw GGUFError(.missingMetadata, path: file.path, offset: nil, "\(key) is missing",
                                hint: "the file carries no tokenizer; use a GGUF exported with its tokenizer")
            }
            guard let typed = read(value) else { throw invalid(key, "has the wrong type (\(value.type))") }
            return typed
        }
        func optional<T>(_ key: String, _ read: (GGUFValue) -> T?) throws -> T? {
            guard metadata[key] != nil else { return nil }
            return try required(key, read)
        }
        model = try required("tokenizer.ggml.model", \.stringValue)
        preTokenizer = try optional("tokenizer.ggml.pre", \.stringValue)
        tokens = try required("tokenizer.ggml.tokens", \.stringArray)
        tokenTypes = try optional("tokenizer.ggml.token_type", \.intArray)
        merges = try optional("tokenizer.ggml.merges", \.stringArray) ?? []
        addBOSToken = try optional("tokenizer.ggml.add_bos_token", \.boolValue)
        chatTemplate = try optional("tokenizer.chat_template", \.stringValue)
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw invalid("tokenizer.ggml.token_type", "has \(tokenTypes.count) entries for \(tokens.count) tokens")
        }
        func tokenID(_ key: String) throws -> Int? {
            guard let id = try optional(key, \.intValue) else { return nil }
            guard tokens.indices.contains(id) else { throw invalid(key, "is \(id), outside the \(tokens.count)-token vocabulary") }
            return id
        }
        bosTokenID = try tokenID("tokenizer.ggml.bos_token_id")
        eosTokenID = try tokenID("tokenizer.ggml.eos_token_id")
        unknownTokenID = try tokenID("tokenizer.ggml.unknown_token_id")
        paddingTokenID = try tokenID("tokenizer.ggml.padding_token_id")
    }
}
