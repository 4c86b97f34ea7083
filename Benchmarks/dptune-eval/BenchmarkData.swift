// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Records
import Tokenizers
import Training

/// The four-task instruction benchmark, cut into training, validation and test examples.
///
/// Every cut is drawn with a public seed, so the subsets are the same in every run and
/// reveal nothing about the data. Validation is carved from the training file and is the
/// only split hyper-parameters are chosen on; the test files are only ever scored.
struct BenchmarkData {
    /// Each task's public label set (tasks.json), the manifest's `labels`.
    let labels: [String: [String]]
    /// The task names, sorted: the order of the encoder's task indices.
    var tasks: [String] { labels.keys.sorted() }
    let training: [TrainingExample]
    let validation: [TrainingExample]
    let test: [TrainingExample]
    /// One public example per declared label (``ClassificationExampleEncoder/labelExamples()``).
    let labelExamples: [TrainingExample]

    /// Why the benchmark cannot be read.
    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads `directory` (one folder per task with train.jsonl and test.jsonl, plus tasks.json).
    ///
    /// - Parameters:
    ///   - trainPerTask: training records drawn per task.
    ///   - validationPerTask: records per task carved from train.jsonl before the training draw.
    ///   - testPerTask: test records scored per task; 0 scores the whole test file.
    static func load(directory: URL, tokenizer: WordPieceTokenizer, maxLength: Int, instruction: Manifest.InstructionUse,
                     trainPerTask: Int, validationPerTask: Int, testPerTask: Int, seed: UInt64) throws -> BenchmarkData {
        let tasksURL = directory.appendingPathComponent("tasks.json")
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: tasksURL)) as? [String: Any] else {
            throw LoadError(description: "\(tasksURL.path) is not a JSON object, refusing")
        }
        var labels: [String: [String]] = [:]
        for (task, value) in object {
            guard let entry = value as? [String: Any], let set = entry["labels"] as? [String], !set.isEmpty else {
                throw LoadError(description: "\(tasksURL.path): task \(task) has no \"labels\" list, refusing")
            }
            labels[task] = set
        }
        let encoder = ClassificationExampleEncoder(tokenizer: tokenizer, labels: labels, maxLength: maxLength,
                                                   instruction: instruction)
        var training: [TrainingExample] = [], validation: [TrainingExample] = [], test: [TrainingExample] = []
        for task in labels.keys.sorted() {
            let folder = directory.appendingPathComponent(task)
            let train = try draw(from: folder.appendingPathComponent("train.jsonl"),
                                 count: validationPerTask + trainPerTask, seed: seed)
            guard train.count == validationPerTask + trainPerTask else {
                throw LoadError(description: "\(folder.path)/train.jsonl has \(train.count) records; \(validationPerTask) validation + \(trainPerTask) training asked, refusing")
            }
            validation += try train.prefix(validationPerTask).map { try encoder.encode($0, unit: 0) }
            training += try train.dropFirst(validationPerTask).map { try encoder.encode($0, unit: 0) }
            let scored = try draw(from: folder.appendingPathComponent("test.jsonl"),
                                  count: testPerTask == 0 ? Int.max : testPerTask, seed: seed)
            test += try scored.map { try encoder.encode($0, unit: 0) }
        }
        for index in training.indices { training[index].unit = index }
        return BenchmarkData(labels: labels, training: training, validation: validation, test: test,
                             labelExamples: encoder.labelExamples())
    }

    /// Up to `count` records of a file, in an order shuffled by the public seed.
    private static func draw(from url: URL, count: Int, seed: UInt64) throws -> [DatasetRecord] {
        let records = try TrainingDataset.read(path: url.path, privacyUnit: .record).records
        var generator = SeededGenerator(seed: seed)
        return Array(records.shuffled(using: &generator).prefix(count))
    }

    /// The examples of each task, counted.
    static func countPerTask(_ examples: [TrainingExample], tasks: [String]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for example in examples { counts[tasks[example.task], default: 0] += 1 }
        return counts
    }
}

/// Corruptions of the training labels for the robustness experiment (clean test labels).
enum LabelCorruption: Sendable, Hashable, CustomStringConvertible {
    /// Each label is, with this probability, replaced by a different label of its task drawn uniformly.
    case uniformNoise(Double)
    /// This share of one task's labels that are not already `towards` are set to it,
    /// as biased feedback would.
    case feedbackBias(task: String, towards: String, share: Double)

    var description: String {
        switch self {
        case .uniformNoise(let rate): String(format: "label noise %.0f%%", rate * 100)
        case .feedbackBias(let task, let label, let share): String(format: "%@: %.0f%% flipped to %@", task, share * 100, label)
        }
    }

    /// `examples` with their labels corrupted by a public seed.
    func apply(to examples: [TrainingExample], labels: [String: [String]], seed: UInt64) -> [TrainingExample] {
        let tasks = labels.keys.sorted()
        var generator = SeededGenerator(seed: seed ^ 0xC0DE_BAD1)
        return examples.map { example in
            guard let label = example.label, let set = labels[tasks[example.task]] else { return example }
            var corrupted = example
            switch self {
            case .uniformNoise(let rate):
                if set.count > 1, Double.random(in: 0..<1, using: &generator) < rate {
                    let shift = Int.random(in: 1..<set.count, using: &generator)
                    corrupted.target = .label((label + shift) % set.count)
                }
            case .feedbackBias(let task, let towards, let share):
                if tasks[example.task] == task, let target = set.firstIndex(of: towards), label != target,
                   Double.random(in: 0..<1, using: &generator) < share {
                    corrupted.target = .label(target)
                }
            }
            return corrupted
        }
    }
}
