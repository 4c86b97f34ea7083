// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing
import TestSupport
import Tokenizers
@testable import Training

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
}
