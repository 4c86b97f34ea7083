// SPDX-License-Identifier: Apache-2.0
import Foundation
import TestSupport
import Testing
import Tokenizers

/// The tokenizer-related parts of `testvectors/smollm2.json`.
struct SmolLM2Vectors: Decodable {
    struct Prompt: Decodable {
        let text: String
        let inputIDs: [Int32]
        let greedy12: [Int32]
        let greedy12Text: String

        enum CodingKeys: String, CodingKey {
            case text
            case inputIDs = "input_ids"
            case greedy12 = "greedy_12"
            case greedy12Text = "greedy_12_text"
        }
    }

    struct ResponseLoss: Decodable {
        let text: String
        let inputIDs: [Int32]
        let promptTokens: Int

        enum CodingKeys: String, CodingKey {
            case text
            case inputIDs = "input_ids"
            case promptTokens = "prompt_tokens"
        }
    }

    let prompts: [Prompt]
    let responseLoss: ResponseLoss
    let tokenizer: [TokenizerVector]

    enum CodingKeys: String, CodingKey {
        case prompts, tokenizer
        case responseLoss = "response_loss"
    }

    static func load() throws -> SmolLM2Vectors {
        let data = try Data(contentsOf: SharedFixtures.url("testvectors/smollm2.json"))
        return try JSONDecoder().decode(SmolLM2Vectors.self, from: data)
    }
}

