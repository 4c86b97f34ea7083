// SPDX-License-Identifier: Apache-2.0
import Foundation
import TestSupport
import Testing
import Tokenizers

/// One reference case of `testvectors/tokenizers.json`.
struct TokenizerVector: Decodable {
    let text: String
    let ids: [Int32]
    let decoded: String?
}

struct TokenizerVectors: Decodable {
    let wordpieceMinilm: [TokenizerVector]
    let bytelevelBpeTinyGpt2: [TokenizerVector]

    enum CodingKeys: String, CodingKey {
        case wordpieceMinilm = "wordpiece_minilm"
        case bytelevelBpeTinyGpt2 = "bytelevel_bpe_tiny_gpt2"
    }

    static func load() throws -> TokenizerVectors {
        let data = try Data(contentsOf: SharedFixtures.url("testvectors/tokenizers.json"))
        return try JSONDecoder().decode(TokenizerVectors.self, from: data)
    }
}

@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct WordPieceTokenizerTests {
    static let fromJSON = Result { try WordPieceTokenizer(tokenizerJSON: SharedFixtures.url("models/minilm-l6/tokenizer.json")) }
    static let fromVocabulary = Result { try WordPieceTokenizer(vocabularyFile: SharedFixtures.url("models/minilm-l6/vocab.txt")) }

    @Test func matchesReferenceIDsForEveryVector() throws {
        let tokenizer = try Self.fromJSON.get()
        let vectors = try TokenizerVectors.load().wordpieceMinilm
        #expect(vectors.count >= 19)
        for vector in vectors {
            #expect(tokenizer.encode(vector.text) == vector.ids, "text: \(vector.text.debugDescription)")
        }
    }

    @Test func vocabularyFileAndTokenizerJSONAgree() throws {
        let json = try Self.fromJSON.get()
        let vocabulary = try Self.fromVocabulary.get()
        #expect(json.vocabularySize == 30522)
        #expect(vocabulary.vocabularySize == 30522)
        #expect(json.specialTokenIDs == vocabulary.specialTokenIDs)
        let vectors = try TokenizerVectors.load()
        let texts = vectors.wordpieceMinilm.map(\.text) + vectors.bytelevelBpeTinyGpt2.map(\.text)
            + ["Ⅻ ½ ² ﬁ ǅ İ Σ ς \u{00AD}x\u{200B}y \u{3000}z \u{2028}w", "\u{F900}\u{2F800}\u{AC00}ひらがな"]
        for text in texts {
            #expect(json.encode(text) == vocabulary.encode(text), "text: \(text.debugDescription)")
            #expect(json.encode(text, pair: "second", maxLength: 16) == vocabulary.encode(text, pair: "second", maxLength: 16))
        }
    }

    @Test func specialTokenIDsByName() throws {
        let tokenizer = try Self.fromJSON.get()
        #expect(tokenizer.specialTokenID("[CLS]") == 101)
        #expect(tokenizer.specialTokenID("[SEP]") == 102)
        #expect(tokenizer.specialTokenID("[PAD]") == 0)
        #expect(tokenizer.specialTokenID("[UNK]") == 100)
        #expect(tokenizer.specialTokenID("[MASK]") == 103)
        #expect(tokenizer.paddingTokenID == 0)
    }

    @Test func pairHasTypeIDsAndMask() throws {
        let tokenizer = try Self.fromJSON.get()
        let encoding = tokenizer.encode("Hello, world!", pair: "a", paddingTo: 12)
        // [CLS] hello , world ! [SEP] a [SEP] + 4 × [PAD], ids from the single-text vectors.
        #expect(encoding.ids == [101, 7592, 1010, 2088, 999, 102, 1037, 102, 0, 0, 0, 0])
        #expect(encoding.tokenTypeIDs == [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
        #expect(encoding.attentionMask == [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0])
        #expect(encoding.realTokenCount == 8)
    }

    @Test func truncatesSingleAndPairLongestFirst() throws {
        let tokenizer = try Self.fromJSON.get()
        let fox = String(repeating: "the quick brown fox ", count: 20)
        let single = tokenizer.encode(fox, maxLength: 10)
        #expect(single.ids == [101, 1996, 4248, 2829, 4419, 1996, 4248, 2829, 4419, 102])
        // Reference: tokenizers 0.23 with truncation max_length 10 (LongestFirst). Budget 7:
        // a short first text keeps all of it and the second gets the rest …
        let shortFirst = tokenizer.encode(fox, pair: "a b", maxLength: 10)
        #expect(shortFirst.ids == [101, 1996, 4248, 2829, 4419, 1996, 102, 1037, 1038, 102])
        #expect(shortFirst.tokenTypeIDs == [0, 0, 0, 0, 0, 0, 0, 1, 1, 1])
        // … but a 4-token first text is more than half, so it is cut to 3 and the second to 4.
        let pair = tokenizer.encode("Hello, world!", pair: fox, maxLength: 10, paddingTo: 12)
        #expect(pair.ids == [101, 7592, 1010, 2088, 102, 1996, 4248, 2829, 4419, 102, 0, 0])
        #expect(pair.tokenTypeIDs == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0])
        #expect(pair.attentionMask == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        // Both long: halves of the 7-token budget, the odd one to the second text.
        let both = tokenizer.encode(fox, pair: fox, maxLength: 10)
        #expect(both.ids == [101, 1996, 4248, 2829, 102, 1996, 4248, 2829, 4419, 102])
    }

    /// Scalars whose handling depends on the reference's Unicode 8.0 category and
    /// decomposition tables, or on comparing words by bytes. Ids from tokenizers 0.23.
    @Test func unicodeEdgeCasesMatchReference() throws {
        let tokenizer = try Self.fromJSON.get()
        #expect(tokenizer.encode("a\u{166D}b") == [101, 1037, 100, 1038, 102])  // Po in 8.0, So now
        #expect(tokenizer.encode("s\u{D3B}") == [101, 100, 102])  // Mn added in 10.0: kept
        #expect(tokenizer.encode("a\u{2E43}b") == [101, 100, 102])  // Pd added in 9.0: no split
        #expect(tokenizer.encode("q\u{11938}z") == [101, 100, 102])  // decomposes since 13.0
        #expect(tokenizer.encode("e\u{301}\u{E9} \u{AC00}") == [101, 25212, 1455, 30006, 102])
        #expect(tokenizer.encode("x\u{A0}y\u{3000}z") == [101, 1060, 1061, 1062, 102])
    }

    @Test func overlongWordIsUnknown() throws {
        let tokenizer = try Self.fromJSON.get()
        #expect(tokenizer.encode(String(repeating: "a", count: 101)) == [101, 100, 102])
        #expect(tokenizer.encode(String(repeating: "a", count: 100)).count > 3)
    }

    @Test func decodeJoinsPiecesAndCleansUp() throws {
        let tokenizer = try Self.fromJSON.get()
        let ids = tokenizer.encode("I can't believe it's unaffable, really!")
        // As the reference decoder: cleanup applies per piece, so "' t" keeps its spaces.
        #expect(tokenizer.decode(ids, skippingSpecialTokens: true) == "i can ' t believe it ' s unaffable, really!")
        #expect(tokenizer.decode(ids) == "[CLS] i can ' t believe it ' s unaffable, really! [SEP]")
    }

    @Test func malformedTokenizerJSONThrowsMalformedFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wordpiece-malformed-\(UUID()).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"model": {"type": "WordPiece", "vocab": [1, 2]}}"#.utf8).write(to: url)
        let error = try #require(throws: TokenizerError.self) { try WordPieceTokenizer(tokenizerJSON: url) }
        #expect(error.code == .malformedFile)
        #expect(error.message.contains("model.vocab"))
    }

    @Test func missingFileThrowsUnreadable() {
        let url = URL(fileURLWithPath: "/nonexistent/vocab.txt")
        #expect(throws: TokenizerError(.unreadableFile, "")) { try WordPieceTokenizer(vocabularyFile: url) }
    }
}
