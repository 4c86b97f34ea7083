// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Records
import Tokenizers
import Transformer

/// A published adapter loaded onto its backbone for inference, from the files alone.
///
/// The model card gives the strategy, its options and the label sets; the weights file
/// gives every parameter by segment name, so nothing of the training run is needed.
public final class AdapterPredictor {
    public let card: ModelCard
    private let objective: ClassificationObjective
    private let encoder: ClassificationExampleEncoder
    private let parameters = TrainableParameters()
    private let adapter: any Adapter
    public var chunkSize = 32

    /// One record's prediction, with its task's label probabilities.
    public struct Result: Sendable, Hashable {
        public let task: String
        public let prediction: String
        public let scores: [String: Double]
    }

    /// - Throws: ``TrainingError`` `.artifactUnreadable` for a missing or foreign card,
    ///   `.invalidConfiguration` when `strategy` is not the card's; ``AdapterError`` for
    ///   weights that do not fit.
    public init(adapterDirectory: URL, backboneDirectory: URL, strategy: any AdapterStrategy) throws {
        card = try ModelCard.read(from: adapterDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile))
        guard strategy.id == card.strategy.id else {
            throw TrainingError(.invalidConfiguration, "the adapter was trained with strategy \(card.strategy.id); got \(strategy.id)")
        }
        guard card.training.objective == Manifest.Objective.classify.rawValue else {
            throw TrainingError(.invalidConfiguration, "objective \(card.training.objective) is not supported by predict on this backbone")
        }
        let backbone = try loadBackbone(directory: backboneDirectory)
        encoder = ClassificationExampleEncoder(
            tokenizer: try WordPieceTokenizer(tokenizerJSON: backboneDirectory.appendingPathComponent("tokenizer.json")),
            labels: card.training.labels, maxLength: card.training.maxLength)
        objective = ClassificationObjective(backbone: backbone, tasks: encoder.tasks, labels: card.training.labels)
        let options = try StrategyOptions(json: card.strategy.options, schema: strategy.options)
        adapter = try strategy.makeAdapter(backbone: backbone, configuration: AdapterConfiguration(
            options: options, objective: .classify, tasks: encoder.tasks, labels: card.training.labels,
            seed: card.training.seed, clip: card.privacy.clip, epsilon: card.privacy.targetEpsilon, delta: card.privacy.delta))
        adapter.declareParameters(in: parameters)
        objective.head.declareParameters(in: parameters)
        var generator = SeededGenerator(seed: card.training.seed)
        parameters.seal(generator: &generator)
        try AdapterArtifacts.load(parameters, from: adapterDirectory)
        adapter.attach(to: backbone, parameters: parameters)
        adapter.setTraining(false)
    }

    deinit {
        adapter.detach(from: objective.backbone)
    }

    /// Predicts each record's label within its task.
    public func predict(_ records: [DatasetRecord]) throws -> [Result] {
        let examples = try records.enumerated().map { index, record in
            try encoder.encode(Self.withDeclaredLabel(record, labels: encoder.labels, tasks: encoder.tasks), unit: index)
        }
        return zip(examples, objective.predict(examples, parameters: parameters, chunkSize: chunkSize)).map { example, prediction in
            let task = encoder.tasks[example.task]
            let labels = encoder.labels[task] ?? []
            return Result(task: task, prediction: labels[prediction.label],
                          scores: Dictionary(uniqueKeysWithValues: zip(labels, prediction.probabilities.map(Double.init))))
        }
    }

    /// Records to predict may have no output, or one outside the label set: give them a
    /// declared placeholder so they encode; the prediction does not read it.
    private static func withDeclaredLabel(_ record: DatasetRecord, labels: [String: [String]], tasks: [String]) -> DatasetRecord {
        let task = record.task ?? (tasks.count == 1 ? tasks[0] : "")
        guard let first = labels[task]?.first, labels[task]?.contains(record.output) != true else { return record }
        var copy = record
        switch record.body {
        case .instruction(let instruction, let input, _):
            copy.body = .instruction(instruction: instruction, input: input, output: first)
        case .chat(let messages):
            copy.body = .chat(messages + [DatasetRecord.Message(role: .assistant, content: first)])
        }
        return copy
    }
}
