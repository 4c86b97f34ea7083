// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The parts of a Hugging Face `tokenizer.json` that the WordPiece and byte-level BPE
/// pipelines read. Unknown fields are ignored; known fields with values we cannot honour
/// are rejected by the tokenizer that loads the file, never silently dropped.
struct TokenizerJSON: Decodable {
    struct AddedToken: Decodable {
        let id: Int
        let content: String
        let special: Bool
    }

    struct Normalizer: Decodable {
        let type: String
        let cleanText: Bool?
        let handleChineseChars: Bool?
        let stripAccents: Bool?
        let lowercase: Bool?

        enum CodingKeys: String, CodingKey {
            case type, lowercase
            case cleanText = "clean_text"
            case handleChineseChars = "handle_chinese_chars"
            case stripAccents = "strip_accents"
        }
    }

    struct PreTokenizer: Decodable {
        let type: String
        let addPrefixSpace: Bool?
        let useRegex: Bool?
        let individualDigits: Bool?
        let pretokenizers: [PreTokenizer]?

        enum CodingKeys: String, CodingKey {
            case type, pretokenizers
            case addPrefixSpace = "add_prefix_space"
            case useRegex = "use_regex"
            case individualDigits = "individual_digits"
        }
    }

    /// `TemplateProcessing`, `BertProcessing` or `ByteLevel`; only the single-sequence
    /// template and the special tokens it names are needed.
    struct PostProcessor: Decodable {
        enum Piece: Decodable {
            case special(String)
            case sequence(String)

            private enum CodingKeys: String, CodingKey { case specialToken = "SpecialToken", sequence = "Sequence" }
            private struct Inner: Decodable { let id: String }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                if let special = try container.decodeIfPresent(Inner.self, forKey: .specialToken) {
                    self = .special(special.id)
                } else {
                    self = .sequence(try container.decode(Inner.self, forKey: .sequence).id)
                }
            }
        }

        struct SpecialToken: Decodable {
            let ids: [Int]
        }

        let type: String
        let single: [Piece]?
        let pair: [Piece]?
        let specialTokens: [String: SpecialToken]?
        /// `BertProcessing`: `[content, id]`.
        let cls: TokenAndID?
        let sep: TokenAndID?

        enum CodingKeys: String, CodingKey {
            case type, single, pair, cls, sep
            case specialTokens = "special_tokens"
        }
    }

    /// A `["[CLS]", 101]` pair as `BertProcessing` writes it.
    struct TokenAndID: Decodable {
        let content: String
        let id: Int

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            content = try container.decode(String.self)
            id = try container.decode(Int.self)
        }
    }

    /// Merges are `"a b"` strings in older files and `["a", "b"]` pairs in newer ones.
    struct Merge: Decodable {
        let left: String
        let right: String

        init(from decoder: any Decoder) throws {
            if var pair = try? decoder.unkeyedContainer() {
                left = try pair.decode(String.self)
                right = try pair.decode(String.self)
                return
            }
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let (left, right) = Merge.split(text) else {
                throw DecodingError.dataCorrupted(.init(
                    codingPath: decoder.codingPath,
                    debugDescription: "merge \"\(text)\" is not two tokens separated by one space"))
            }
            self.left = left
            self.right = right
        }

        /// Splits `"a b"` at its one space, as GGUF `tokenizer.ggml.merges` entries are written.
        static func split(_ text: String) -> (String, String)? {
            let parts = text.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
    }

    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]
        let merges: [Merge]?
        let unkToken: String?
        let continuingSubwordPrefix: String?
        let endOfWordSuffix: String?
        let maxInputCharsPerWord: Int?
        let byteFallback: Bool?
        let dropout: Double?

        enum CodingKeys: String, CodingKey {
            case type, vocab, merges, dropout
            case unkToken = "unk_token"
            case continuingSubwordPrefix = "continuing_subword_prefix"
            case endOfWordSuffix = "end_of_word_suffix"
            case maxInputCharsPerWord = "max_input_chars_per_word"
            case byteFallback = "byte_fallback"
        }
    }

    let addedTokens: [AddedToken]?
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let model: Model

    enum CodingKeys: String, CodingKey {
        case model
        case addedTokens = "added_tokens"
        case normalizer
        case preTokenizer = "pre_tokenizer"
        case postProcessor = "post_processor"
    }

    /// Reads and decodes `url`.
    ///
    /// - Throws: ``TokenizerError`` `.unreadableFile` or `.malformedFile`, naming the path
    ///   and, for bad JSON, the field.
    static func load(_ url: URL) throws -> TokenizerJSON {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(.unreadableFile, "cannot read \(url.path): \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(TokenizerJSON.self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError(.malformedFile, "\(url.path) is not a tokenizer.json: \(describe(error))")
        } catch {
            throw TokenizerError(.malformedFile, "\(url.path) is not a tokenizer.json: \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "<root>" : codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \"\(key.stringValue)\" at \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }
}
