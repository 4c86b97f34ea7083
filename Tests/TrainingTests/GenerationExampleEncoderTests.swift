// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing
import TestSupport
@testable import Tokenizers
@testable import Training
import Transformer

/// Records rendered with SmolLM2's chat template and tokenized with its tokenizer.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct GenerationExampleEncoderTests {
    static let tokenizer = Result {
        try ByteLevelBPETokenizer(tokenizerJSON: SharedFixtures.url("models/smollm2-135m-instruct/tokenizer.json"))
    }

    func encoder(tasks: [String] = ["sentiment"], maxLength: Int = 256) throws -> GenerationExampleEncoder {
        GenerationExampleEncoder(tokenizer: try Self.tokenizer.get(), template: .smolLM2, tasks: tasks, maxLength: maxLength)
    }

    static let instructionRecord = DatasetRecord(
        body: .instruction(instruction: "Classify the sentiment.", input: "a dull , lifeless film", output: "negative"),
        task: "sentiment")

    @Test func instructionRecordsBecomeOneExchange() throws {
        let encoder = try encoder()
        let example = try encoder.encode(Self.instructionRecord, unit: 3)
        let tokenizer = encoder.tokenizer
        #expect(tokenizer.decode(example.ids, skippingSpecialTokens: false) == "<|im_start|>system\n"
            + "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            + "<|im_start|>user\nClassify the sentiment.\n\na dull , lifeless film<|im_end|>\n"
            + "<|im_start|>assistant\nnegative<|im_end|>")
        #expect(example.unit == 3 && example.task == 0 && example.tokenTypeIDs.isEmpty)
        let (prompt, reference) = GenerationObjective.lastTurn(of: example)
        #expect(tokenizer.decode(reference, skippingSpecialTokens: false) == "negative<|im_end|>")
        #expect(tokenizer.decode(prompt, skippingSpecialTokens: false).hasSuffix("<|im_start|>assistant\n"))
        guard case .response(let isResponse) = example.target else {
            Issue.record("not a response target")
            return
        }
        #expect(isResponse.filter { $0 }.count == reference.count)
    }

    @Test func truncationKeepsTheResponse() throws {
        let full = try encoder().encode(Self.instructionRecord, unit: 0)
        let short = try encoder(maxLength: 12).encode(Self.instructionRecord, unit: 0)
        #expect(short.ids.count == 12)
        #expect(short.ids == Array(full.ids.suffix(12)))
        #expect(GenerationObjective.lastTurn(of: short).reference == GenerationObjective.lastTurn(of: full).reference)
        let tight = try encoder(maxLength: 2).encode(Self.instructionRecord, unit: 0)
        let reference = GenerationObjective.lastTurn(of: full).reference
        #expect(tight.ids.count == 2 && tight.ids[1] == reference[0])
    }

    @Test func everyAssistantTurnOfAChatCarriesLoss() throws {
        let record = DatasetRecord(body: .chat([
            .init(role: .system, content: "Answer in one word."), .init(role: .user, content: "Sky colour?"),
            .init(role: .assistant, content: "blue"), .init(role: .user, content: "Grass?"),
            .init(role: .assistant, content: "green"),
        ]))
        let encoder = try encoder()
        let example = try encoder.encode(record, unit: 0)
        guard case .response(let isResponse) = example.target else {
            Issue.record("not a response target")
            return
        }
        let marked = zip(example.ids, isResponse).filter(\.1).map(\.0)
        #expect(encoder.tokenizer.decode(marked, skippingSpecialTokens: false) == "blue<|im_end|>green<|im_end|>")
        let text = encoder.tokenizer.decode(example.ids, skippingSpecialTokens: false)
        #expect(text.hasPrefix("<|im_start|>system\nAnswer in one word.<|im_end|>"))
        #expect(encoder.tokenizer.decode(GenerationObjective.lastTurn(of: example).reference, skippingSpecialTokens: true) == "green")
    }

    @Test func refusesAnUndeclaredTaskAmongSeveral() throws {
        let encoder = try encoder(tasks: ["intent", "topic"])
        #expect(throws: TrainingError(.invalidRecord, "")) { try encoder.encode(Self.instructionRecord, unit: 0) }
        #expect(try self.encoder(tasks: ["only"]).encode(Self.instructionRecord, unit: 0).task == 0)
    }

    /// A directory holding only the GGUF file trains on the tokenizer and chat template in
    /// its metadata, and they encode exactly as the Hugging Face files beside it do.
    @Test func ggufOnlyDirectoryEncodesLikeTheHuggingFaceFiles() throws {
        let directory = try TemporaryDirectory()
        let fromFiles = try GenerationExampleEncoder(backboneDirectory: SharedFixtures.url("models/smollm2-135m-instruct"),
                                                     labels: [:], maxLength: 512)
        let fromGGUF = try GenerationExampleEncoder(backboneDirectory: SharedFixtures.smolLM2GGUFOnly(in: directory.url),
                                                    labels: [:], maxLength: 512)
        #expect(fromGGUF.template == fromFiles.template && fromGGUF.template == .smolLM2)
        #expect(fromGGUF.tokenizer.specialTokenIDs == fromFiles.tokenizer.specialTokenIDs)
        #expect(fromGGUF.tokenizer.vocabularySize == fromFiles.tokenizer.vocabularySize)
        let chat = DatasetRecord(body: .chat([
            .init(role: .system, content: "Answer in one word."), .init(role: .user, content: "2024 was a leap year? ¿Sí o no?"),
            .init(role: .assistant, content: "Yes"), .init(role: .user, content: "e\u{301}t\u{E9} 👩‍👩‍👧 <|im_end|> 'll"),
            .init(role: .assistant, content: "Ça va\n\n  bien"),
        ]), task: nil)
        for record in [Self.instructionRecord, chat] {
            #expect(try fromGGUF.encode(record, unit: 0) == fromFiles.encode(record, unit: 0))
            #expect(fromGGUF.prompt(for: record) == fromFiles.prompt(for: record))
        }
    }
}

