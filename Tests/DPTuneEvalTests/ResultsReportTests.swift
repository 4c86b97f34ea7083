// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import dptune_eval

@Suite struct ResultsReportTests {
    private func result(_ recipe: RunRecipe, macro: Double) -> RunResult {
        RunResult(recipe: recipe, accuracy: ["sentiment": macro], macroAccuracy: macro, pooledAccuracy: macro,
                  epsilonSpent: 7.998, noiseMultiplier: 0.6, steps: 250, trainableParameters: 1000,
                  backboneParameters: 100_000, stepSeconds: [1], trainingSeconds: 400, wallSeconds: 431.4,
                  calibrationSeconds: 0, pricingSeconds: 0, trainedExamples: 16000, isForwardPerturbation: false)
    }

    /// The means hide the draws; pooling runs of several invocations needs each one.
    @Test func everyRunIsListedInOrderWithItsSeedAndScore() throws {
        let plan = try DPTuneEval.parse(["--learning-rates", "0.005"]).resolvedPlan()
        let first = RunRecipe(strategy: "projected", epsilon: 8, learningRate: 0.005, expectedBatch: 64, epochs: 2, seed: 6)
        var second = first
        second.strategy = "lora"
        second.seed = 7
        var results = EvaluationResults()
        results.runs = [
            .init(recipe: first, note: "label noise 40%", cell: .success(result(first, macro: 0.687))),
            .init(recipe: second, note: "", cell: .failure(EvaluationFailure("a | broken\nplugin"))),
        ]
        let lines = ResultsReport(plan: plan, results: results, commandLine: "dptune-eval", threads: 1)
            .markdown().split(separator: "\n").map(String.init)
        let heading = try #require(lines.firstIndex(of: "## Every run"))
        let rows = lines[heading...].filter { $0.hasPrefix("| 1 ") || $0.hasPrefix("| 2 ") }
        #expect(rows == [
            "| 1 | projected | 8 | 0.005 | 64 | 6 | label noise 40% | 68.7 | 7.998 | 250 | 431 |",
            "| 2 | lora | 8 | 0.005 | 64 | 7 |  | failed: a / broken plugin | — | — | — |",
        ])
        #expect(lines.contains { $0.contains("for 2 training runs") })
    }

    /// A file of validation scores must not pass for test results.
    @Test func validationScoresSayWhatTheyAre() throws {
        func header(_ flags: [String]) throws -> String {
            let plan = try DPTuneEval.parse(flags).resolvedPlan()
            var results = EvaluationResults()
            results.tasks = ["sentiment"]
            results.scoredCounts = ["sentiment": 200]
            let recipe = RunRecipe(strategy: "lora", epsilon: 8, learningRate: 0.005, expectedBatch: 64, epochs: 2, seed: 1)
            results.runs = [.init(recipe: recipe, note: "", cell: .success(result(recipe, macro: 0.7)))]
            return ResultsReport(plan: plan, results: results, commandLine: "dptune-eval", threads: 1).markdown()
        }
        let validation = try header(["--score-validation"]), test = try header([])
        #expect(try DPTuneEval.parse(["--score-validation"]).resolvedPlan().scoresValidation)
        #expect(validation.contains("every cell scored on the validation records, not on test"))
        #expect(validation.contains("per task on its validation records"))
        #expect(!test.contains("validation records, not on test"))
        #expect(test.contains("per task on its test records"))
        #expect(validation.contains("(validation for tuning, validation otherwise;"))
        #expect(test.contains("(validation for tuning, test otherwise;"))
    }
}
