// SPDX-License-Identifier: Apache-2.0
import Records
import Training

/// Every size, grid and seed of one evaluation, after the `--quick` preset and the flags.
struct EvaluationPlan: Sendable {
    var trainPerTask: Int
    var validationPerTask: Int
    var testPerTask: Int
    var epochs: Int
    var expectedBatch: Int
    var maxLength: Int
    var seeds: [UInt64]
    /// The seeds of every robustness and coupling cell: one by default, since those
    /// sections train once per cell and seed, and the default must fit its half hour.
    var sectionSeeds: [UInt64] = [1]
    /// The tuning grid every strategy gets (chosen on validation at the largest ε).
    var learningRates: [Float]
    var strategies: [String]
    var epsilons: [Double]
    var delta: Double
    var clip: Double
    var noiseLevels: [Double]
    var biasTask: String
    var biasLabel: String
    var biasShare: Double
    var couplingStrategies: [String]
    var couplingRates: [Float]
    var couplingBatches: [Int]
    var timingSteps: Int
    /// At most this many records per forward and backward (the trainer's `chunkSize`).
    var chunkSize = TrainingSettings.defaultChunkSize
    var sections: Set<Section>
    /// Strategy id → options JSON; a strategy not named runs with its defaults.
    var strategyOptions: [String: String] = [:]
    /// Whether the utility section also tunes and trains the non-private LoRA reference.
    var nonPrivateReference = true
    /// Every run's heads start at ``LabelPrior`` with this margin; random heads when nil.
    ///
    /// The presets start at the label names with margin 4, the setting of every reference-size
    /// result: the benchmark's labels are words, and the start is public, so it costs no ε.
    var labelPriorMargin: Double? = 4
    /// Every cell is scored on the validation split instead of test: for choosing a strategy's
    /// options without looking at test, as the tuning runs choose the learning rate.
    var scoresValidation = false
    /// Whether records are encoded with their instruction (the manifest's `train.instruction`).
    var instruction = Manifest.InstructionUse.encode

    /// The non-private reference runs: the utility section asks for it and it is not skipped.
    var runsReference: Bool { sections.contains(.utility) && nonPrivateReference }

    /// Tuning runs only when there is a choice: with one learning rate its runs would decide
    /// nothing and cost a training run per strategy.
    var tunes: Bool { learningRates.count > 1 }

    /// The utility section scores the label-name start untrained: the heads start there.
    var scoresUntrainedStart: Bool { sections.contains(.utility) && labelPriorMargin != nil }

    enum Section: String, CaseIterable, Sendable {
        case utility, robustness, coupling, performance
    }

    /// The public seed of the data cuts and the label corruptions.
    static let dataSeed: UInt64 = 20_231_107

    /// The ε of robustness, coupling and tuning.
    var focusEpsilon: Double { epsilons.max() ?? 8 }

    /// About 30 minutes on an idle 2-core machine (docs/RESULTS.md records the measured time).
    static let standard = EvaluationPlan(
        trainPerTask: 175, validationPerTask: 50, testPerTask: 125, epochs: 1, expectedBatch: 64, maxLength: 64,
        seeds: [1, 2, 3], learningRates: [1e-3, 5e-3, 2e-2], strategies: ["lora", "bitfit", "dp-forward", "anadp", "projected"],
        epsilons: [1, 3, 8], delta: 1e-5, clip: 1, noiseLevels: [0, 0.2, 0.4], biasTask: "sentiment",
        biasLabel: "negative", biasShare: 0.3, couplingStrategies: ["projected", "lora"], couplingRates: [1e-3, 5e-3, 2e-2],
        couplingBatches: [16, 64, 128], timingSteps: 10, sections: Set(Section.allCases))

    /// A few minutes: small subsets, one seed, two-point grids.
    static let quick = EvaluationPlan(
        trainPerTask: 50, validationPerTask: 25, testPerTask: 40, epochs: 1, expectedBatch: 32, maxLength: 64,
        seeds: [1], learningRates: [5e-3, 2e-2], strategies: standard.strategies, epsilons: [1, 3, 8], delta: 1e-5,
        clip: 1, noiseLevels: [0, 0.4], biasTask: "sentiment", biasLabel: "negative", biasShare: 0.3,
        couplingStrategies: ["projected", "lora"], couplingRates: [5e-3, 2e-2], couplingBatches: [16, 64],
        timingSteps: 4, sections: Set(Section.allCases))
}
