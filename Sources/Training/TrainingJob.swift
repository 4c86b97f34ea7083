// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Privacy
import Records
import Tokenizers
import Transformer

/// One job from files to a published adapter: what `dptuned train` and a daemon worker run.
///
/// The held-out split, the plan and the adapter are fixed before the first step, from
/// the manifest and public facts only.
public struct TrainingJob {
    public var jobID: String
    public var manifest: Manifest
    public var datasetPath: String
    public var backboneDirectory: URL
    public var strategy: any AdapterStrategy
    public var outputDirectory: URL
    public var heldOutFraction: Double
    /// The ledger job that paid for this run, recorded in the card.
    public var ledgerCharge: String?
    /// The plan that charge paid for; ``prepare()`` refuses to train any other.
    public var chargedPlan: ChargedPlan?
    /// The SHA-256 of the dataset as validated and admitted; ``prepare()`` refuses other bytes.
    public var admittedDatasetSHA256: String?
    public var chunkSize: Int = 32
    /// Where to keep the checkpoint; a matching one found there is resumed from.
    public var checkpointURL: URL?
    /// Save a checkpoint after every this many steps.
    public var checkpointEvery = 50

    public init(jobID: String, manifest: Manifest, datasetPath: String, backboneDirectory: URL,
                strategy: any AdapterStrategy, outputDirectory: URL, heldOutFraction: Double, ledgerCharge: String? = nil) {
        self.jobID = jobID
        self.manifest = manifest
        self.datasetPath = datasetPath
        self.backboneDirectory = backboneDirectory
        self.strategy = strategy
        self.outputDirectory = outputDirectory
        self.heldOutFraction = heldOutFraction
        self.ledgerCharge = ledgerCharge
    }

    /// Everything fixed before the first step.
    public struct Prepared {
        public let trainer: Trainer
        public let adapter: any Adapter
        /// The options the adapter was made with, defaults filled in; the card records them.
        public let options: StrategyOptions
        public let heldOut: [TrainingExample]
        public let populationSize: Int
        /// Tokens per record: the manifest's `max_len`, or the backbone's positions where
        /// they end sooner (a longer sequence could not run); the card records this one.
        public let maxLength: Int
    }

