// SPDX-License-Identifier: Apache-2.0
import Foundation
import TestSupport
import Testing
import Tokenizers

@Suite struct ChatTemplateTests {
    @Test func insertsDefaultSystemPromptAndGenerationPrompt() {
        let rendered = ChatTemplate.smolLM2.render([.user("Hi")], addGenerationPrompt: true)
        #expect(rendered.text == """
            <|im_start|>system
            You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
            <|im_start|>user
            Hi<|im_end|>
            <|im_start|>assistant

            """)
        #expect(rendered.responseRanges.isEmpty)
    }

    @Test func explicitSystemMessageReplacesDefault() throws {
        let rendered = ChatTemplate.smolLM2.render(
            [.system("Be terse."), .user("Hi"), .assistant("Hello.")], addGenerationPrompt: false)
        #expect(rendered.text == "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n")
        let range = try #require(rendered.responseRanges.first)
        let bytes = Array(rendered.text.utf8)
        #expect(String(decoding: bytes[range], as: UTF8.self) == "Hello.<|im_end|>")
        #expect(rendered.responseRanges.count == 1)
    }

    @Test func responseRangesCountBytesNotCharacters() {
        let rendered = ChatTemplate(defaultSystemPrompt: nil).render(
            [.user("café 🙂"), .assistant("déjà vu"), .user("?"), .assistant("ok")], addGenerationPrompt: false)
        let bytes = Array(rendered.text.utf8)
        #expect(rendered.responseRanges.map { String(decoding: bytes[$0], as: UTF8.self) } == ["déjà vu<|im_end|>", "ok<|im_end|>"])
    }

    @Test func emptyConversationIsOnlyTheGenerationPrompt() {
        #expect(ChatTemplate.smolLM2.render([], addGenerationPrompt: true).text == "<|im_start|>assistant\n")
        #expect(ChatTemplate.smolLM2.render([], addGenerationPrompt: false).text == "")
    }

    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func recognizesSmolLM2JinjaFile() throws {
        let source = try String(contentsOf: SharedFixtures.url("models/smollm2-135m-instruct/chat_template.jinja"), encoding: .utf8)
        #expect(try ChatTemplate(jinja: source) == .smolLM2)
    }

    @Test func recognizesEscapedNewlinesAndPlainChatML() throws {
        let escaped = ChatTemplate.smolLM2Source.replacingOccurrences(of: "\n", with: "\\n")
        #expect(try ChatTemplate(jinja: escaped) == .smolLM2)
        let plain = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        #expect(try ChatTemplate(jinja: plain) == ChatTemplate(defaultSystemPrompt: nil))
    }

    @Test func rejectsOtherTemplates() {
        let llama = "{{ bos_token }}{% for message in messages %}[INST] {{ message['content'] }} [/INST]{% endfor %}"
        #expect(throws: TokenizerError(.unsupportedTemplate, "")) { try ChatTemplate(jinja: llama) }
        let almost = ChatTemplate.smolLM2Source.replacingOccurrences(of: "add_generation_prompt", with: "add_gen")
        #expect(throws: TokenizerError(.unsupportedTemplate, "")) { try ChatTemplate(jinja: almost) }
    }
}

extension ChatTemplate {
    /// SmolLM2's `chat_template.jinja` as shipped (written out here so the recognizer is
    /// also tested without the shared folder).
    static let smolLM2Source = """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
        You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
        ' }}{% endif %}{{'<|im_start|>' + message['role'] + '
        ' + message['content'] + '<|im_end|>' + '
        '}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
        ' }}{% endif %}

        """
}
