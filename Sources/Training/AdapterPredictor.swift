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
    private let objective: any TrainingObjective
    private let reader: Reader
    private let parameters = TrainableParameters()
    private let adapter: any Adapter
    public var chunkSize = 32

    /// How records become model inputs and outputs become answers, per objective.
    private enum Reader {
        case labels(ClassificationObjective, ClassificationExampleEncoder)
        case responses(GenerationObjective, GenerationExampleEncoder)
    }

    /// One record's prediction, with its task's label probabilities (none for a generated response).
    public struct Result: Sendable, Hashable {
        public let task: String
        public let prediction: String
        public let scores: [String: Double]
    }

    /// - Throws: ``TrainingError`` `.artifactUnreadable` for a missing or foreign card,
    ///   `.invalidConfiguration` for a backbone whose parameter count is not the card's,
    ///   when `strategy` is not the card's, is another version and
    ///   would fill options the card does not record with its own defaults, or a `generate`
    ///   adapter meets a backbone that is not a Llama decoder; ``AdapterError`` for weights
    ///   that do not fit.
    public init(adapterDirectory: URL, backboneDirectory: URL, strategy: any AdapterStrategy) throws {
        card = try ModelCard.read(from: adapterDirectory.appendingPathComponent(AdapterArtifacts.modelCardFile))
        guard strategy.id == card.strategy.id else {
            throw TrainingError(.invalidConfiguration, "the adapter was trained with strategy \(card.strategy.id); got \(strategy.id)")
        }
        let backbone = try loadBackbone(directory: backboneDirectory)
        // The card names its backbone by an id that `[models]` or `--backbone` maps to a
        // directory, so the id alone cannot tell another model; the count it recorded can.
        guard backbone.parameterCount == card.backbone.parameters else {
            throw TrainingError(.invalidConfiguration, "the adapter was trained on backbone \(card.backbone.id) of \(card.backbone.parameters) parameters; \(backboneDirectory.path) holds a backbone of \(backbone.parameterCount): predict on the backbone it was trained on, refusing")
        }
        let labels = card.training.labels
        let tasks: [String]
        let kind: AdapterConfiguration.Objective
        switch card.training.objective {
        case Manifest.Objective.classify.rawValue:
            let instruction = card.training.instruction ?? Manifest.InstructionUse.encode.rawValue
            guard let use = Manifest.InstructionUse(rawValue: instruction) else {
                throw TrainingError(.artifactUnreadable, "the model card's training.instruction is \"\(instruction)\", which this version does not know (encode, omit)")
            }
            let encoder = ClassificationExampleEncoder(
                tokenizer: try WordPieceTokenizer(tokenizerJSON: backboneDirectory.appendingPathComponent("tokenizer.json")),
                labels: labels, maxLength: card.training.maxLength, instruction: use)
            let classification = ClassificationObjective(
                backbone: backbone, tasks: encoder.tasks, labels: labels,
                releaseLength: try card.training.releaseLength())
            (objective, reader, tasks, kind) = (classification, .labels(classification, encoder), encoder.tasks, .classify)
        case Manifest.Objective.generate.rawValue:
            guard let model = backbone as? LlamaModel else {
                throw TrainingError(.invalidConfiguration, "a generate adapter needs a Llama-family decoder; \(backboneDirectory.path) holds \(type(of: backbone))")
            }
            let encoder = try GenerationExampleEncoder(backboneDirectory: backboneDirectory, labels: labels,
                                                       maxLength: card.training.maxLength)
            let generation = try GenerationObjective(model: model, tokenizer: encoder.tokenizer, tasks: encoder.tasks,
                                                     maxNewTokens: GenerationObjective.defaultMaxNewTokens)
            (objective, reader, tasks, kind) = (generation, .responses(generation, encoder), encoder.tasks, .generate)
        default:
            throw TrainingError(.artifactUnreadable, "the model card names objective \(card.training.objective), which this version does not know")
        }
        let options = try StrategyOptions(json: card.strategy.options, schema: strategy.options)
        try Self.checkNothingDefaulted(options, card: card.strategy, for: strategy)
        adapter = try strategy.makeAdapter(backbone: backbone, configuration: AdapterConfiguration(
            options: options, objective: kind, tasks: tasks, labels: labels,
            seed: card.training.seed, clip: card.privacy.clip, epsilon: card.privacy.targetEpsilon, delta: card.privacy.delta))
        adapter.declareParameters(in: parameters)
        objective.declareParameters(in: parameters)
        var generator = SeededGenerator(seed: card.training.seed)
        parameters.seal(generator: &generator)
        try AdapterArtifacts.load(parameters, from: adapterDirectory)
        adapter.attach(to: backbone, parameters: parameters)
        adapter.setTraining(false)
    }

    deinit {
        adapter.detach(from: objective.backbone)
    }

    /// Refuses to rebuild with another version of the strategy an adapter whose card leaves
    /// options out: that version would fill them with its own defaults, which may not be
    /// the ones it was trained with (`projected` 0.4.0 changed how A is made), and the
    /// predictions would be silently wrong. The same version has the same defaults.
    static func checkNothingDefaulted(_ options: StrategyOptions, card: ModelCard.Strategy,
                                      for strategy: any AdapterStrategy) throws {
        guard card.version != strategy.version, !options.defaultedNames.isEmpty else { return }
        throw TrainingError(.invalidConfiguration, "the adapter was trained with \(card.id) \(card.version) and its card does not record strategy options \(options.defaultedNames.joined(separator: ", ")); \(strategy.id) \(strategy.version) would use its own defaults for them, which may differ: predict with the plugin version that trained it")
    }

    /// Predicts each record's label within its task, or generates its response greedily.
    public func predict(_ records: [DatasetRecord]) throws -> [Result] {
        switch reader {
        case .labels(let objective, let encoder):
            let examples = try records.enumerated().map { index, record in
                try encoder.encode(Self.withDeclaredLabel(record, labels: encoder.labels, tasks: encoder.tasks), unit: index)
            }
            return zip(examples, objective.predict(examples, parameters: parameters, chunkSize: chunkSize)).map { example, prediction in
                let task = encoder.tasks[example.task]
                let labels = encoder.labels[task] ?? []
                return Result(task: task, prediction: labels[prediction.label],
                              scores: Dictionary(uniqueKeysWithValues: zip(labels, prediction.probabilities.map(Double.init))))
            }
        case .responses(let objective, let encoder):
            let responses = objective.responses(to: records.map(encoder.prompt(for:)))
            return zip(records, responses).map { record, response in
                let task = encoder.tasks.count == 1 ? encoder.tasks[0] : record.task ?? ""
                return Result(task: task, prediction: response, scores: [:])
            }
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