    /// Reads, splits and encodes the data, opens the backbone and makes the adapter and trainer.
    ///
    /// - Throws: ``TrainingError`` `.planMismatch` for a plan other than ``chargedPlan``, a
    ///   forward-perturbation release other than the one it priced, or a dataset other than
    ///   the one admitted (``admittedDatasetSHA256``);
    ///   `.invalidRecord` for a dataset without records; `.invalidConfiguration` for a
    ///   held-out fraction outside [0, 1), a backbone of another family
    ///   than the objective trains (``Manifest/Objective/refusal(backbone:family:)``) or
    ///   `generate` with a strategy that privatizes in the forward pass; the strategy's
    ///   ``AdapterError`` (e.g. bitfit on Llama, which has no biases).
    public func prepare() throws -> Prepared {
        if let refusal = manifest.objective.refusal(strategy: strategy.id, mechanism: strategy.mechanismKind)
            ?? manifest.privacy.unit.refusal(strategy: strategy.id, mechanism: strategy.mechanismKind) {
            throw TrainingError(.invalidConfiguration, refusal)
        }
        let dataset = try TrainingDataset.read(path: datasetPath, privacyUnit: manifest.privacy.unit)
        if let admitted = admittedDatasetSHA256, dataset.sha256 != admitted {
            throw TrainingError(.planMismatch, "\(datasetPath) has SHA-256 \(dataset.sha256 ?? "none"); the ledger admitted \(admitted). The file changed after it was validated (replaced or still being written?); refusing to train data that was not validated")
        }
        // The daemon's intake refuses both before a job exists; `dptuned train` reaches here directly.
        guard dataset.unitCount > 0 else {
            throw TrainingError(.invalidRecord, "\(datasetPath) holds no records")
        }
        guard heldOutFraction >= 0, heldOutFraction < 1 else {
            throw TrainingError(.invalidConfiguration, "the held-out fraction must be in [0, 1); found \(heldOutFraction)")
        }
        let split = HeldOutSplit(memberCount: dataset.unitCount, heldOutFraction: heldOutFraction, seed: manifest.train.seed)
        if let refusal = manifest.objective.refusal(backbone: manifest.backbone,
                                                    family: try backboneFamily(directory: backboneDirectory)) {
            throw TrainingError(.invalidConfiguration, refusal)
        }
        let backbone = try loadBackbone(directory: backboneDirectory)
        let maxLength = min(manifest.train.maxLen, (backbone as? any ContextLimitedBackbone)?.maxSequenceLength ?? .max)
        let encode: (DatasetRecord, Int) throws -> TrainingExample
        let tasks: [String]
        var generation: (model: LlamaModel, encoder: GenerationExampleEncoder)?
        var labelPrior: LabelPrior?
        switch manifest.objective {
        case .classify:
            let encoder = ClassificationExampleEncoder(
                tokenizer: try WordPieceTokenizer(tokenizerJSON: backboneDirectory.appendingPathComponent("tokenizer.json")),
                labels: manifest.labels, maxLength: maxLength, instruction: manifest.train.instruction)
            encode = { try encoder.encode($0, unit: $1) }
            tasks = encoder.tasks
            if manifest.train.headInit == .labelNames { labelPrior = LabelPrior(examples: encoder.labelExamples()) }
        case .generate:
            guard let model = backbone as? LlamaModel else {
                throw TrainingError(.invalidConfiguration, "\(manifest.backbone) opened as \(type(of: backbone)), not a Llama-family decoder")
            }
            let encoder = try GenerationExampleEncoder(backboneDirectory: backboneDirectory, labels: manifest.labels,
                                                       maxLength: maxLength)
            generation = (model, encoder)
            encode = { try encoder.encode($0, unit: $1) }
            tasks = encoder.tasks
        }
        func encodeUnits(_ units: [Int]) throws -> [TrainingExample] {
            let chosen = dataset.subset(units: units)
            return try chosen.records.indices.map { index in
                do {
                    return try encode(chosen.records[index], chosen.unitOfRecord[index])
                } catch let error as TrainingError where error.code == .invalidRecord {
                    // Intake names the line; `dptuned train` reaches here without intake.
                    throw TrainingError(.invalidRecord, "line \(chosen.lines[index]): \(error.message)")
                }
            }
        }
        let training = try encodeUnits(split.training)
        let heldOut = try encodeUnits(split.heldOut)
        let options = try StrategyOptions(json: String(decoding: manifest.strategyOptionsJSON, as: UTF8.self),
                                          schema: strategy.options)
        let objective: AdapterConfiguration.Objective = manifest.objective == .classify ? .classify : .generate
        let configuration = AdapterConfiguration(
            options: options, objective: objective, tasks: tasks, labels: manifest.labels,
            seed: manifest.train.seed, clip: manifest.train.clip, epsilon: manifest.privacy.epsilon,
            delta: manifest.privacy.delta)
        let adapter = try strategy.makeAdapter(backbone: backbone, configuration: configuration)
        let plan = try TrainingPlan(populationSize: split.training.count, expectedBatch: manifest.train.expectedBatch,
                                    epochs: manifest.train.epochs, epsilon: manifest.privacy.epsilon,
                                    delta: manifest.privacy.delta, accountant: manifest.privacy.accountant)
        if let chargedPlan {
            // A share the record does not hold (written before it was kept) is not compared.
            let share = chargedPlan.labelShare == nil || strategy.mechanismKind != .forwardPerturbation
                ? nil : try options.number(ForwardPerturbationBudget.labelShareOption)
            let planned = ChargedPlan(plan, labelShare: share)
            if planned != chargedPlan {
                throw TrainingError(.planMismatch, "the job now plans otherwise than the plan its ledger charge paid for (\(chargedPlan.differences(to: planned).joined(separator: ", "))): has the daemon's configuration or the strategy's build changed since the job was admitted? Refusing to train")
            }
        }
        let settings = TrainingSettings(
            learningRate: Float(manifest.train.lr), clip: manifest.train.clip, seed: manifest.train.seed,
            chunkSize: chunkSize, insecureReproducibleSeed: manifest.insecureReproducibleNoise ? manifest.train.seed : nil,
            privacyUnit: manifest.privacy.unit, maxLength: maxLength)
        let trainer = if let generation {
            try Trainer(languageModel: generation.model, tokenizer: generation.encoder.tokenizer, tasks: tasks,
                        adapter: adapter, examples: training, plan: plan, settings: settings)
        } else {
            try Trainer(backbone: backbone, adapter: adapter, labels: manifest.labels, examples: training,
                        plan: plan, settings: settings, labelPrior: labelPrior)
        }
        if let share = chargedPlan?.labelShare, case .forwardPerturbation = adapter.mechanism {
            // Intake priced the release from the manifest alone; the plugin calibrates its own noise.
            let charged = try ForwardPerturbationBudget(epsilon: manifest.privacy.epsilon, delta: manifest.privacy.delta,
                                                        labelShare: share).event(labelCounts: manifest.labels.values.map(\.count))
            if trainer.spentEvent != charged {
                throw TrainingError(.planMismatch, "strategy \(strategy.id) \(strategy.version) would release \(trainer.spentEvent.stableJSON) per record; its ledger charge paid for \(charged.stableJSON). Refusing to train")
            }
        }
        return Prepared(trainer: trainer, adapter: adapter, options: options, heldOut: heldOut,
                        populationSize: split.training.count, maxLength: maxLength)
    }

