// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Foundation
import Linalg
import Records

extension Manifest.InstructionUse: ExpressibleByArgument {}

/// The paper's experiments on the real four-task benchmark with the real MiniLM backbone,
/// written to `docs/RESULTS.md` with SVG plots (not run by `swift test`).
///
/// Run optimized from the repository root: `swift run -c release dptune-eval [--quick]`.
struct DPTuneEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dptune-eval",
        abstract: "Privacy–utility, robustness, LR × batch coupling and performance of every strategy on real data.")

    @Option(help: "The benchmark: one folder per task with train.jsonl and test.jsonl, and tasks.json.")
    var data = "/work/shared/data"
    @Option(help: "The backbone's Hugging Face model directory.")
    var backbone = "/work/shared/models/minilm-l6"
    @Option(help: "Directory of the strategy plugins (default: next to this executable).")
    var plugins: String?
    @Option(help: "Where RESULTS.md and the SVG plots are written.")
    var output = "docs"

    @Flag(help: "A few minutes: small subsets, one seed, two-point grids (flags below still override).")
    var quick = false
    @Option(help: "Training records per task.") var trainPerTask: Int?
    @Option(help: "Validation records per task, carved from train.jsonl (tuning only).") var validationPerTask: Int?
    @Option(help: "Test records scored per task (0 = the whole test file).") var testPerTask: Int?
    @Option(help: "Epochs over the training records.") var epochs: Int?
    @Option(help: "Expected (Poisson) batch size.") var batch: Int?
    @Option(help: "Tokens per record.") var maxLength: Int?
    @Option(help: "Number of public seeds per cell of the utility section (1, 2, …).") var seeds: Int?
    @Option(help: "Number of public seeds per cell of the robustness and coupling sections (default 1).") var sectionSeeds: Int?
    @Option(help: "The first public seed of --seeds and --section-seeds (default 1). A seed fixes initialization and the public projections; sampling and noise come from the secure generator in every run, so runs in separate processes can also cover other seeds.")
    var firstSeed: UInt64 = 1
    @Option(help: "Learning-rate grid every strategy is tuned on (comma-separated).") var learningRates: String?
    @Option(help: "Strategies (comma-separated plugin ids).") var strategies: String?
    @Option(help: "Target ε values (comma-separated).") var epsilons: String?
    @Option(help: "Label-noise rates of the robustness run (comma-separated).") var noiseLevels: String?
    @Option(help: "Strategies of the coupling grid (comma-separated).") var couplingStrategies: String?
    @Option(help: "Coupling grid: learning rates (comma-separated).") var couplingRates: String?
    @Option(help: "Coupling grid: expected batch sizes (comma-separated).") var couplingBatches: String?
    @Option(help: "DP and non-DP steps timed per strategy.") var timingSteps: Int?
    @Option(help: "At most this many records per forward and backward (default: the trainer's, 32).") var chunkSize: Int?
    @Option(help: "Sections to run (comma-separated: utility, robustness, coupling, performance).") var sections: String?
    @Option(help: "Threads: the engine's kernels' and OpenBLAS's.") var threads = 2
    @Flag(help: "Run every product on OpenBLAS instead of the engine's AVX-512 kernel, for comparison.")
    var openblas = false
    @Option(help: ArgumentHelp("Options of one strategy as JSON (repeatable); others keep their defaults.",
                               valueName: "id=json"))
    var strategyOptions: [String] = []
    @Flag(help: "Leave out the non-private LoRA reference of the utility section.") var skipReference = false
    @Option(help: "Logit margin of the heads' start at the label names' features (LabelPrior; default 4).")
    var labelPriorMargin: Double?
    @Flag(help: "Start every head at random instead of at the label names.") var randomHeads = false
    @Flag(help: "Score every cell on the validation split instead of test, to choose options without looking at test.")
    var scoreValidation = false
    @Option(help: "encode: [CLS] instruction [SEP] input [SEP]; omit: [CLS] input [SEP] (the manifest's train.instruction).")
    var instruction = Manifest.InstructionUse.encode

    func run() throws {
        let plan = try resolvedPlan()
        BLAS.setThreadCount(threads)
        if openblas { BLAS.setUsesAVX512Kernel(false) }
        let command = (["swift run -c release dptune-eval"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let evaluation = try Evaluation(
            plan: plan, dataDirectory: URL(fileURLWithPath: data), backboneDirectory: URL(fileURLWithPath: backbone),
            pluginDirectory: plugins.map { URL(fileURLWithPath: $0) } ?? StrategyCatalog.buildDirectory)
        let results = try evaluation.run()
        let report = ResultsReport(plan: plan, results: results, commandLine: command, threads: threads)
        try report.write(to: URL(fileURLWithPath: output))
        print("wrote \(output)/RESULTS.md in \(String(format: "%.0f", results.wallSeconds)) s")
    }

    /// The preset with every given flag applied.
    func resolvedPlan() throws -> EvaluationPlan {
        var plan = quick ? EvaluationPlan.quick : .standard
        if let trainPerTask { plan.trainPerTask = trainPerTask }
        if let validationPerTask { plan.validationPerTask = validationPerTask }
        if let testPerTask { plan.testPerTask = testPerTask }
        if let epochs { plan.epochs = epochs }
        if let batch { plan.expectedBatch = batch }
        if let maxLength { plan.maxLength = maxLength }
        plan.seeds = Self.seeds(count: seeds ?? plan.seeds.count, from: firstSeed)
        plan.sectionSeeds = Self.seeds(count: sectionSeeds ?? plan.sectionSeeds.count, from: firstSeed)
        if let learningRates { plan.learningRates = try Self.list(learningRates, "--learning-rates") }
        if let strategies { plan.strategies = strategies.split(separator: ",").map { String($0) } }
        if let epsilons { plan.epsilons = try Self.list(epsilons, "--epsilons") }
        if let noiseLevels { plan.noiseLevels = try Self.list(noiseLevels, "--noise-levels") }
        if let couplingStrategies { plan.couplingStrategies = couplingStrategies.split(separator: ",").map { String($0) } }
        if let couplingRates { plan.couplingRates = try Self.list(couplingRates, "--coupling-rates") }
        if let couplingBatches { plan.couplingBatches = try Self.list(couplingBatches, "--coupling-batches") }
        if let timingSteps { plan.timingSteps = timingSteps }
        if let chunkSize { plan.chunkSize = chunkSize }
        plan.nonPrivateReference = !skipReference
        if let labelPriorMargin { plan.labelPriorMargin = labelPriorMargin }
        if randomHeads {
            guard labelPriorMargin == nil else {
                throw ValidationError("--random-heads and --label-prior-margin contradict each other, refusing")
            }
            plan.labelPriorMargin = nil
        }
        plan.instruction = instruction
        plan.scoresValidation = scoreValidation
        for setting in strategyOptions {
            guard let equals = setting.firstIndex(of: "=") else {
                throw ValidationError("--strategy-options: \(setting) is not id=json, refusing")
            }
            plan.strategyOptions[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        if let sections {
            plan.sections = Set(try sections.split(separator: ",").map { name in
                guard let section = EvaluationPlan.Section(rawValue: String(name)) else {
                    throw ValidationError("--sections: unknown section \(name) (known: utility, robustness, coupling, performance), refusing")
                }
                return section
            })
        }
        guard plan.trainPerTask > 0, plan.validationPerTask > 0, plan.testPerTask >= 0, plan.epochs > 0,
              plan.expectedBatch > 0, plan.maxLength > 2, plan.chunkSize > 0, !plan.learningRates.isEmpty, !plan.epsilons.isEmpty else {
            throw ValidationError("sizes, epochs and batch must be positive and the grids non-empty, refusing")
        }
        return plan
    }

    private static func seeds(count: Int, from first: UInt64) -> [UInt64] {
        (0..<UInt64(max(1, count))).map { first + $0 }
    }

    private static func list<Value: LosslessStringConvertible>(_ text: String, _ flag: String) throws -> [Value] {
        try text.split(separator: ",").map { item in
            guard let value = Value(String(item.trimmingCharacters(in: .whitespaces))) else {
                throw ValidationError("\(flag): \(item) is not a number, refusing")
            }
            return value
        }
    }
}