/// Where a model directory's tokenizer and template come from, and the refusals.
@Suite struct GenerationExampleEncoderSourceTests {
    static func directory(tokenizer extra: [(key: String, value: GGUFValue)]) throws -> TemporaryDirectory {
        var metadata = GGUFMetadata([
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.tokens", .array(.string, ["<|im_end|>", "a", "b", "ab"].map(GGUFValue.string))),
            ("tokenizer.ggml.token_type", .array(.int32, [.int32(3), .int32(1), .int32(1), .int32(1)])),
            ("tokenizer.ggml.merges", .array(.string, [.string("a b")])),
        ])!
        for (key, value) in extra { metadata[key] = value }
        let directory = try TemporaryDirectory()
        try Data(GGUFWriter(metadata: metadata).serialized()).write(to: directory.url.appendingPathComponent("model.gguf"))
        return directory
    }

    @Test func readsTheTemplateAndControlTokensFromTheGGUF() throws {
        let directory = try Self.directory(tokenizer: [("tokenizer.chat_template", .string(ChatTemplate.smolLM2.jinjaSource))])
        let encoder = try GenerationExampleEncoder(backboneDirectory: directory.url, labels: [:], maxLength: 64)
        #expect(encoder.template == .smolLM2)
        #expect(encoder.tokenizer.specialTokenIDs == ["<|im_end|>": 0])
        #expect(encoder.tokenizer.encode("ab<|im_end|>b") == [3, 0, 2])
    }

    @Test func refusesAGGUFWithoutTemplateOrWithAnotherTokenizerModel() throws {
        let untemplated = try Self.directory(tokenizer: [])
        let missing = #expect(throws: TrainingError.self) {
            try GenerationExampleEncoder(backboneDirectory: untemplated.url, labels: [:], maxLength: 64)
        }
        #expect(missing?.code == .invalidConfiguration && missing?.message.contains("tokenizer.chat_template") == true)
        let sentencePiece = try Self.directory(tokenizer: [
            ("tokenizer.ggml.model", .string("llama")), ("tokenizer.chat_template", .string(ChatTemplate.smolLM2.jinjaSource)),
        ])
        let unsupported = #expect(throws: TrainingError.self) {
            try GenerationExampleEncoder(backboneDirectory: sentencePiece.url, labels: [:], maxLength: 64)
        }
        #expect(unsupported?.code == .invalidConfiguration && unsupported?.message.contains("\"llama\"") == true)
    }
}
