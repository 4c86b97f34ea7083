// SPDX-License-Identifier: Apache-2.0
import Records
import Tokenizers

/// Turns records into encoder inputs `[CLS] instruction [SEP] input [SEP]` and label indices.
///
/// A chat record is read as its system and user turns (joined) for the first segment and
/// no second segment; its last assistant turn is the label. With ``Manifest/InstructionUse/omit``
/// the instruction (a chat record's system turns) is left out where the record has
/// anything else to read.
public struct ClassificationExampleEncoder: Sendable {
    public let tokenizer: WordPieceTokenizer
    /// The job's tasks, sorted; a record without `task` belongs to the only one.
    public let tasks: [String]
    public let labels: [String: [String]]
    public let maxLength: Int
    public let instruction: Manifest.InstructionUse

    public init(tokenizer: WordPieceTokenizer, labels: [String: [String]], maxLength: Int,
                instruction: Manifest.InstructionUse = .encode) {
        self.tokenizer = tokenizer
        self.tasks = labels.keys.sorted()
        self.labels = labels
        self.maxLength = maxLength
        self.instruction = instruction
    }

    /// - Throws: ``TrainingError`` `.invalidRecord` for a task or label the manifest does not
    ///   declare (the validator refuses those at intake; this guards direct callers).
    public func encode(_ record: DatasetRecord, unit: Int) throws(TrainingError) -> TrainingExample {
        let taskName: String
        if let named = record.task {
            taskName = named
        } else if tasks.count == 1 {
            taskName = tasks[0]
        } else {
            throw TrainingError(.invalidRecord, "a record has no task, but the manifest declares \(tasks.count) tasks")
        }
        guard let task = tasks.firstIndex(of: taskName), let taskLabels = labels[taskName] else {
            // A record's values are private: they are not echoed into a reason that is logged.
            throw TrainingError(.invalidRecord, "a record's task is not one of the manifest's (\(tasks.joined(separator: ", ")))")
        }
        guard let label = taskLabels.firstIndex(of: record.output) else {
            throw TrainingError(.invalidRecord, "a record's label is not one declared for task \(taskName)")
        }
        let (first, second) = Self.segments(of: record, instruction: instruction)
        let encoding = tokenizer.encode(first, pair: second, maxLength: maxLength)
        return TrainingExample(ids: encoding.ids, tokenTypeIDs: encoding.tokenTypeIDs, task: task,
                               target: .label(label), unit: unit)
    }

    static func segments(of record: DatasetRecord, instruction use: Manifest.InstructionUse) -> (String, String?) {
        switch record.body {
        case .instruction(_, let input?, _) where use == .omit:
            return (input, nil)
        case .instruction(let instruction, let input, _):
            return (instruction, input)
        case .chat(let messages):
            let end = messages.lastIndex { $0.role == .assistant } ?? messages.endIndex
            let prompt = messages[..<end].filter { $0.role != .assistant }
            let users = prompt.filter { $0.role == .user }
            let read = use == .omit && !users.isEmpty ? users : prompt
            return (read.map(\.content).joined(separator: "\n"), nil)
        }
    }
}

extension ClassificationExampleEncoder {
    /// One example per declared label: the label's own text, `[CLS] text [SEP]`, with `_`
    /// read as a space (`card_arrival` → "card arrival"), in task order then label order.
    ///
    /// These are public inputs (the manifest declares its labels), so features computed
    /// from them cost no privacy; ``LabelPrior`` starts the heads from them.
    public func labelExamples() -> [TrainingExample] {
        tasks.enumerated().flatMap { task, name in
            (labels[name] ?? []).enumerated().map { label, text in
                let encoding = tokenizer.encode(text.split(separator: "_", omittingEmptySubsequences: false).joined(separator: " "),
                                                pair: nil, maxLength: maxLength)
                return TrainingExample(ids: encoding.ids, tokenTypeIDs: encoding.tokenTypeIDs, task: task,
                                       target: .label(label), unit: 0)
            }
        }
    }
}
