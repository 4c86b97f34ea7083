// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import ArgumentParser
import BenchmarkProbes
import Foundation
import Linalg
import Privacy
import Records
import Tokenizers
import Training
import Transformer

/// DP-LoRA with objective `generate` on SmolLM2-135M-Instruct and SST-2 records rendered as
/// chat (issue 8): the step time with and without privacy on one fixed batch, and the exact
/// match of greedy answers on test records before and after a DP run.
///
/// `swift run -c release dptune-bench generate --shared ../shared --records 1000 --test-records 200
/// --epochs 2 --batch 128 --lr 2e-3 --threads 1` (add `--mode step --batch 16` for the step times).
struct GenerationBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "SmolLM2 DP-LoRA (generate): DP vs non-DP step time, and exact match before/after DP training on sentiment.")

    @Option(help: "The shared folder (models/, data/).")
    var shared = "../shared"
    @Option(help: "step: time DP and non-DP steps on one batch; exact-match: train and evaluate.")
    var mode = "exact-match"
    @Option(help: "Training records (the first of train.jsonl).")
    var records = 1_000
    @Option(help: "Test records (the first of test.jsonl).")
    var testRecords = 200
    @Option var epochs = 2
    @Option(help: "Expected batch (Poisson); in step mode, the fixed batch.")
    var batch = 64
    @Option var epsilon = 8.0
    @Option var delta = 1e-5
    @Option var lr = 2e-3
    @Option var clip = 1.0
    @Option var rank = 8
    @Option var alpha = 16.0
    @Option var maxLen = 96
    @Option(help: "Sequences per backbone pass.")
    var chunk = 16
    @Option var threads = 2
    @Option(help: "Timed steps in step mode (after one warm-up).")
    var repeats = 3
    @Flag(help: "Skip evaluating the untrained model (its score does not depend on the run's settings).")
    var skipUntrained = false

    func run() throws {
        BLAS.setThreadCount(threads)
        let root = URL(fileURLWithPath: shared)
        let directory = root.appendingPathComponent("models/smollm2-135m-instruct")
        let loadStart = ContinuousClock.now
        guard let model = try loadBackbone(directory: directory) as? LlamaModel else {
            throw ValidationError("\(directory.path) is not a Llama model")
        }
        let encoder = try GenerationExampleEncoder(backboneDirectory: directory, labels: ["sentiment": ["negative", "positive"]],
                                                   maxLength: maxLen)
        say("SmolLM2 loaded in \(ContinuousClock.now - loadStart); \(threads) threads")
        let strategy = try bundledStrategy("LoRA")
        func examples(_ file: String, _ count: Int) throws -> [TrainingExample] {
            let text = try String(contentsOf: root.appendingPathComponent("data/sentiment/\(file).jsonl"), encoding: .utf8)
            return try text.split(separator: "\n").prefix(count).enumerated().map { index, line in
                try encoder.encode(DatasetRecord.parse(Data(line.utf8)), unit: index)
            }
        }
        func trainer(_ training: [TrainingExample], plan: TrainingPlan, nonPrivate: Bool) throws -> Trainer {
            let options = try StrategyOptions(json: #"{"rank": \#(rank), "alpha": \#(alpha)}"#, schema: strategy.options)
            let configuration = AdapterConfiguration(options: options, objective: .generate, tasks: ["sentiment"], labels: [:],
                                                     seed: 7, clip: clip, epsilon: epsilon, delta: delta)
            return try Trainer(languageModel: model, tokenizer: encoder.tokenizer, tasks: ["sentiment"],
                               adapter: strategy.makeAdapter(backbone: model, configuration: configuration),
                               examples: training, plan: plan,
                               settings: TrainingSettings(learningRate: Float(lr), clip: clip, seed: 7, chunkSize: chunk,
                                                          nonPrivate: nonPrivate))
        }
        switch mode {
        case "step":
            let training = try examples("train", batch)
            let tokens = training.reduce(0) { $0 + $1.ids.count }
            // q = 1: every step is the same batch, so the two runs differ only in clipping and noise.
            let plan = try TrainingPlan(populationSize: batch, expectedBatch: batch, epochs: repeats + 1, epsilon: epsilon,
                                        delta: delta, accountant: .rdp)
            var medianStep: [String: Double] = [:]
            for nonPrivate in [false, true] {
                let trainer = try trainer(training, plan: plan, nonPrivate: nonPrivate)
                var last = ContinuousClock.now, times: [Double] = []
                try trainer.run { _ in
                    let now = ContinuousClock.now
                    times.append(seconds(from: last, to: now))
                    last = now
                    return true
                }
                medianStep[nonPrivate ? "non-DP" : "DP"] = median(times.dropFirst())
            }
            let dp = medianStep["DP", default: .nan], plain = medianStep["non-DP", default: .nan]
            say(String(format: "batch %d sequences (%d tokens, max_len %d), LoRA r=%d on q,v: DP step %.2f s, non-DP step %.2f s, ratio %.3f, %.0f tokens/s (DP)",
                         batch, tokens, maxLen, rank, dp, plain, dp / plain, Double(tokens) / dp))
            say(String(format: "peak RSS %.0f MiB", peakResidentMiB()))
        case "exact-match":
            let training = try examples("train", records)
            let test = try examples("test", testRecords)
            let plan = try TrainingPlan(populationSize: training.count, expectedBatch: batch, epochs: epochs,
                                        epsilon: epsilon, delta: delta, accountant: .prv)
            let trainer = try trainer(training, plan: plan, nonPrivate: false)
            say("plan: N \(plan.populationSize), q \(plan.samplingRate), \(plan.steps) steps, σ \(plan.noiseMultiplier); lr \(lr), clip \(clip), LoRA r=\(rank) α=\(alpha), max_len \(maxLen)")
            var start = ContinuousClock.now
            if !skipUntrained {
                // LoRA's B starts at zero: the adapted model is the untrained one
                let untrained = trainer.evaluate(test)["sentiment"] ?? .nan
                say(String(format: "untrained exact match on %d test records: %.3f (%.0f s)", test.count, untrained,
                           seconds(since: start)))
                start = ContinuousClock.now
            }
            try trainer.run { report in
                say(String(format: "step %d/%d loss %.4f ε %.3f  %.0f s", report.step, report.steps, report.loss,
                           report.epsilonSpent, seconds(since: start)))
                return true
            }
            var accountant = PLDAccountant()
            try accountant.compose(trainer.spentEvent)
            start = ContinuousClock.now
            let trained = trainer.evaluate(test)["sentiment"] ?? .nan
            say(String(format: "DP-trained (ε = %.3f at δ = %g, PLD) exact match on %d test records: %.3f (%.0f s)",
                         try accountant.epsilon(delta: delta), delta, test.count, trained,
                         seconds(since: start)))
        default:
            throw ValidationError("--mode must be step or exact-match; found \(mode)")
        }
    }

    /// Unbuffered, so that a long run can be watched.
    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
