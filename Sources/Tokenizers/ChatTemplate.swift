// SPDX-License-Identifier: Apache-2.0

/// A conversation rendered to text, with where the assistant's words are.
public struct RenderedChat: Sendable, Hashable {
    public let text: String
    /// UTF-8 byte ranges of `text` that the model should learn to produce: each assistant
    /// turn's content and its closing `<|im_end|>` (not the newline after it), as in
    /// response-only fine-tuning losses.
    public let responseRanges: [Range<Int>]
}

/// The ChatML chat template (SmolLM2, Qwen-style `<|im_start|>role\n…<|im_end|>\n`).
///
/// This is not a Jinja engine: it renders exactly the ChatML templates it recognizes,
/// which lets it also report where the assistant turns are (for loss masking) — something
/// a template engine cannot know. SmolLM2's template reads
///
/// ```
/// {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}
///   {{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}
/// {% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}
/// {% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
/// ```
///
/// (on one line), so a conversation that does not open with a system message gets the
/// default system prompt.
public struct ChatTemplate: Sendable, Hashable {
    /// Inserted as a system turn when the first message is not one; nil for none.
    public let defaultSystemPrompt: String?

    public init(defaultSystemPrompt: String?) {
        self.defaultSystemPrompt = defaultSystemPrompt
    }

    /// SmolLM2-Instruct's template (its `chat_template.jinja`, also in its GGUF metadata).
    public static let smolLM2 = ChatTemplate(
        defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face")

    /// Recognizes a Jinja chat template (from `chat_template.jinja` or GGUF
    /// `tokenizer.chat_template`) as ChatML, with or without a default system prompt.
    ///
    /// - Throws: ``TokenizerError`` `.unsupportedTemplate` if the source is anything else;
    ///   rendering an unrecognized template approximately would silently change what the
    ///   model is trained on.
    public init(jinja source: String) throws {
        var normalized = source.replacingOccurrences(of: "\\n", with: "\n")
        while let last = normalized.last, last.isWhitespace { normalized.removeLast() }
        var candidates = [ChatTemplate(defaultSystemPrompt: nil)]
        if let prompt = Self.embeddedSystemPrompt(in: normalized) { candidates.append(ChatTemplate(defaultSystemPrompt: prompt)) }
        guard let match = candidates.first(where: { $0.jinjaSource == normalized }) else {
            let excerpt = String(normalized.prefix(80)).debugDescription
            throw TokenizerError(.unsupportedTemplate, "chat template \(excerpt)… is not a ChatML template this renderer reproduces exactly")
        }
        self = match
    }

    private static let systemPrefix = "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
    private static let systemSuffix = "<|im_end|>\n' }}{% endif %}"

    /// The prompt between `systemPrefix` and `systemSuffix`, if the source has that block.
    private static func embeddedSystemPrompt(in source: String) -> String? {
        guard let start = source.range(of: systemPrefix),
            let end = source.range(of: systemSuffix, range: start.upperBound..<source.endIndex)
        else { return nil }
        return String(source[start.upperBound..<end.lowerBound])
    }

    /// The Jinja source this template renders like (newlines inside strings literal).
    var jinjaSource: String {
        let system = defaultSystemPrompt.map { Self.systemPrefix + $0 + Self.systemSuffix } ?? ""
        return "{% for message in messages %}" + system
            + "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    }

    /// Renders `messages` as the Jinja template would.
    ///
    /// - Parameters:
    ///   - messages: the conversation, in order.
    ///   - addGenerationPrompt: end with `<|im_start|>assistant\n`, to generate a reply.
    /// - Returns: the text and the byte ranges of the assistant turns.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> RenderedChat {
        var text = ""
        var responses: [Range<Int>] = []
        for (index, message) in messages.enumerated() {
            if index == 0, message.role != .system, let defaultSystemPrompt {
                text += "<|im_start|>system\n" + defaultSystemPrompt + "<|im_end|>\n"
            }
            text += "<|im_start|>" + message.role.rawValue + "\n"
            let start = text.utf8.count
            text += message.content + "<|im_end|>"
            if message.role == .assistant { responses.append(start..<text.utf8.count) }
            text += "\n"
        }
        if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        return RenderedChat(text: text, responseRanges: responses)
    }
}
