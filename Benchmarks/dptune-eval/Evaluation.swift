// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import BenchmarkProbes
import Foundation
import Linalg
import Tokenizers
import Training
import Transformer

/// One cell: a run's measurements, or why it has none.
typealias Cell = Result<RunResult, EvaluationFailure>

/// Everything one evaluation measured, for the report.
struct EvaluationResults {
    struct TuningRow {
        let label: String
        let scores: [(learningRate: Float, cell: Cell)]
        let chosen: Float
    }

    struct CouplingGrid {
        let strategy: String
        /// `cells[rate][batch]`: one cell per seed.
        let cells: [[[Cell]]]
        /// The σ each batch size needs at the focus ε (the same for every rate).
        let noiseMultipliers: [Double?]
    }

    /// One training run as it ran: what the tables average, one draw at a time.
    struct LoggedRun {
        let recipe: RunRecipe
        /// What the run was for beyond its recipe (tuning, a label corruption, timing), or empty.
        let note: String
        let cell: Cell
    }

    struct TimingRow {
        let strategy: String
        let privateRun: Cell
        let nonPrivateRun: Cell?
        let peakResidentMiB: Double
    }

    var tasks: [String] = []
    var trainingCount = 0
    var validationCount = 0
    /// Records per task the cells were scored on: test, or validation under `--score-validation`.
    var scoredCounts: [String: Int] = [:]
    var meanTokens = 0.0
    var tuning: [TuningRow] = []
    /// Strategy → ε → one cell per seed.
    var utility: [String: [Double: [Cell]]] = [:]
    var reference: [Cell] = []
    /// The heads' label-name start scored on test before any step (nil with random heads).
    var labelNameStart: Cell?
    /// Strategy → per corruption (nil = clean labels), one cell per seed.
    var robustness: [String: [(corruption: LabelCorruption?, cells: [Cell])]] = [:]
    var coupling: [CouplingGrid] = []
    var timings: [TimingRow] = []
    /// Every SGEMM peak probe of the run: before the first timing and after each
    /// strategy's. The machine's speed drifts over minutes, so one probe can come out low
    /// and flatter every ratio; the ratios use the highest.
    var sgemmPeaks: [Double] = []
    var sgemmPeak: Double { sgemmPeaks.max() ?? .nan }
    /// OpenBLAS's probes beside them when the engine runs its own kernel; empty when the
    /// engine's products are OpenBLAS's.
    var openBLASPeaks: [Double] = []
    var openBLASPeak: Double { openBLASPeaks.max() ?? sgemmPeak }
    /// Computed tokens per real token: the trainer's length cuts, their pieces (one a core) and fixed chunks of 32.
    var padding = (cut: Double.nan, pieces: Double.nan, fixed: Double.nan)
    var forwardFLOPsPerToken = 0.0
    var accountantTimings: [(name: String, seconds: Double, value: Double)] = []
    var wallSeconds = 0.0
    /// Every training run, in the order it ran.
    var runs: [LoggedRun] = []
}

/// Runs the sections of an ``EvaluationPlan`` in order, logging each run to stderr.
final class Evaluation {
    /// The non-private reference's row label.
    static let referenceLabel = "lora (non-private)"
    /// The untrained label-name start's row label.
    static let labelNameStartLabel = "label names, untrained"

    let plan: EvaluationPlan
    let data: BenchmarkData
    let runner: EvaluationRunner
    let config: BertConfig
    private let started = ContinuousClock.now
    private var runs: [EvaluationResults.LoggedRun] = []

    /// Training runs the plan asks for.
    var plannedRuns: Int {
        let utility = plan.sections.contains(.utility)
        let tuning = !plan.tunes ? 0 : (plan.strategies.count + (plan.runsReference ? 1 : 0)) * plan.learningRates.count
        let main = (utility ? plan.strategies.count * plan.epsilons.count * plan.seeds.count : 0)
            + (plan.runsReference ? plan.seeds.count : 0) + (plan.scoresUntrainedStart ? 1 : 0)
        let corruptions = plan.noiseLevels.filter { !(utility && $0 == 0) }.count + 1
        let robustness = plan.sections.contains(.robustness) ? plan.strategies.count * corruptions * plan.sectionSeeds.count : 0
        let coupling = plan.sections.contains(.coupling)
            ? plan.couplingStrategies.count * plan.couplingRates.count * plan.couplingBatches.count * plan.sectionSeeds.count : 0
        // a forward-perturbation strategy has no non-private step to time beside its private one
        let timing = !plan.sections.contains(.performance) ? 0 : plan.strategies.reduce(0) { count, strategy in
            let forward = (try? runner.catalog.strategy(strategy).get())?.mechanismKind == .forwardPerturbation
            return count + (forward ? 1 : 2)
        }
        return tuning + main + robustness + coupling + timing
    }

