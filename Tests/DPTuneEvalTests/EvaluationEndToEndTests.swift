// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupport
@testable import dptune_eval

/// The benchmark command's whole path on the real four-task data and MiniLM, at a size
/// that takes seconds: every section, a gradient strategy and the forward-perturbation one
/// (which has no non-private step to time), tuning, the reference and the label-name start.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct EvaluationEndToEndTests {
    @Test func everySectionRunsWhatItPlannedAndIsReported() throws {
        let plan = try DPTuneEval.parse([
            "--train-per-task", "6", "--validation-per-task", "2", "--test-per-task", "3", "--epochs", "1",
            "--batch", "8", "--max-length", "32", "--seeds", "1", "--learning-rates", "0.005,0.01",
            "--strategies", "lora,dp-forward", "--epsilons", "8", "--noise-levels", "0,0.4",
            "--coupling-strategies", "lora", "--coupling-rates", "0.005", "--coupling-batches", "8",
            "--timing-steps", "2",
        ]).resolvedPlan()
        #expect(plan.sections == Set(EvaluationPlan.Section.allCases))
        let evaluation = try Evaluation(
            plan: plan, dataDirectory: SharedFixtures.url("data"), backboneDirectory: SharedFixtures.url("models/minilm-l6"),
            pluginDirectory: StrategyCatalog.buildDirectory)
        let results = try evaluation.run()

        // The "run k/n" progress counts against plannedRuns, which mirrors run()'s loops.
        #expect(results.runs.count == evaluation.plannedRuns)
        let failures = results.runs.compactMap { run -> String? in
            guard case .failure(let failure) = run.cell else { return nil }
            return "\(run.recipe.strategy) \(run.note): \(failure)"
        }
        #expect(failures.isEmpty)
        // Tuning: two strategies and the reference over two rates; timing: two for lora, one for dp-forward.
        #expect(results.runs.filter { $0.note == "tuning" }.count == 6)
        #expect(results.runs.filter { $0.note.hasPrefix("timing") }.count == 3)
        #expect(results.sgemmPeaks.count == 1 + plan.strategies.count)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try ResultsReport(plan: plan, results: results, commandLine: "test", threads: 2).write(to: directory)
        let markdown = try String(contentsOf: directory.appendingPathComponent("RESULTS.md"), encoding: .utf8)
        for heading in ["## 1. Privacy–utility", "## 2. Robustness", "## 3. Learning rate × expected batch",
                        "## 4. Performance", "## Every run"] {
            #expect(markdown.contains(heading), "RESULTS.md lacks \(heading)")
        }
        for file in ["privacy-utility.svg", "robustness.svg", "coupling-lora.svg"] {
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "no \(file)")
        }
    }
}