    /// The strategy build as checkpoints and the card name it.
    private var strategyKey: String { "\(strategy.id)@\(strategy.version)" }

    /// Trains (from the checkpoint, if one of this job exists), evaluates on the held-out
    /// split and publishes the adapter; returns its card.
    /// - Parameters:
    ///   - progress: told of each step; false stops the run (``TrainingError`` `cancelled`).
    ///   - mayPublish: asked once more when the adapter is about to be written, after the
    ///     last step's report and the final evaluation (minutes for `generate`); false stops
    ///     the run there, so that a cancel in that time is not answered with a publication.
    ///   - checkpointFailed: told of each checkpoint that could not be written.
    public func run(progress: (TrainingProgress) -> Bool = { _ in true }, mayPublish: () -> Bool = { true },
                    checkpointFailed: (any Error) -> Void = { _ in }) throws -> ModelCard {
        // The adapter is published by renaming its folder into place, which fails over an
        // existing one: found now, not after the whole run.
        guard !FileManager.default.fileExists(atPath: outputDirectory.path) else {
            throw TrainingError(.invalidConfiguration, "\(outputDirectory.path) already exists; an adapter is never published over another")
        }
        let prepared = try prepare()
        let trainer = prepared.trainer
        if let checkpointURL, FileManager.default.fileExists(atPath: checkpointURL.path) {
            if try !trainer.restore(from: checkpointURL, jobID: jobID, strategy: strategyKey) {
                try FileManager.default.removeItem(at: checkpointURL)
            }
        }
        // `generate` scores greedy responses, a generation per held-out record: evaluated
        // at the end only, where `classify` costs a forward pass per record.
        let evaluationSteps = manifest.objective == .classify
            ? TrainingHistory.evaluationSteps(totalSteps: trainer.plan.steps, epochs: manifest.train.epochs) : []
        try trainer.run { report in
            if evaluationSteps.contains(report.step) { trainer.recordEvaluation(prepared.heldOut) }
            if let checkpointURL, report.step % checkpointEvery == 0, case .gradientPerturbation = trainer.adapterMechanism {
                // A checkpoint replaces the last by rename, so a failed one leaves the last
                // whole; the run goes on (a full state disk failed jobs at 91%), and an
                // interruption resumes from the last written, as from one 49 steps old.
                do { try trainer.saveCheckpoint(to: checkpointURL, jobID: jobID, strategy: strategyKey) } catch {
                    checkpointFailed(error)
                }
            }
            return progress(report)
        }
        let card = try publish(prepared, mayPublish: mayPublish)
        if let checkpointURL { try? FileManager.default.removeItem(at: checkpointURL) }
        return card
    }

