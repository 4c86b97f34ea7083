// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import BenchmarkProbes
import Foundation
import Privacy
import Training
import Transformer

/// What one training run is asked to do.
struct RunRecipe: Sendable, Hashable {
    var strategy: String
    var epsilon: Double
    /// The non-private reference: no clipping, no noise, ε = ∞.
    var nonPrivate = false
    var learningRate: Float
    var expectedBatch: Int
    var epochs: Int
    /// Public seed: initialization and public projections (sampling and noise stay secret).
    var seed: UInt64
    /// Scored where the heads start, before any step: no record is read and nothing is
    /// spent. With a strategy whose update starts at zero (`lora`) that is the zero-shot
    /// classifier of the label names, the point every private run starts from.
    var untrained = false
}

/// What one training run measured.
struct RunResult: Sendable {
    let recipe: RunRecipe
    /// Accuracy per task on the scored split.
    let accuracy: [String: Double]
    /// The mean of the per-task accuracies.
    let macroAccuracy: Double
    /// Correct predictions over all scored records.
    let pooledAccuracy: Double
    /// ε at the run's δ of the event the trainer actually spent, priced by the PLD accountant.
    let epsilonSpent: Double
    /// The planned σ (DP-SGD) the accountant was calibrated to.
    let noiseMultiplier: Double
    let steps: Int
    let trainableParameters: Int
    let backboneParameters: Int
    /// Seconds between consecutive progress reports (the first measured from the start of `run`).
    let stepSeconds: [Double]
    let trainingSeconds: Double
    /// Planning, training and scoring.
    let wallSeconds: Double
    let calibrationSeconds: Double
    let pricingSeconds: Double
    /// Records per epoch times epochs: the training examples the run went through.
    let trainedExamples: Int
    let isForwardPerturbation: Bool

    var trainablePercent: Double { 100 * Double(trainableParameters) / Double(max(1, backboneParameters)) }
}

/// Runs training jobs on one shared backbone, one at a time.
///
/// Each run builds its own adapter and trainer; the trainer detaches the adapter from the
/// backbone when it is released at the end of ``run(_:training:scoredOn:stopAfterSteps:)``.
final class EvaluationRunner {
    let backbone: any Backbone
    let catalog: StrategyCatalog
    let labels: [String: [String]]
    let delta: Double
    let clip: Double
    /// Strategy id → options JSON; the others run with their defaults.
    let strategyOptions: [String: String]
    let chunkSize: Int
    /// The length records were truncated to, which a forward-perturbation release is padded to.
    let maxLength: Int
    /// Where every run's heads start; random when nil.
    let labelPrior: LabelPrior?

    init(backbone: any Backbone, catalog: StrategyCatalog, labels: [String: [String]], delta: Double, clip: Double,
         strategyOptions: [String: String] = [:], chunkSize: Int, maxLength: Int, labelPrior: LabelPrior? = nil) {
        self.backbone = backbone
        self.maxLength = maxLength
        self.catalog = catalog
        self.labels = labels
        self.delta = delta
        self.clip = clip
        self.strategyOptions = strategyOptions
        self.chunkSize = chunkSize
        self.labelPrior = labelPrior
    }

    /// Trains `recipe` on `training` and scores `scoredOn`; a failure of any part is returned, not thrown.
    ///
    /// - Parameter stopAfterSteps: stop early (for timings); the result then has no accuracy.
    func run(_ recipe: RunRecipe, training: [TrainingExample], scoredOn: [TrainingExample],
             stopAfterSteps: Int? = nil) -> Result<RunResult, EvaluationFailure> {
        do {
            return .success(try attempt(recipe, training: training, scoredOn: scoredOn, stopAfterSteps: stopAfterSteps))
        } catch let failure as EvaluationFailure {
            return .failure(failure)
        } catch {
            return .failure(EvaluationFailure("\(error)"))
        }
    }

