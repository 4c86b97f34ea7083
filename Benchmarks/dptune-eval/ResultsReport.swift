// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Records

/// Writes `RESULTS.md` and its SVG plots from one evaluation's measurements.
///
/// Every number in the files comes from `results`; the text around them only states how
/// they were obtained and which strategy came out ahead.
struct ResultsReport {
    let plan: EvaluationPlan
    let results: EvaluationResults
    let commandLine: String
    let threads: Int

    /// Where the runs' heads started, as the report states it.
    private var headText: String {
        plan.labelPriorMargin.map { "heads started at the label names' features (margin \(Self.number($0)), public: no privacy cost)" }
            ?? "heads started at random"
    }

    /// The strategy options the runs used, as the report states them.
    private var strategyOptionsText: String {
        guard !plan.strategyOptions.isEmpty else { return "at their defaults" }
        return plan.strategyOptions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + " (others at their defaults)"
    }

    /// The reference this benchmark is compared with (PyTorch + Opacus, LoRA r = 8 on q/v).
    static let opacusPrivate = 0.541
    static let opacusNonPrivate = 0.809

    func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var files: [String: String] = ["RESULTS.md": markdown()]
        if !results.utility.isEmpty { files["privacy-utility.svg"] = privacyUtilityChart().svg() }
        if !results.robustness.isEmpty { files["robustness.svg"] = robustnessChart().svg() }
        for grid in results.coupling { files["coupling-\(grid.strategy).svg"] = heatMap(grid).svg() }
        for (name, text) in files {
            try Data(text.utf8).write(to: directory.appendingPathComponent(name), options: .atomic)
        }
    }

    func markdown() -> String {
        var out = header()
        if !results.utility.isEmpty || !results.reference.isEmpty { out += utilitySection() }
        if !results.tuning.isEmpty { out += tuningSection() }
        if !results.robustness.isEmpty { out += robustnessSection() }
        if !results.coupling.isEmpty { out += couplingSection() }
        if !results.timings.isEmpty { out += performanceSection() }
        if !results.runs.isEmpty { out += everyRunSection() }
        return out
    }

    // MARK: header

    private func header() -> String {
        let scoredCounts = results.tasks.map { "\($0) \(results.scoredCounts[$0] ?? 0)" }.joined(separator: ", ")
        return """
            # dptune evaluation results

            > **Proposed README section.** *Evaluation.* `swift run -c release dptune-eval` trains every adapter \
            strategy on the four-task instruction benchmark (SST-2, Banking77, TREC-6, AG News as instruction records) \
            with the real MiniLM-L6 backbone, at ε ∈ {1, 3, 8} (δ = 10⁻⁵) and without privacy, and writes this file: \
            privacy–utility tables and curves, robustness to label noise and biased feedback, the learning-rate × \
            batch coupling, and DP overheads measured against SGEMM peak in the same run. `--quick` is a few-minute \
            smoke run; the default is sized for about 30 minutes on an idle 2-core machine (the run recorded here \
            states its own wall time; roughly twice as long when the cores are shared). Numbers below come only from \
            the run recorded here.

            - Command: `\(commandLine)`
            - Date: \(ISO8601DateFormatter().string(from: Date()))
            - Machine: \(Self.machine()), \(threads) threads, products on \(BLAS.usesAVX512Kernel ? "the engine's AVX-512 kernel" : "OpenBLAS"), OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")
            - Total wall time: \(String(format: "%.0f", results.wallSeconds)) s for \(results.runs.count) training runs\(throughput())
            - To match the external reference's data size (about 5 minutes a training run on 2 cores): `swift run -c release \
            dptune-eval --train-per-task 2000 --validation-per-task 200 --test-per-task 0 --epochs 2 --batch 64 \
            --sections utility`
            - Data: \(plan.trainPerTask) training records per task (\(results.trainingCount) in all), \
            \(plan.validationPerTask) validation records per task carved from train.jsonl for tuning, \(scoredText): \(scoredCounts); \
            every cut drawn with the public seed \(EvaluationPlan.dataSeed); \(plan.maxLength) tokens per record \
            (mean \(String(format: "%.1f", results.meanTokens)) real tokens).
            - Training: \(plan.epochs) epoch(s), expected batch \(plan.expectedBatch) (Poisson sampling) in chunks of at \
            most \(plan.chunkSize) records, clip \(plan.clip), \
            δ = \(plan.delta), AdamW, strategy options \(strategyOptionsText), \(headText), \
            \(plan.instruction == .omit ? "records encoded without their instruction ([CLS] input [SEP])" : "records encoded with their instruction"), seeds \(plan.seeds.map(String.init).joined(separator: ", ")) \
            (public; initialization and public projections — sampling and noise come from the secure generator).
            \(tuningLine)
            - Accuracy: per task on its \(scoredSplit) records, predictions restricted to the record's task; *macro* is the mean \
            of the four task accuracies, *pooled* is correct over all scored records.
            - ε spent: the event the trainer actually ran, priced by the PLD accountant at δ (add-or-remove). \
            DP-Forward's randomized-response label release is pure ε-DP and is added to the PLD ε of its feature \
            release (basic composition, an upper bound); its guarantee is local, per sequence, and holds at inference too.


            """
    }

    /// The split every cell was scored on, named wherever the file speaks of scores: a file
    /// of validation scores must not pass for test results.
    private var scoredSplit: String { plan.scoresValidation ? "validation" : "test" }

    /// Said in bold on the Data line, for the same reason.
    private var scoredText: String {
        if plan.scoresValidation {
            return "**every cell scored on the validation records, not on test** (`--score-validation`), per task"
        }
        return "test records scored per task" + (plan.testPerTask == 0 ? " (whole test files)" : " (a fixed subset of each test file)")
    }

    /// Training examples per second over the section-1 runs of each mechanism, for sizing other runs.
    private func throughput() -> String {
        let runs = results.utility.values.flatMap { $0.values.joined() }.compactMap { try? $0.get() }
        var parts: [String] = []
        for (name, forward) in [("DP-SGD", false), ("DP-Forward", true)] {
            let chosen = runs.filter { $0.isForwardPerturbation == forward }
            let seconds = chosen.reduce(0) { $0 + $1.trainingSeconds }
            if seconds > 0 {
                parts.append(String(format: "%@ %.1f", name, Double(chosen.reduce(0) { $0 + $1.trainedExamples }) / seconds))
            }
        }
        return parts.isEmpty ? "" : "; training examples/s in section 1: " + parts.joined(separator: ", ")
    }

    // MARK: privacy–utility

    private func utilitySection() -> String {
        var out = """
            ## 1. Privacy–utility

            Mean ± sample standard deviation over \(plan.seeds.count) seed(s). Trainable parameters include the \
            classification heads; % is of the frozen backbone.

            | strategy | ε target | trainable | macro acc. % | pooled acc. % | \(results.tasks.joined(separator: " % | ")) % | ε spent | steps | wall s |
            |---|---|---|---|---|\(results.tasks.map { _ in "---|" }.joined())---|---|---|

            """
        for strategy in plan.strategies {
            for epsilon in plan.epsilons {
                out += utilityRow(strategy, target: Self.number(epsilon), cells: results.utility[strategy]?[epsilon] ?? [])
            }
        }
        if !results.reference.isEmpty {
            out += utilityRow(Evaluation.referenceLabel, target: "∞", cells: results.reference)
        }
        if let start = results.labelNameStart {
            out += utilityRow(Evaluation.labelNameStartLabel, target: "—", cells: [start])
        }
        out += "\n![privacy–utility curves](privacy-utility.svg)\n\n"
        out += verdict()
        return out + "\n"
    }

    private func utilityRow(_ label: String, target: String, cells: [Cell]) -> String {
        let runs = cells.compactMap { try? $0.get() }
        if runs.isEmpty {
            let reason = cells.compactMap { if case .failure(let failure) = $0 { failure.description } else { nil } }.first
            return "| \(label) | \(target) | failed: \(Self.cellText(reason ?? "no run")) |\n"
        }
        let first = runs[0]
        let perTask = results.tasks.map { task in Spread(runs.map { $0.accuracy[task] ?? .nan }).percentText }
        let spent = Spread(runs.map(\.epsilonSpent))
        let trainable = first.recipe.untrained
            ? "none (no step)" : "\(first.trainableParameters) (\(String(format: "%.3f", first.trainablePercent))%)"
        return "| \(label) | \(target) | \(trainable) | "
            + "\(Spread(runs.map(\.macroAccuracy)).percentText) | \(Spread(runs.map(\.pooledAccuracy)).percentText) | "
            + perTask.joined(separator: " | ")
            + " | \(spent.mean.isFinite ? String(format: "%.3f", spent.mean) : "∞") | \(first.steps) | "
            + String(format: "%.0f", Spread(runs.map(\.wallSeconds)).mean) + " |\n"
    }

    /// Which strategy is ahead at the focus ε, stated whichever it is, and the external reference.
    private func verdict() -> String {
        let focus = plan.focusEpsilon
        let ranked = plan.strategies.compactMap { strategy -> (String, Double)? in
            let runs = (results.utility[strategy]?[focus] ?? []).compactMap { try? $0.get() }
            let mean = Spread(runs.map(\.macroAccuracy)).mean
            return mean.isFinite ? (strategy, mean) : nil
        }.sorted { $0.1 > $1.1 }
        var out = "**Outcome at ε = \(Self.number(focus)).** "
        if let best = ranked.first {
            out += ranked.map { String(format: "%@ %.1f%%", $0.0, $0.1 * 100) }.joined(separator: ", ") + " (macro). "
            if let ours = ranked.first(where: { $0.0 == "projected" }) {
                out += ours.0 == best.0
                    ? "`projected` (ours) has the best macro accuracy in this run"
                    : String(format: "`projected` (ours) does **not** win in this run: it is %.1f points behind `%@`",
                             (best.1 - ours.1) * 100, best.0)
                if ranked.count > 1, plan.seeds.count > 1 { out += " (compare the gaps with the ± spreads above)" }
                out += ". "
            } else if plan.strategies.contains("projected") {
                out += "`projected` produced no result in this run (see its row). "
            }
        } else {
            out += "No strategy produced a result. "
        }
        if let best = ranked.first, let start = try? results.labelNameStart?.get() {
            let change = (best.1 - start.macroAccuracy) * 100
            out += String(format: "The label names alone, before any step, score %.1f%%; the best strategy ends %.1f points %@ that start. ",
                          start.macroAccuracy * 100, abs(change), change >= 0 ? "above" : "**below**")
        }
        let reference = Spread(results.reference.compactMap { try? $0.get() }.map(\.pooledAccuracy))
        out += String(format: "\n\nExternal reference (PyTorch + Opacus, LoRA r = 8 on q/v with a linear head, B = 64, 64 tokens, lr 5e-3, 2 epochs over 2,000 training records per task, PRV accountant): %.1f%% at ε = 8 and %.1f%% non-private over the four full test sets. ",
                      Self.opacusPrivate * 100, Self.opacusNonPrivate * 100)
        out += reference.count > 0
            ? String(format: "Our non-private LoRA reaches %.1f%% pooled here", reference.mean * 100)
            : "Our non-private reference did not run"
        out += " — on \(plan.trainPerTask) training records per task, \(plan.epochs) epoch(s) and "
            + (plan.scoresValidation ? "\(plan.validationPerTask) validation records per task"
                : plan.testPerTask == 0 ? "the full test sets" : "\(plan.testPerTask) test records per task")
            + ", so the comparison is indicative only unless those match the reference's setting.\n"
        return out
    }

    private var tuningLine: String {
        guard plan.tunes else {
            return "- Tuning: none; every strategy trains at the one learning rate given, \(plan.learningRates[0])."
        }
        return """
            - Tuning: every strategy gets the same learning-rate grid {\(plan.learningRates.map { "\($0)" }.joined(separator: ", "))}, \
            at ε = \(Self.number(plan.focusEpsilon)) with seed \(plan.seeds.first ?? 1), chosen by macro accuracy on the \
            validation split, never on test; the chosen rate is used at every ε. (Tuning on private data is not free \
            in a deployment — DESIGN §4.3 item 8; here it is the same budget for every strategy.)
            """
    }

    private func tuningSection() -> String {
        var out = """
            ### Tuning (validation macro accuracy %, ε = \(Self.number(plan.focusEpsilon)), seed \(plan.seeds.first ?? 1))

            | strategy | \(plan.learningRates.map { "lr \($0)" }.joined(separator: " | ")) | chosen |
            |---|\(plan.learningRates.map { _ in "---|" }.joined())---|

            """
        for row in results.tuning {
            out += "| \(row.label) | " + row.scores.map { Self.accuracyText([$0.cell]) }.joined(separator: " | ")
                + " | \(row.chosen) |\n"
        }
        return out + "\n"
    }

    // MARK: robustness

    private func robustnessSection() -> String {
        let columns = robustnessColumns()
        var out = """
            ## 2. Robustness (ε = \(Self.number(plan.focusEpsilon)), \(Self.seedsText(plan.sectionSeeds)))

            Training labels corrupted with a public seed; \(scoredSplit) labels clean. Label noise replaces a label, with the \
            given probability, by another label of its task drawn uniformly; the feedback-bias column flips \
            \(String(format: "%.0f", plan.biasShare * 100))% of the `\(plan.biasTask)` records that are not \
            `\(plan.biasLabel)` to `\(plan.biasLabel)`. \(cleanColumnSource) Cells: \
            macro accuracy %, mean ± sample standard deviation over the seeds (mean ε spent).

            | strategy | trainable % | \(columns.joined(separator: " | ")) |
            |---|---|\(columns.map { _ in "---|" }.joined())

            """
        for strategy in plan.strategies {
            let cells = results.robustness[strategy] ?? []
            let trainable = cells.flatMap { Self.runs($0.cells) }.first.map { String(format: "%.3f", $0.trainablePercent) } ?? "—"
            out += "| \(strategy) | \(trainable) | " + cells.map { entry in
                let spent = Spread(Self.runs(entry.cells).map(\.epsilonSpent))
                return Self.accuracyText(entry.cells) + (spent.count > 0 ? String(format: " (%.2f)", spent.mean) : "")
            }.joined(separator: " | ") + " |\n"
        }
        return out + "\n![robustness to label noise](robustness.svg)\n\n"
    }

    private var cleanColumnSource: String {
        guard plan.noiseLevels.contains(0) else { return "" }
        return plan.sections.contains(.utility) ? "The clean column is section 1's runs at this ε." : "The clean column is trained here."
    }

    private func robustnessColumns() -> [String] {
        let any = results.robustness.values.first ?? []
        return any.map { $0.corruption?.description ?? "clean" }
    }

    // MARK: coupling

    private func couplingSection() -> String {
        var out = """
            ## 3. Learning rate × expected batch (ε = \(Self.number(plan.focusEpsilon)), \(Self.seedsText(plan.sectionSeeds)))

            Test macro accuracy % of each cell, mean ± sample standard deviation over the seeds (for analysis only: nothing is chosen from this grid) and the noise \
            multiplier σ the accountant needs for that batch size at \(plan.epochs) epoch(s) over \(results.trainingCount) records.


            """
        for grid in results.coupling {
            out += "**\(grid.strategy)**\n\n| lr \\ B | "
                + zip(plan.couplingBatches, grid.noiseMultipliers).map { "B \($0) (σ \(Self.sigmaText($1)))" }.joined(separator: " | ")
                + " |\n|---|" + plan.couplingBatches.map { _ in "---|" }.joined() + "\n"
            for (rate, row) in zip(plan.couplingRates, grid.cells) {
                out += "| \(rate) | " + row.map { Self.accuracyText($0) }.joined(separator: " | ") + " |\n"
            }
            out += "\n![\(grid.strategy) LR × batch](coupling-\(grid.strategy).svg)\n\n"
        }
        return out
    }

    // MARK: performance

    private func performanceSection() -> String {
        let flopsPerExample = 2 * results.forwardFLOPsPerToken * results.meanTokens
        var out = """
            ## 4. Performance

            Same process, same batches: \(plan.timingSteps) DP-SGD steps and \(plan.timingSteps) non-private steps \
            (no clipping, no noise, the mean gradient) per strategy at expected batch \(plan.expectedBatch); the mean \
            step time after the first (warm-up) step is compared; Poisson batches vary in size, so short runs are noisy. SGEMM peak measured in this run: \
            **\(String(format: "%.1f", results.sgemmPeak)) GFLOP/s**, the highest of \(results.sgemmPeaks.count) probes \
            (one before the first timing and one after each strategy's; they ranged \(peakRange)), each the best of \
            2048³, 4096×1536×384, 4096×384×1536: the machine's speed drifts, and a low probe would flatter the ratios. \
            \(openBLASText)\
            Backbone FLOPs per training example: forward \(String(format: "%.2f", results.forwardFLOPsPerToken * results.meanTokens / 1e9)) \
            GFLOP at the mean of \(String(format: "%.1f", results.meanTokens)) real tokens (dense layers 2·(4C²+2CI) and attention \
            4TC per token per layer, from config.json), doubled for the backward pass to the activations (the backbone \
            is frozen: no weight gradients); padding and adapter FLOPs are not counted, so achieved GFLOP/s is a lower \
            bound. Padding: a batch runs shortest first in chunks cut where padded tokens plus a per-chunk cost are \
            least, which computes \(String(format: "%.2f", results.padding.cut)) tokens per real token on these \
            records (fixed chunks of the same size: \(String(format: "%.2f", results.padding.fixed))); each chunk \
            runs as \(threads) pieces, one a core, each padded to its own longest record, which computes \
            \(String(format: "%.2f", results.padding.pieces)) (300 batches of \(plan.expectedBatch) drawn with a \
            public seed). Counting every computed token, as a framework that pads every batch counts its FLOPs, \
            would multiply the gradient strategies' GFLOP/s and ratios by that factor. DP-Forward trains no backbone parameters: its row times the one forward release of every record \
            (forward FLOPs only) and has no DP-SGD overhead to compare. Peak RSS is the process high-water mark after \
            the strategy's runs (it only grows).

            | strategy | DP step s | non-DP step s | DP ÷ non-DP | examples/s (DP) | GFLOP/s | ÷ SGEMM peak | ÷ OpenBLAS peak | peak RSS MiB |
            |---|---|---|---|---|---|---|---|---|

            """
        for row in results.timings {
            guard case .success(let dp) = row.privateRun else {
                if case .failure(let failure) = row.privateRun {
                    out += "| \(row.strategy) | failed: \(Self.cellText(failure.description)) |\n"
                }
                continue
            }
            if dp.isForwardPerturbation {
                let release = dp.stepSeconds.first ?? .nan
                let rate = Double(results.trainingCount) / release
                let gflops = rate * flopsPerExample / 2 / 1e9
                out += String(format: "| %@ | — | — | n/a | %.1f | %.1f | %.1f%% | %.1f%% | %.0f |\n", row.strategy, rate,
                              gflops, 100 * gflops / results.sgemmPeak, 100 * gflops / results.openBLASPeak,
                              row.peakResidentMiB)
                continue
            }
            let dpStep = Self.meanAfterFirst(dp.stepSeconds)
            let plain = row.nonPrivateRun.flatMap { try? $0.get() }.map { Self.meanAfterFirst($0.stepSeconds) } ?? .nan
            let rate = Double(plan.expectedBatch) / dpStep
            let gflops = rate * flopsPerExample / 1e9
            out += String(format: "| %@ | %.3f | %.3f | %.2f | %.1f | %.1f | %.1f%% | %.1f%% | %.0f |\n", row.strategy,
                          dpStep, plain, dpStep / plain, rate, gflops, 100 * gflops / results.sgemmPeak,
                          100 * gflops / results.openBLASPeak, row.peakResidentMiB)
        }
        out += "\nAccountant timings (this process):\n\n| operation | seconds | result |\n|---|---|---|\n"
        for timing in results.accountantTimings {
            out += String(format: "| %@ | %.3f | %.4f |\n", timing.name, timing.seconds, timing.value)
        }
        let runs = results.utility.values.flatMap { $0.values.joined() }.compactMap { try? $0.get() }
        if !runs.isEmpty {
            out += String(format: "| per run in section 1: σ calibration (PLD), mean | %.3f | |\n| per run in section 1: pricing the spent event (PLD), mean | %.3f | |\n",
                          Spread(runs.map(\.calibrationSeconds)).mean, Spread(runs.map(\.pricingSeconds)).mean)
        }
        return out + "\n"
    }

    // MARK: plots

    // MARK: every run

    /// Each draw behind the means above, so that runs from several invocations can be pooled
    /// and compared draw by draw rather than from their means and deviations.
    private func everyRunSection() -> String {
        var out = """

            ## Every run

            In the order they ran. Macro accuracy on the split the run was scored on (validation for tuning, \
            \(scoredSplit) otherwise; none for timing runs).

            | # | strategy | ε target | lr | B | seed | note | macro acc. % | ε spent | steps | wall s |
            |---|---|---|---|---|---|---|---|---|---|---|

            """
        for (index, run) in results.runs.enumerated() {
            let recipe = run.recipe
            let target = recipe.nonPrivate ? "∞" : Self.number(recipe.epsilon)
            let head = "| \(index + 1) | \(recipe.strategy) | \(target) | \(recipe.learningRate) | \(recipe.expectedBatch) "
                + "| \(recipe.seed) | \(Self.cellText(run.note)) "
            switch run.cell {
            case .success(let result):
                let macro = result.macroAccuracy.isFinite ? String(format: "%.1f", result.macroAccuracy * 100) : "—"
                out += head + "| \(macro) | \(String(format: "%.3f", result.epsilonSpent)) | \(result.steps) "
                    + "| \(String(format: "%.0f", result.wallSeconds)) |\n"
            case .failure(let failure):
                out += head + "| failed: \(Self.cellText(failure.description)) | — | — | — |\n"
            }
        }
        return out
    }

    private func privacyUtilityChart() -> LineChart {
        let series = plan.strategies.map { strategy in
            LineChart.Series(name: strategy, points: plan.epsilons.enumerated().map { index, epsilon in
                let spread = Spread((results.utility[strategy]?[epsilon] ?? []).compactMap { try? $0.get() }.map(\.macroAccuracy))
                return LineChart.Point(x: index, y: spread.mean, spread: spread.deviation)
            })
        }
        var chart = LineChart(title: "Privacy–utility (macro \(scoredSplit) accuracy, mean ± std over seeds)", xTitle: "target ε (δ = 1e-5)",
                              yTitle: "macro accuracy", xLabels: plan.epsilons.map(Self.number), series: series)
        let reference = Spread(results.reference.compactMap { try? $0.get() }.map(\.macroAccuracy))
        if reference.count > 0 { chart.references.append((reference.mean, String(format: "non-private LoRA %.1f%%", reference.mean * 100))) }
        if let start = try? results.labelNameStart?.get() {
            chart.references.append((start.macroAccuracy, String(format: "label names, untrained %.1f%%", start.macroAccuracy * 100)))
        }
        return chart
    }

    private func robustnessChart() -> LineChart {
        let columns = robustnessColumns()
        let noiseColumns = columns.indices.filter { index in
            if case .feedbackBias = (results.robustness.values.first ?? [])[index].corruption { false } else { true }
        }
        let series = plan.strategies.map { strategy in
            let cells = results.robustness[strategy] ?? []
            return LineChart.Series(name: strategy, points: noiseColumns.enumerated().compactMap { position, column in
                guard cells.indices.contains(column) else { return nil }
                let spread = Spread(Self.runs(cells[column].cells).map(\.macroAccuracy))
                return spread.count == 0 ? nil : LineChart.Point(x: position, y: spread.mean, spread: spread.deviation)
            })
        }
        return LineChart(title: "Robustness to label noise at ε = \(Self.number(plan.focusEpsilon))", xTitle: "training label noise",
                         yTitle: "macro accuracy", xLabels: noiseColumns.map { String(format: "%.0f%%", plan.noiseLevels[$0] * 100) },
                         series: series)
    }

    private func heatMap(_ grid: EvaluationResults.CouplingGrid) -> HeatMap {
        HeatMap(title: "\(grid.strategy): \(scoredSplit) macro accuracy at ε = \(Self.number(plan.focusEpsilon))", rowTitle: "learning rate",
                columnTitle: "expected batch B", rowLabels: plan.couplingRates.map { "\($0)" },
                columnLabels: plan.couplingBatches.map { "B \($0)" },
                values: grid.cells.map { $0.map { Spread(Self.runs($0).map(\.macroAccuracy)).mean } },
                notes: grid.cells.map { _ in grid.noiseMultipliers.map { "σ \(Self.sigmaText($0))" } })
    }

    // MARK: formatting

    /// Which products the SGEMM peak measured, and OpenBLAS's beside it.
    private var openBLASText: String {
        guard !results.openBLASPeaks.isEmpty else {
            return "The engine's products ran on OpenBLAS, so both peak columns compare with the same probes. "
        }
        return String(format: "The engine's products ran on its own AVX-512 kernel; OpenBLAS (%@), probed right after "
                      + "each of those probes on the same shapes, peaked at **%.1f GFLOP/s** (%.1f–%.1f), the reference "
                      + "of the last ratio column (DESIGN.md §8). ",
                      ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0)" } ?? "its own kernel choice",
                      results.openBLASPeak, results.openBLASPeaks.min() ?? .nan, results.openBLASPeaks.max() ?? .nan)
    }

    private var peakRange: String {
        String(format: "%.1f–%.1f", results.sgemmPeaks.min() ?? .nan, results.sgemmPeaks.max() ?? .nan)
    }

    /// Macro accuracy over a cell's seeds (mean ± std), and how many of them failed, with
    /// the first failure's reason when none succeeded.
    private static func accuracyText(_ cells: [Cell]) -> String {
        let succeeded = runs(cells)
        let failures = cells.compactMap { cell -> EvaluationFailure? in
            if case .failure(let failure) = cell { failure } else { nil }
        }
        guard let first = failures.first else { return Spread(succeeded.map(\.macroAccuracy)).percentText }
        if succeeded.isEmpty { return "failed: \(cellText(first.description))" }
        return Spread(succeeded.map(\.macroAccuracy)).percentText + " (\(failures.count) of \(cells.count) failed)"
    }

    private static func runs(_ cells: [Cell]) -> [RunResult] {
        cells.compactMap { try? $0.get() }
    }

    private static func seedsText(_ seeds: [UInt64]) -> String {
        (seeds.count == 1 ? "seed " : "seeds ") + seeds.map(String.init).joined(separator: ", ")
    }

    private static func sigmaText(_ sigma: Double?) -> String {
        sigma.map { String(format: "%.3f", $0) } ?? "—"
    }

    /// A message fit for one table cell: one line, no pipes, at most 120 characters.
    private static func cellText(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "/")
        return flat.count > 120 ? String(flat.prefix(117)) + "…" : flat
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(format: "%.0f", value) : String(value)
    }

    private static func meanAfterFirst(_ values: [Double]) -> Double {
        let timed = values.count > 1 ? Array(values.dropFirst()) : values
        return Spread(timed).mean
    }

    /// CPU model, logical cores and kernel, from /proc and uname.
    private static func machine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        var names = utsname()
        uname(&names)
        let release = withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) logical cores, Linux \(release)"
    }
}
