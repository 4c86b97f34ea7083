// SPDX-License-Identifier: Apache-2.0
import Foundation
import TestSupport
import Testing
import Tokenizers

@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ChatEncodingTests {
    /// smollm2.json's response-loss example is the ChatML rendering (without SmolLM2's
    /// default system prompt) of one question and its answer; its loss covers the answer
    /// and `<|im_end|>`, after `prompt_tokens` prompt tokens.
    @Test func responseMaskMatchesReferencePromptLength() throws {
        let tokenizer = try ByteLevelBPETokenizerTests.smolLM2.get()
        let reference = try SmolLM2Vectors.load().responseLoss
        let chat = ChatTemplate(defaultSystemPrompt: nil).render(
            [.user("What is the capital of France?"), .assistant("The capital of France is Paris.")],
            addGenerationPrompt: false)
        // The template ends every turn with "\n"; the reference text stops at <|im_end|>.
        #expect(chat.text == reference.text + "\n")
        let encoding = tokenizer.encode(chat)
        #expect(encoding.ids == reference.inputIDs + [198])
        #expect(encoding.ids == tokenizer.encode(chat.text))
        #expect(encoding.firstResponseIndex == reference.promptTokens)
        #expect(encoding.isResponse == Array(repeating: false, count: 16) + Array(repeating: true, count: 8) + [false])
    }

    @Test func generationPromptsMatchReferenceInputIDs() throws {
        let tokenizer = try ByteLevelBPETokenizerTests.smolLM2.get()
        let prompts = try SmolLM2Vectors.load().prompts
        let questions = [
            "Classify the sentiment of this movie review as positive or negative.\na gorgeous , witty , seductive movie .",
            "What is the capital of France?",
        ]
        #expect(prompts.count == questions.count)
        for (prompt, question) in zip(prompts, questions) {
            let chat = ChatTemplate(defaultSystemPrompt: nil).render([.user(question)], addGenerationPrompt: true)
            #expect(chat.text == prompt.text)
            let encoding = tokenizer.encode(chat)
            #expect(encoding.ids == prompt.inputIDs)
            #expect(encoding.firstResponseIndex == nil)
        }
    }

    @Test func multiTurnMarksEveryAssistantTurn() throws {
        let tokenizer = try ByteLevelBPETokenizerTests.smolLM2.get()
        let chat = ChatTemplate.smolLM2.render(
            [.user("2+2?"), .assistant("4"), .user("And 3+3?"), .assistant("\n6")], addGenerationPrompt: false)
        let encoding = tokenizer.encode(chat)
        #expect(encoding.ids == tokenizer.encode(chat.text))
        let responseText = tokenizer.decode(zip(encoding.ids, encoding.isResponse).filter(\.1).map(\.0))
        #expect(responseText == "4<|im_end|>\n6<|im_end|>")
    }
}