    init(plan: EvaluationPlan, dataDirectory: URL, backboneDirectory: URL, pluginDirectory: URL) throws {
        self.plan = plan
        let tokenizer = try WordPieceTokenizer(tokenizerJSON: backboneDirectory.appendingPathComponent("tokenizer.json"))
        let data = try BenchmarkData.load(
            directory: dataDirectory, tokenizer: tokenizer, maxLength: plan.maxLength, instruction: plan.instruction,
            trainPerTask: plan.trainPerTask, validationPerTask: plan.validationPerTask, testPerTask: plan.testPerTask,
            seed: EvaluationPlan.dataSeed)
        self.data = data
        guard case .bert(let config) = try ModelConfig(directory: backboneDirectory) else {
            throw EvaluationFailure("\(backboneDirectory.path) is not a BERT-family encoder; the benchmark classifies with one, refusing")
        }
        self.config = config
        runner = EvaluationRunner(
            backbone: try loadBackbone(directory: backboneDirectory),
            catalog: try StrategyCatalog(directory: pluginDirectory), labels: data.labels, delta: plan.delta,
            clip: plan.clip, strategyOptions: plan.strategyOptions, chunkSize: plan.chunkSize, maxLength: plan.maxLength,
            labelPrior: plan.labelPriorMargin.map { LabelPrior(examples: data.labelExamples, margin: $0) })
    }

    func run() throws -> EvaluationResults {
        log("\(plannedRuns) training runs planned on \(data.training.count) training records")
        var results = EvaluationResults()
        results.tasks = data.tasks
        results.trainingCount = data.training.count
        results.validationCount = data.validation.count
        results.scoredCounts = BenchmarkData.countPerTask(scored, tasks: data.tasks)
        results.meanTokens = Double(data.training.reduce(0) { $0 + $1.ids.count }) / Double(max(1, data.training.count))
        if plan.sections.contains(.performance) {
            log("measuring the SGEMM peak")
            PerformanceProbe.probePeaks(into: &results)
            results.forwardFLOPsPerToken = PerformanceProbe.forwardFLOPsPerToken(config, sequenceLength: results.meanTokens)
            results.padding = PerformanceProbe.paddedTokensPerRealToken(
                lengths: data.training.map(\.ids.count), batch: plan.expectedBatch, chunkSize: runner.chunkSize,
                parts: BLAS.threadCount)
        }
        results.tuning = tune()
        let chosen = Dictionary(uniqueKeysWithValues: results.tuning.map { ($0.label, $0.chosen) })
        let firstSeed = plan.seeds.first ?? 1
        if plan.sections.contains(.utility) {
            for strategy in plan.strategies {
                for epsilon in plan.epsilons {
                    results.utility[strategy, default: [:]][epsilon] = plan.seeds.map { seed in
                        train(recipe(strategy, epsilon: epsilon, rate: chosen[strategy], seed: seed), scoredOn: scored)
                    }
                }
            }
            results.reference = !plan.runsReference ? [] : plan.seeds.map { seed in
                var reference = recipe("lora", epsilon: plan.focusEpsilon, rate: chosen[Self.referenceLabel], seed: seed)
                reference.nonPrivate = true
                return train(reference, scoredOn: scored)
            }
            if plan.scoresUntrainedStart {
                var start = recipe("lora", epsilon: plan.focusEpsilon, rate: nil, seed: firstSeed)
                start.untrained = true
                results.labelNameStart = train(start, scoredOn: scored, note: "label-name start, untrained")
            }
        }
        if plan.sections.contains(.robustness) {
            let corruptions: [LabelCorruption?] = plan.noiseLevels.map { $0 == 0 ? nil : .uniformNoise($0) }
                + [.feedbackBias(task: plan.biasTask, towards: plan.biasLabel, share: plan.biasShare)]
            for strategy in plan.strategies {
                results.robustness[strategy] = corruptions.map { corruption in
                    if corruption == nil, let clean = results.utility[strategy]?[plan.focusEpsilon] {
                        return (nil, clean)
                    }
                    let training = corruption?.apply(to: data.training, labels: data.labels, seed: EvaluationPlan.dataSeed)
                    return (corruption, plan.sectionSeeds.map { seed in
                        train(recipe(strategy, epsilon: plan.focusEpsilon, rate: chosen[strategy], seed: seed),
                              on: training ?? data.training, scoredOn: scored, note: corruption?.description ?? "clean")
                    })
                }
            }
        }
        if plan.sections.contains(.coupling) {
            results.coupling = plan.couplingStrategies.map { strategy in
                let cells = plan.couplingRates.map { rate in
                    plan.couplingBatches.map { batch in
                        plan.sectionSeeds.map { seed in
                            var coupled = recipe(strategy, epsilon: plan.focusEpsilon, rate: rate, seed: seed)
                            coupled.expectedBatch = batch
                            return train(coupled, scoredOn: scored)
                        }
                    }
                }
                let sigmas = plan.couplingBatches.map { batch in
                    try? TrainingPlan(populationSize: data.training.count, expectedBatch: batch, epochs: plan.epochs,
                                      epsilon: plan.focusEpsilon, delta: plan.delta, accountant: .prv).noiseMultiplier
                }
                return EvaluationResults.CouplingGrid(strategy: strategy, cells: cells, noiseMultipliers: sigmas)
            }
        }
        if plan.sections.contains(.performance) {
            results.timings = plan.strategies.map { strategy in
                let timed = recipe(strategy, epsilon: plan.focusEpsilon, rate: chosen[strategy], seed: firstSeed)
                let privateRun = train(timed, scoredOn: [], stopAfter: plan.timingSteps, note: "timing")
                var nonPrivate: Cell?
                if case .success(let run) = privateRun, !run.isForwardPerturbation {
                    var reference = timed
                    reference.nonPrivate = true
                    nonPrivate = train(reference, scoredOn: [], stopAfter: plan.timingSteps, note: "timing, non-private")
                }
                PerformanceProbe.probePeaks(into: &results)
                return EvaluationResults.TimingRow(strategy: strategy, privateRun: privateRun, nonPrivateRun: nonPrivate,
                                                   peakResidentMiB: peakResidentMiB())
            }
            log("timing the accountants")
            results.accountantTimings = (try? PerformanceProbe.accountantTimings()) ?? []
        }
        results.runs = runs
        results.wallSeconds = seconds(since: started)
        return results
    }