    private func attempt(_ recipe: RunRecipe, training: [TrainingExample], scoredOn: [TrainingExample],
                         stopAfterSteps: Int?) throws -> RunResult {
        let started = ContinuousClock.now
        let strategy = try catalog.strategy(recipe.strategy).get()
        let tasks = labels.keys.sorted()
        let configuration = AdapterConfiguration(
            options: try StrategyOptions(json: strategyOptions[recipe.strategy] ?? "", schema: strategy.options), objective: .classify, tasks: tasks,
            labels: labels, seed: recipe.seed, clip: clip, epsilon: recipe.epsilon, delta: delta)
        let adapter = try strategy.makeAdapter(backbone: backbone, configuration: configuration)
        let calibrationStart = ContinuousClock.now
        let plan = try TrainingPlan(populationSize: training.count, expectedBatch: recipe.expectedBatch,
                                    epochs: recipe.epochs, epsilon: recipe.epsilon, delta: delta, accountant: .prv)
        let calibrationSeconds = seconds(since: calibrationStart)
        let settings = TrainingSettings(learningRate: recipe.learningRate, clip: clip, seed: recipe.seed,
                                        chunkSize: chunkSize, nonPrivate: recipe.nonPrivate, maxLength: maxLength)
        let trainer = try Trainer(backbone: backbone, adapter: adapter, labels: labels, examples: training,
                                  plan: plan, settings: settings, labelPrior: labelPrior)
        var stepSeconds: [Double] = []
        let trainingStart = ContinuousClock.now
        var lastReport = trainingStart
        do {
            if !recipe.untrained {
                try trainer.run { progress in
                    let now = ContinuousClock.now
                    stepSeconds.append(seconds(from: lastReport, to: now))
                    lastReport = now
                    return stopAfterSteps.map { progress.step < $0 } ?? true
                }
            }
        } catch let error as TrainingError where error.code == .cancelled && stopAfterSteps != nil {
            // Stopped on purpose after the timed steps.
        }
        let trainingSeconds = seconds(since: trainingStart)
        let isForward: Bool
        if case .forwardPerturbation = trainer.adapterMechanism { isForward = true } else { isForward = false }
        let pricingStart = ContinuousClock.now
        let epsilonSpent = try Self.price(trainer.spentEvent, delta: delta)
        let pricingSeconds = seconds(since: pricingStart)
        var accuracy: [String: Double] = [:]
        if stopAfterSteps == nil { accuracy = trainer.evaluate(scoredOn) }
        let counts = BenchmarkData.countPerTask(scoredOn, tasks: tasks)
        let scoredTotal = counts.values.reduce(0, +)
        let pooled = accuracy.reduce(0.0) { $0 + $1.value * Double(counts[$1.key] ?? 0) } / Double(max(1, scoredTotal))
        return RunResult(
            recipe: recipe, accuracy: accuracy,
            macroAccuracy: accuracy.isEmpty ? .nan : accuracy.values.reduce(0, +) / Double(accuracy.count),
            pooledAccuracy: accuracy.isEmpty ? .nan : pooled, epsilonSpent: epsilonSpent,
            noiseMultiplier: plan.noiseMultiplier, steps: trainer.step, trainableParameters: trainer.parameters.count,
            backboneParameters: trainer.backboneParameterCount, stepSeconds: stepSeconds,
            trainingSeconds: trainingSeconds, wallSeconds: seconds(since: started),
            calibrationSeconds: calibrationSeconds, pricingSeconds: pricingSeconds,
            trainedExamples: recipe.untrained ? 0
                : stopAfterSteps == nil ? training.count * recipe.epochs : trainer.step * recipe.expectedBatch,
            isForwardPerturbation: isForward)
    }
}

extension EvaluationRunner {
    /// ε at `delta` of a spent event, by the PLD accountant under add-or-remove adjacency.
    ///
    /// Randomized response (DP-Forward's labels) is a pure ε-DP release that the PLD
    /// accountant prices only under replace-one adjacency, while the feature Gaussian's σ is
    /// per unit of its own sensitivity; so the label releases are added to the PLD ε of the
    /// rest by basic composition, an upper bound.
    static func price(_ event: DpEvent, delta: Double) throws -> Double {
        var pureEpsilon = 0.0
        var rest: [DpEvent] = []
        for part in parts(of: event) {
            if case .randomizedResponse(_, let epsilon) = part { pureEpsilon += epsilon } else { rest.append(part) }
        }
        var accountant = PLDAccountant(neighboringRelation: .addOrRemoveOne)
        try accountant.compose(.composed(rest))
        return try accountant.epsilon(delta: delta) + pureEpsilon
    }

    private static func parts(of event: DpEvent) -> [DpEvent] {
        if case .composed(let parts) = event { return parts.flatMap(Self.parts(of:)) }
        return [event]
    }
}
