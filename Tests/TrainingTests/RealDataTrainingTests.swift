// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Privacy
import Records
import Testing
import TestSupport
@testable import Training

/// Learning really happens: the bundled strategies, loaded as plugins, on real data.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct RealDataTrainingTests {
    static func strategy(_ product: String) throws -> any AdapterStrategy {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        return try PluginLoader(stagingDirectory: staging).load(BuildProducts.library(product)).strategy
    }

    static func examples(task: String, file: String, count: Int, encoder: ClassificationExampleEncoder,
                         offset: Int = 0) throws -> [TrainingExample] {
        let text = try String(contentsOf: SharedFixtures.url("data/\(task)/\(file).jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").prefix(count).enumerated().map { index, line in
            try encoder.encode(DatasetRecord.parse(Data(line.utf8)), unit: offset + index)
        }
    }

    static func trainer(strategy product: String, labels: [String: [String]], training: [TrainingExample],
                        epsilon: Double, epochs: Int, learningRate: Float, nonPrivate: Bool = false,
                        reproducibleSeed: UInt64? = nil, options: String = "", labelPrior: LabelPrior? = nil,
                        maxLength: Int? = nil) throws -> Trainer {
        let strategy = try strategy(product)
        let backbone = try MiniLMFixture.backbone()
        let configuration = AdapterConfiguration(
            options: try StrategyOptions(json: options, schema: strategy.options), objective: .classify,
            tasks: labels.keys.sorted(), labels: labels, seed: 7, clip: 1, epsilon: epsilon, delta: 1e-5)
        let plan = try TrainingPlan(populationSize: training.count, expectedBatch: 64, epochs: epochs, epsilon: epsilon,
                                    delta: 1e-5, accountant: .prv)
        return try Trainer(backbone: backbone, adapter: strategy.makeAdapter(backbone: backbone, configuration: configuration),
                           labels: labels, examples: training, plan: plan,
                           settings: TrainingSettings(learningRate: learningRate, clip: 1, seed: 7,
                                                      insecureReproducibleSeed: reproducibleSeed, nonPrivate: nonPrivate,
                                                      maxLength: maxLength),
                           labelPrior: labelPrior)
    }

    /// DP-LoRA on the first 2,000 SST-2 training records at ε = 8 against the 872 test
    /// sentences, each review encoded alone (`train.instruction = omit`).
    ///
    /// The accuracy of a DP run is a random variable: over the five reproducible seeds 1–5
    /// the same recipe gave 78.6, 76.4, 77.0, 78.3 and 76.4 % (77.3 ± 1.1, docs/EVALUATION.md,
    /// section 1). With the secure generator the test would fail on an unlucky draw of noise
    /// and batches, so it pins seed 1's draw — the same noise scale, only reproducible.
    @Test func loraLearnsSentimentAtEpsilonEight() throws {
        let labels = ["sentiment": ["negative", "positive"]]
        let encoder = ClassificationExampleEncoder(tokenizer: try MiniLMFixture.encoder().tokenizer, labels: labels, maxLength: 64,
                                                   instruction: .omit)
        let training = try Self.examples(task: "sentiment", file: "train", count: 2_000, encoder: encoder)
        let test = try Self.examples(task: "sentiment", file: "test", count: 872, encoder: encoder)
        let trainer = try Self.trainer(strategy: "LoRA", labels: labels, training: training, epsilon: 8, epochs: 3,
                                       learningRate: 5e-3, reproducibleSeed: 1)
        try trainer.run()
        var accountant = PLDAccountant()
        try accountant.compose(trainer.spentEvent)
        let epsilon = try accountant.epsilon(delta: 1e-5)
        let accuracy = try #require(trainer.evaluate(test)["sentiment"])
        print("lora ε=8: accuracy \(accuracy), ε spent \(epsilon), steps \(trainer.step)")
        #expect(epsilon <= 8)
        #expect(accuracy >= 0.72)
    }

    /// The non-private reference (no noise to hide, so its batches are drawn from a fixed
    /// seed and the result is reproducible).
    @Test func loraLearnsSentimentWithoutPrivacy() throws {
        let labels = ["sentiment": ["negative", "positive"]]
        let encoder = ClassificationExampleEncoder(tokenizer: try MiniLMFixture.encoder().tokenizer, labels: labels, maxLength: 64)
        let training = try Self.examples(task: "sentiment", file: "train", count: 2_000, encoder: encoder)
        let test = try Self.examples(task: "sentiment", file: "test", count: 872, encoder: encoder)
        let trainer = try Self.trainer(strategy: "LoRA", labels: labels, training: training, epsilon: 8, epochs: 3,
                                       learningRate: 2e-3, nonPrivate: true, reproducibleSeed: 11)
        try trainer.run()
        let accuracy = try #require(trainer.evaluate(test)["sentiment"])
        print("lora non-private: accuracy \(accuracy)")
        #expect(accuracy >= 0.80)
    }

    /// Every strategy trains on a four-task mixture and states its size and its ε; the
    /// gradient strategies spend exactly the ε they were planned (and charged) for.
    @Test(arguments: ["LoRA", "BiTFiT", "DPForward", "AnaDP", "Projected"])
    func trainsOnTheFourTaskMixture(strategy: String) throws {
        let tasks = try #require(try SharedFixtures.json("data/tasks.json") as? [String: [String: Any]])
        let labels = tasks.compactMapValues { $0["labels"] as? [String] }
        let encoder = ClassificationExampleEncoder(tokenizer: try MiniLMFixture.encoder().tokenizer, labels: labels, maxLength: 48)
        var training: [TrainingExample] = []
        for task in labels.keys.sorted() {
            training += try Self.examples(task: task, file: "train", count: 40, encoder: encoder, offset: training.count)
        }
        let trainer = try Self.trainer(strategy: strategy, labels: labels, training: training, epsilon: 8, epochs: 1,
                                       learningRate: 5e-3, maxLength: 48)
        let before = Array(trainer.parameters.flatValues)
        try trainer.run()
        #expect(Array(trainer.parameters.flatValues) != before)
        var accountant = RDPAccountant()
        try accountant.compose(trainer.spentEvent)
        let epsilon = try accountant.epsilon(delta: 1e-5)
        let share = 100 * Double(trainer.parameters.count) / Double(trainer.backboneParameterCount)
        print("\(strategy): trainable \(trainer.parameters.count) (\(share)%), ε spent (RDP) \(epsilon)")
        #expect(epsilon.isFinite && epsilon > 0)
        if strategy != "DPForward" {
            // The least private record gets σ_eff = σ exactly: the run spends what it was charged.
            #expect(abs(try trainer.plan.epsilon(of: trainer.spentEvent).epsilon - 8) < 1e-3)
        }
        #expect(share > 0 && share < 5)
        #expect(Set(trainer.evaluate(training).keys) == Set(labels.keys))
    }
}