@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ByteLevelBPETokenizerTests {
    static let tinyGPT2 = Result { try ByteLevelBPETokenizer(tokenizerJSON: SharedFixtures.url("models/tiny-gpt2/tokenizer.json")) }
    static let smolLM2 = Result { try ByteLevelBPETokenizer(tokenizerJSON: SharedFixtures.url("models/smollm2-135m-instruct/tokenizer.json")) }

    /// Texts no reference covers, for round trips: every byte class, lone combining marks,
    /// astral scalars, special-token look-alikes.
    static let awkwardTexts = [
        "\u{0}\u{1}\u{7F}\u{80}\u{A0}\u{AD}\u{FEFF}", "e\u{301}\u{302}\u{303}", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧‍👦 🇫🇷",
        "<|im_start", "<|im_end|><|im_end|>", "   \n\n\t \r\n", "'s'S'll'LL 're've'd'm", String(repeating: "ab", count: 600),
    ]

    @Test func tinyGPT2MatchesReferenceIDsAndDecoding() throws {
        let tokenizer = try Self.tinyGPT2.get()
        let vectors = try TokenizerVectors.load().bytelevelBpeTinyGpt2
        #expect(vectors.count >= 19)
        for vector in vectors {
            let ids = tokenizer.encode(vector.text)
            #expect(ids == vector.ids, "text: \(vector.text.debugDescription)")
            #expect(tokenizer.decode(ids) == vector.decoded, "text: \(vector.text.debugDescription)")
        }
        #expect(tokenizer.vocabularySize == 2048)
        #expect(tokenizer.specialTokenID("<|endoftext|>") == 0)
    }

    @Test func decodeRoundTripsAnyText() throws {
        let texts = try TokenizerVectors.load().bytelevelBpeTinyGpt2.map(\.text) + Self.awkwardTexts
        for tokenizer in [try Self.tinyGPT2.get(), try Self.smolLM2.get()] {
            for text in texts {
                #expect(tokenizer.decode(tokenizer.encode(text)) == text, "text: \(text.debugDescription)")
            }
        }
    }

    @Test func smolLM2MatchesReferenceIDs() throws {
        let tokenizer = try Self.smolLM2.get()
        let vectors = try SmolLM2Vectors.load()
        for vector in vectors.tokenizer {
            #expect(tokenizer.encode(vector.text) == vector.ids, "text: \(vector.text.debugDescription)")
        }
        for prompt in vectors.prompts {
            #expect(tokenizer.encode(prompt.text) == prompt.inputIDs)
            #expect(tokenizer.decode(prompt.greedy12) == prompt.greedy12Text)
        }
        #expect(tokenizer.encode(vectors.responseLoss.text) == vectors.responseLoss.inputIDs)
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.preTokenizerKind == .gpt2)
    }

    @Test func smolLM2SpecialTokens() throws {
        let tokenizer = try Self.smolLM2.get()
        #expect(tokenizer.specialTokenID("<|endoftext|>") == 0)
        #expect(tokenizer.specialTokenID("<|im_start|>") == 1)
        #expect(tokenizer.specialTokenID("<|im_end|>") == 2)
        #expect(tokenizer.specialTokenIDs.count == 17)
        // "The capital of France is Paris.<|im_end|>" from the greedy reference continuation.
        let ids: [Int32] = [504, 3575, 282, 4649, 314, 7042, 30, 2]
        #expect(tokenizer.decode(ids, skippingSpecialTokens: true) == "The capital of France is Paris.")
        #expect(tokenizer.decode(ids) == "The capital of France is Paris.<|im_end|>")
    }

    /// The GGUF path: the same tokenizer rebuilt from tokens by id, "a b" merges and
    /// special ids gives the same ids.
    @Test func rawPartsInitializerMatchesTokenizerJSON() throws {
        let fromJSON = try Self.smolLM2.get()
        let parts = try Self.rawParts("models/smollm2-135m-instruct/tokenizer.json")
        let fromParts = try ByteLevelBPETokenizer(
            tokens: parts.tokens, merges: parts.merges, specialTokenIDs: parts.specialIDs,
            preTokenizer: PreTokenizerKind(ggufName: "gpt2"))
        let vectors = try SmolLM2Vectors.load()
        let texts = vectors.tokenizer.map(\.text) + vectors.prompts.map(\.text) + Self.awkwardTexts
            + (try TokenizerVectors.load().bytelevelBpeTinyGpt2.map(\.text))
        for text in texts {
            #expect(fromParts.encode(text) == fromJSON.encode(text), "text: \(text.debugDescription)")
        }
        #expect(fromParts.vocabularySize == fromJSON.vocabularySize)
        #expect(fromParts.specialTokenIDs == fromJSON.specialTokenIDs)
    }

    /// SmolLM's GGUF says `tokenizer.ggml.pre = smollm`: digits are isolated before the
    /// GPT-2 regex. Reference: tokenizers 0.23 with tiny-gpt2's tokenizer.json and its
    /// pre-tokenizer replaced by `Sequence([Digits(individual_digits=True), ByteLevel(...)])`.
    @Test func smollmPreTokenizerIsolatesDigits() throws {
        let parts = try Self.rawParts("models/tiny-gpt2/tokenizer.json")
        let kind = try PreTokenizerKind(ggufName: "smollm")
        #expect(kind == .smollm)
        let tokenizer = try ByteLevelBPETokenizer(
            tokens: parts.tokens, merges: parts.merges, specialTokenIDs: parts.specialIDs, preTokenizer: kind)
        let text = "numbers 3.14159 and 1,000,000 in 2024"
        #expect(tokenizer.encode(text) == [
            78, 1404, 390, 221, 19, 14, 17, 20, 17, 21, 25, 353, 221, 17, 12, 16, 16, 16, 12, 16, 16, 16, 292, 221, 18, 16, 18, 20,
        ])
        #expect(try Self.tinyGPT2.get().encode(text) == [
            78, 1404, 390, 793, 14, 17, 20, 17, 21, 25, 353, 480, 12, 1379, 12, 1379, 292, 1985, 18, 20,
        ])
        #expect(tokenizer.decode(tokenizer.encode(text)) == text)
    }

    /// Scalars where the reference's Unicode tables (Oniguruma 16.0) or byte-exact word
    /// comparison matter. Ids from tokenizers 0.23.
    @Test func unicodeEdgeCasesMatchReference() throws {
        let tokenizer = try Self.smolLM2.get()
        #expect(tokenizer.encode("e\u{301}\u{E9} \u{AC00}") == [85, 151, 219, 2756, 35792, 125, 218])
        #expect(tokenizer.encode("x\u{A0}y\u{3000}z") == [104, 15442, 105, 12109, 218, 106])
        #expect(tokenizer.encode("a\u{166D}b") == [81, 172, 243, 251, 82])
    }

    @Test func unknownPreTokenizerNameThrows() {
        #expect(throws: TokenizerError(.unsupportedConfiguration, "")) { try PreTokenizerKind(ggufName: "llama-bpe") }
    }

    @Test func mergeOverUnknownTokenThrowsInvalidVocabulary() {
        let error = #expect(throws: TokenizerError.self) {
            try ByteLevelBPETokenizer(tokens: ["a", "b", "ab"], merges: ["a b", "a c"], specialTokenIDs: [], preTokenizer: .gpt2)
        }
        #expect(error?.code == .invalidVocabulary)
        #expect(error?.message.contains("\"a c\"") == true)
        #expect(throws: TokenizerError(.invalidVocabulary, "")) {
            try ByteLevelBPETokenizer(tokens: ["a"], merges: ["ab"], specialTokenIDs: [], preTokenizer: .gpt2)
        }
    }

    @Test func malformedTokenizerJSONThrowsSpecificErrors() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-malformed-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let truncated = directory.appendingPathComponent("truncated.json")
        let original = try Data(contentsOf: SharedFixtures.url("models/tiny-gpt2/tokenizer.json"))
        try original.prefix(original.count / 2).write(to: truncated)
        #expect(throws: TokenizerError(.malformedFile, "")) { try ByteLevelBPETokenizer(tokenizerJSON: truncated) }

        let noModel = directory.appendingPathComponent("no-model.json")
        try Data(#"{"added_tokens": []}"#.utf8).write(to: noModel)
        let error = try #require(throws: TokenizerError.self) { try ByteLevelBPETokenizer(tokenizerJSON: noModel) }
        #expect(error.code == .malformedFile)
        #expect(error.message.contains("\"model\""))

        #expect(throws: TokenizerError(.unsupportedConfiguration, "")) {
            try ByteLevelBPETokenizer(tokenizerJSON: SharedFixtures.url("models/minilm-l6/tokenizer.json"))
        }

        let sparse = directory.appendingPathComponent("sparse.json")
        try Data(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 2000000000}, "merges": []}}"#.utf8)
            .write(to: sparse)
        let idError = try #require(throws: TokenizerError.self) { try ByteLevelBPETokenizer(tokenizerJSON: sparse) }
        #expect(idError.code == .invalidVocabulary)
        #expect(idError.message.contains("2000000000"))
    }

    /// Tokens by id, `"a b"` merges and special ids read from a `tokenizer.json`, as a
    /// GGUF file would hold them.
    static func rawParts(_ path: String) throws -> (tokens: [String], merges: [String], specialIDs: [Int32]) {
        let root = try #require(try SharedFixtures.json(path) as? [String: Any])
        let model = try #require(root["model"] as? [String: Any])
        let vocab = try #require(model["vocab"] as? [String: Int])
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, id) in vocab { tokens[id] = token }
        let merges = try #require(model["merges"] as? [[String]]).map { $0.joined(separator: " ") }
        let added = try #require(root["added_tokens"] as? [[String: Any]])
        let specialIDs = added.filter { $0["special"] as? Bool == true }.compactMap { ($0["id"] as? Int).map(Int32.init) }
        return (tokens, merges, specialIDs)
    }
}