    /// Every strategy (and the non-private reference) on the same learning-rate grid at the
    /// focus ε with the first seed, scored on validation; the best macro accuracy wins.
    private func tune() -> [EvaluationResults.TuningRow] {
        guard plan.tunes else { return [] }
        let labels = plan.strategies + (plan.runsReference ? [Self.referenceLabel] : [])
        return labels.map { label in
            let scores = plan.learningRates.map { rate in
                var tried = recipe(label == Self.referenceLabel ? "lora" : label, epsilon: plan.focusEpsilon, rate: rate,
                                   seed: plan.seeds.first ?? 1)
                tried.nonPrivate = label == Self.referenceLabel
                return (rate, train(tried, scoredOn: data.validation, note: "tuning"))
            }
            let best = scores.max { score($0.1) < score($1.1) }
            return EvaluationResults.TuningRow(label: label, scores: scores, chosen: best?.0 ?? plan.learningRates[0])
        }
    }

    /// The records every cell is scored on: test, or validation when options are being chosen.
    private var scored: [TrainingExample] { plan.scoresValidation ? data.validation : data.test }

    private func score(_ cell: Cell) -> Double {
        guard case .success(let run) = cell, run.macroAccuracy.isFinite else { return -1 }
        return run.macroAccuracy
    }

    private func recipe(_ strategy: String, epsilon: Double, rate: Float?, seed: UInt64) -> RunRecipe {
        RunRecipe(strategy: strategy, epsilon: epsilon, learningRate: rate ?? plan.learningRates[0],
                  expectedBatch: plan.expectedBatch, epochs: plan.epochs, seed: seed)
    }

    private func train(_ recipe: RunRecipe, on training: [TrainingExample]? = nil, scoredOn: [TrainingExample],
                       stopAfter: Int? = nil, note: String = "") -> Cell {
        let cell = runner.run(recipe, training: training ?? data.training, scoredOn: scoredOn, stopAfterSteps: stopAfter)
        runs.append(.init(recipe: recipe, note: note, cell: cell))
        let privacy = recipe.nonPrivate ? "non-private" : String(format: "ε %g", recipe.epsilon)
        let what = "run \(runs.count)/\(plannedRuns): \(recipe.strategy) \(privacy) lr \(recipe.learningRate) B \(recipe.expectedBatch) seed \(recipe.seed)"
            + (note.isEmpty ? "" : " [\(note)]")
        switch cell {
        case .success(let run):
            log(String(format: "%@: macro %.3f, ε spent %.3f, %d steps, %.1f s", what, run.macroAccuracy, run.epsilonSpent,
                       run.steps, run.wallSeconds))
        case .failure(let failure):
            log("\(what): failed: \(failure)")
        }
        return cell
    }

    private func log(_ message: String) {
        let line = String(format: "[%6.0f s] ", seconds(since: started)) + message + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