    /// Evaluates and writes the artifacts of a finished run, unless `mayPublish` says no
    /// once the evaluation is done (``run(progress:mayPublish:checkpointFailed:)``).
    public func publish(_ prepared: Prepared, mayPublish: () -> Bool = { true }) throws -> ModelCard {
        let trainer = prepared.trainer
        let accuracy = trainer.history.evaluations.last.flatMap { $0.step == trainer.step ? $0.accuracy : nil }
            ?? trainer.recordEvaluation(prepared.heldOut)
        guard mayPublish() else {
            throw TrainingError(.cancelled, "stopped after step \(trainer.step) of \(trainer.plan.steps), before publication")
        }
        let card = try modelCard(trainer: trainer, options: prepared.options, accuracy: accuracy,
                                 heldOutCount: prepared.heldOut.count, maxLength: prepared.maxLength)
        try AdapterArtifacts.write(
            parameters: trainer.parameters,
            configuration: prepared.adapter.exportedConfiguration(baseModel: manifest.backbone),
            card: card, report: TrainingReport(history: trainer.history, card: card), to: outputDirectory)
        return card
    }

    private func modelCard(trainer: Trainer, options: StrategyOptions, accuracy: [String: Double],
                           heldOutCount: Int, maxLength: Int) throws -> ModelCard {
        let plan = trainer.plan
        let event = trainer.spentEvent
        let spent = try trainer.spentEpsilon()
        let isDPSGD = { if case .gradientPerturbation = trainer.adapterMechanism { true } else { false } }()
        let backboneSize = trainer.backboneParameterCount
        return ModelCard(
            format: ModelCard.currentFormat, jobID: jobID,
            createdAt: ISO8601DateFormatter().string(from: Date()),
            backbone: .init(id: manifest.backbone, parameters: backboneSize),
            strategy: .init(id: strategy.id, version: strategy.version, options: options.resolvedJSON),
            trainableParameters: trainer.parameters.count,
            trainablePercent: 100 * Double(trainer.parameters.count) / Double(max(1, backboneSize)),
            privacy: .init(
                epsilon: spent.epsilon, targetEpsilon: plan.targetEpsilon, delta: plan.delta,
                unit: manifest.privacy.unit.rawValue, adjacency: NeighboringRelation.addOrRemoveOne.rawValue,
                accountant: spent.accountant,
                mechanism: isDPSGD ? "dp-sgd" : "forward-perturbation",
                noiseMultiplier: isDPSGD ? plan.noiseMultiplier : nil, samplingRate: isDPSGD ? plan.samplingRate : nil,
                steps: isDPSGD ? trainer.step : nil, clip: manifest.train.clip, populationSize: plan.populationSize,
                datasetSizeIsPublic: true, hyperparametersTuned: manifest.hyperparametersTuned, event: event),
            evaluation: .init(split: "held_out", records: heldOutCount, accuracy: accuracy),
            training: .init(objective: manifest.objective.rawValue, labels: manifest.labels, epochs: manifest.train.epochs,
                            expectedBatch: manifest.train.expectedBatch, learningRate: manifest.train.lr,
                            maxLength: maxLength, seed: manifest.train.seed,
                            headInit: manifest.objective == .classify ? manifest.train.headInit.rawValue : nil,
                            instruction: manifest.objective == .classify ? manifest.train.instruction.rawValue : nil,
                            padding: (trainer.objective as? ClassificationObjective).map {
                                ($0.releaseLength == nil ? ModelCard.SequencePadding.longest : .maxLength).rawValue
                            }),
            ledgerCharge: ledgerCharge)
    }
}
