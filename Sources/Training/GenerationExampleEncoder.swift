// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Tokenizers
import Transformer

/// Turns records into decoder inputs rendered with the model's chat template, marking the
/// assistant's tokens as the ones the loss scores.
///
/// An instruction record is one exchange: the user says the instruction (and the input
/// after a blank line), the assistant answers the output. A chat record is rendered as
/// given; every assistant turn carries loss, and evaluation scores the last one.
public struct GenerationExampleEncoder: Sendable {
    public let tokenizer: ByteLevelBPETokenizer
    public let template: ChatTemplate
    /// The job's tasks, sorted; with only one, every record belongs to it.
    public let tasks: [String]
    public let maxLength: Int

    public init(tokenizer: ByteLevelBPETokenizer, template: ChatTemplate, tasks: [String], maxLength: Int) {
        self.tokenizer = tokenizer
        self.template = template
        self.tasks = tasks
        self.maxLength = maxLength
    }

    /// The encoder of a job on a model directory: its byte-level BPE and chat template, from
    /// `tokenizer.json` and `chat_template.jinja` when the directory has them (a Hugging Face
    /// export), otherwise from the metadata of the directory's one `.gguf` file; the tasks
    /// are those `labels` declares, or one task named `generate` when it declares none.
    ///
    /// - Throws: ``TrainingError`` `.invalidConfiguration` when neither source has a template
    ///   or the GGUF's tokenizer is not byte-level BPE; ``TokenizerError`` for a tokenizer or
    ///   template this code cannot reproduce exactly; ``GGUFError`` or ``ModelLoadingError``
    ///   for a missing or broken GGUF file.
    public init(backboneDirectory: URL, labels: [String: [String]], maxLength: Int) throws {
        let tokenizerURL = backboneDirectory.appendingPathComponent("tokenizer.json")
        let templateURL = backboneDirectory.appendingPathComponent("chat_template.jinja")
        let hasTokenizer = FileManager.default.fileExists(atPath: tokenizerURL.path)
        let hasTemplate = FileManager.default.fileExists(atPath: templateURL.path)
        var embedded: (metadata: GGUFTokenizerMetadata, path: String)?
        if !hasTokenizer || !hasTemplate {
            let path = try singleGGUF(in: backboneDirectory).path
            embedded = (try GGUFTokenizerMetadata(GGUFFile(contentsOf: path)), path)
        }
        let tokenizer = if let embedded, !hasTokenizer {
            try ByteLevelBPETokenizer(gguf: embedded.metadata, path: embedded.path)
        } else {
            try ByteLevelBPETokenizer(tokenizerJSON: tokenizerURL)
        }
        let source: String
        if let embedded, !hasTemplate {
            guard let template = embedded.metadata.chatTemplate else {
                throw TrainingError(.invalidConfiguration, "objective generate renders records with the model's chat template; \(backboneDirectory.path) has no chat_template.jinja and \(embedded.path) no tokenizer.chat_template")
            }
            source = template
        } else {
            do {
                source = try String(contentsOf: templateURL, encoding: .utf8)
            } catch {
                throw TrainingError(.invalidConfiguration, "cannot read the chat template \(templateURL.path): \(error.localizedDescription)")
            }
        }
        self.init(tokenizer: tokenizer, template: try ChatTemplate(jinja: source),
                  tasks: labels.isEmpty ? ["generate"] : labels.keys.sorted(), maxLength: maxLength)
    }

    /// - Throws: ``TrainingError`` `.invalidRecord` for a task the job does not declare, or
    ///   a record whose response tokenizes to nothing; `.invalidConfiguration` for a
    ///   maximum length below 2 (a response needs a token to be predicted from).
    public func encode(_ record: DatasetRecord, unit: Int) throws(TrainingError) -> TrainingExample {
        guard maxLength >= 2 else {
            throw TrainingError(.invalidConfiguration, "generate needs max_len of at least 2; found \(maxLength)")
        }
        let task: Int
        if tasks.count == 1 {
            task = 0
        } else if let name = record.task, let index = tasks.firstIndex(of: name) {
            task = index
        } else {
            // A record's values are private: they are not echoed into a reason that is logged.
            throw TrainingError(.invalidRecord, "a record's task is not one of the job's tasks \(tasks)")
        }
        let encoding = tokenizer.encode(template.render(Self.messages(of: record), addGenerationPrompt: false))
        guard let last = encoding.isResponse.lastIndex(of: true), last >= 1 else {
            throw TrainingError(.invalidRecord, "a record's response is empty after tokenization")
        }
        let (ids, isResponse) = Self.truncated(ids: Array(encoding.ids[...last]), isResponse: Array(encoding.isResponse[...last]),
                                               maxLength: maxLength)
        return TrainingExample(ids: ids, tokenTypeIDs: [], task: task, target: .response(isResponse: isResponse), unit: unit)
    }

    /// The prompt that asks for the record's (last) response: the conversation before it,
    /// ending with the generation prompt, at most `maxLength` tokens (its end kept).
    public func prompt(for record: DatasetRecord) -> [Int32] {
        var messages = Self.messages(of: record)
        if messages.last?.role == .assistant { messages.removeLast() }
        let ids = tokenizer.encode(template.render(messages, addGenerationPrompt: true)).ids
        return Array(ids.suffix(maxLength))
    }

    static func messages(of record: DatasetRecord) -> [ChatMessage] {
        switch record.body {
        case .instruction(let instruction, let input, let output):
            let question = input.map { instruction + "\n\n" + $0 } ?? instruction
            return [.user(question), .assistant(output)]
        case .chat(let messages):
            return messages.map { message in
                switch message.role {
                case .system: .system(message.content)
                case .user: .user(message.content)
                case .assistant: .assistant(message.content)
                }
            }
        }
    }

    /// At most `maxLength` tokens ending with the last response: the prompt loses its
    /// beginning first (the end of the conversation is what the response answers); a last
    /// response longer than the limit keeps its beginning and one prompt token before it.
    static func truncated(ids: [Int32], isResponse: [Bool], maxLength: Int) -> ([Int32], [Bool]) {
        guard ids.count > maxLength else { return (ids, isResponse) }
        var start = ids.count - 1
        while start > 1, isResponse[start - 1] { start -= 1 }
        let first = min(ids.count - maxLength, start - 1)
        let range = first..<(first + maxLength)
        return (Array(ids[range]), Array(isResponse[range]))
    }
}
