// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Privacy
import Records
import Testing
import TestSupport
@testable import Training
import Transformer

/// `generate` jobs on SmolLM2-135M-Instruct with the bundled strategies, loaded as plugins.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct GenerationTrainingTests {
    static let backboneDirectory = SharedFixtures.url("models/smollm2-135m-instruct")

    init() { BLAS.setThreadCount(2) }

    func job(_ directory: TemporaryDirectory, strategy product: String, records: Int = 16,
             manifest body: String = "", backboneDirectory: URL = Self.backboneDirectory) throws -> TrainingJob {
        let text = #"{"account": "a", "backbone": "smollm2-135m-instruct", "strategy": "s", "objective": "generate""#
            + (body.isEmpty ? "" : ", " + body) + "}"
        let manifest = try Manifest.parse(Data(text.utf8), defaults: MiniLMFixture.manifestDefaults)
        return TrainingJob(jobID: "gen-1", manifest: manifest,
                           datasetPath: try MiniLMFixture.datasetFile(records, in: directory.url),
                           backboneDirectory: backboneDirectory, strategy: try RealDataTrainingTests.strategy(product),
                           outputDirectory: directory.url.appendingPathComponent("adapter"), heldOutFraction: 0.25)
    }

    /// A few DP-LoRA steps on sentiment records rendered as chat, on a directory holding
    /// only the GGUF file: the spent ε (RDP, the accountant the plan was calibrated with)
    /// stays within the target, every reported loss is finite, the adapter moves and is
    /// published with no head tensors.
    @Test func loraTrainsThroughTheJob() throws {
        let directory = try TemporaryDirectory()
        let ggufOnly = try SharedFixtures.smolLM2GGUFOnly(in: directory.url)
        let job = try job(directory, strategy: "LoRA",
                          manifest: #""train": {"epochs": 1, "expected_batch": 4, "lr": 0.002, "max_len": 64}, "privacy": {"epsilon": 8, "delta": 1e-5, "accountant": "rdp"}"#,
                          backboneDirectory: ggufOnly)
        let prepared = try job.prepare()
        let trainer = prepared.trainer
        let before = Array(trainer.parameters.flatValues)
        var losses: [Double] = []
        let start = ContinuousClock.now
        try trainer.run { report in
            losses.append(report.loss)
            return true
        }
        print("SmolLM2 DP lora: \(trainer.step) steps in \(ContinuousClock.now - start), losses \(losses), ε \(trainer.epsilonSpent)")
        let card = try job.publish(prepared)
        #expect(trainer.step == 3)
        #expect(losses.count == 3 && losses.allSatisfy(\.isFinite))
        #expect(losses.contains { $0 > 0 })
        #expect(card.privacy.epsilon <= 8 && trainer.epsilonSpent <= 8)
        #expect(Array(trainer.parameters.flatValues) != before)
        // rank 8 on q (576 → 576) and v (576 → 192) of all 30 blocks, nothing else
        #expect(trainer.parameters.count == 30 * (8 * 576 + 576 * 8 + 8 * 576 + 192 * 8))
        #expect(trainer.parameters.segments.allSatisfy { $0.name.contains("lora_") })
        #expect(card.training.objective == "generate")
        #expect(card.evaluation.records == 4)
        let accuracy = try #require(card.evaluation.accuracy["generate"])
        #expect((0...1).contains(accuracy))
        let files = try FileManager.default.contentsOfDirectory(atPath: job.outputDirectory.path)
        #expect(files.contains(AdapterArtifacts.weightsFile) && files.contains(AdapterArtifacts.modelCardFile))

        // the published files alone answer the held-out records as the evaluation did
        let predictor = try AdapterPredictor(adapterDirectory: job.outputDirectory, backboneDirectory: ggufOnly,
                                             strategy: try RealDataTrainingTests.strategy("LoRA"))
        let dataset = try TrainingDataset.read(path: job.datasetPath, privacyUnit: .record)
        let heldOut = HeldOutSplit(memberCount: 16, heldOutFraction: 0.25, seed: job.manifest.train.seed).heldOut
            .map { dataset.records[$0] }
        let results = try predictor.predict(heldOut)
        let hits = zip(results, heldOut).filter { GenerationObjective.normalized($0.prediction) == GenerationObjective.normalized($1.output) }
        print("held-out responses: \(results.map(\.prediction))")
        #expect(results.count == 4 && results.allSatisfy { $0.task == "generate" && $0.scores.isEmpty })
        #expect(abs(Double(hits.count) / 4 - accuracy) < 1e-12)
    }

    /// The adaptive and projected low-rank strategies train a decoder too: their allocations
    /// pass the trainer's σ_eff check on SmolLM2's segments and the adapter moves.
    @Test(arguments: ["AnaDP", "Projected"])
    func lowRankStrategiesTrainThroughTheJob(strategy: String) throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, strategy: strategy, records: 8,
                          manifest: #""train": {"epochs": 1, "expected_batch": 3, "lr": 0.002, "max_len": 48}, "privacy": {"epsilon": 8, "delta": 1e-5, "accountant": "rdp"}"#)
        let prepared = try job.prepare()
        let trainer = prepared.trainer
        let before = Array(trainer.parameters.flatValues)
        var losses: [Double] = []
        try trainer.run { report in
            losses.append(report.loss)
            return true
        }
        let card = try job.publish(prepared)
        #expect(trainer.step == trainer.plan.steps && trainer.step > 0)
        #expect(!losses.isEmpty && losses.allSatisfy(\.isFinite))
        #expect(card.privacy.epsilon <= 8 && trainer.epsilonSpent <= 8)
        #expect(card.training.objective == "generate")
        #expect(Array(trainer.parameters.flatValues) != before)
    }

    /// The issue's experiment: DP-LoRA (rank 8 on q and v) on the first 1,000 SST-2 training
    /// records rendered as chat, ε = 8 by PLD, scored by exact match of the greedy response
    /// on the first 200 test records, the untrained model measured in the same run.
    ///
    /// Like `loraLearnsSentimentAtEpsilonEight`, it pins one reproducible draw of batches
    /// and noise (seed 1; the same noise scale): a DP run's accuracy is a random variable.
    @Test func loraRaisesSentimentExactMatchAtEpsilonEight() throws {
        let model = try #require(try loadBackbone(directory: Self.backboneDirectory) as? LlamaModel)
        let encoder = try GenerationExampleEncoder(backboneDirectory: Self.backboneDirectory,
                                                   labels: ["sentiment": ["negative", "positive"]], maxLength: 128)
        func examples(_ file: String, _ count: Int) throws -> [TrainingExample] {
            let text = try String(contentsOf: SharedFixtures.url("data/sentiment/\(file).jsonl"), encoding: .utf8)
            return try text.split(separator: "\n").prefix(count).enumerated().map { index, line in
                try encoder.encode(DatasetRecord.parse(Data(line.utf8)), unit: index)
            }
        }
        let training = try examples("train", 1_000)
        let test = try examples("test", 200)
        let strategy = try RealDataTrainingTests.strategy("LoRA")
        let configuration = AdapterConfiguration(
            options: try StrategyOptions(json: #"{"rank": 8, "alpha": 16}"#, schema: strategy.options), objective: .generate,
            tasks: ["sentiment"], labels: [:], seed: 7, clip: 1, epsilon: 8, delta: 1e-5)
        let plan = try TrainingPlan(populationSize: training.count, expectedBatch: 64, epochs: 1, epsilon: 8, delta: 1e-5,
                                    accountant: .prv)
        let trainer = try Trainer(languageModel: model, tokenizer: encoder.tokenizer, tasks: ["sentiment"],
                                  adapter: strategy.makeAdapter(backbone: model, configuration: configuration),
                                  examples: training, plan: plan,
                                  settings: TrainingSettings(learningRate: 3e-3, clip: 1, seed: 7, insecureReproducibleSeed: 1))
        let untrained = try #require(trainer.evaluate(test)["sentiment"])
        // At two threads a classification evaluation makes a replica; greedy decoding runs on one model.
        #expect(BLAS.threadCount == 2, "the suite runs at two threads")
        #expect(trainer.replicas.isEmpty, "evaluating by greedy decoding made a replica of the backbone")
        try trainer.run()
        let trained = try #require(trainer.evaluate(test)["sentiment"])
        var accountant = PLDAccountant()
        try accountant.compose(trainer.spentEvent)
        let epsilon = try accountant.epsilon(delta: 1e-5)
        print("SmolLM2 DP lora on 1,000 records: exact match on 200 test records \(untrained) untrained, \(trained) trained; ε \(epsilon), \(trainer.step) steps")
        #expect(epsilon <= 8)
        #expect(untrained < 0.1)
        #expect(trained >= untrained + 0.5)
    }

    @Test func bitfitRefusesLlama() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, strategy: "BiTFiT", records: 8)
        let error = try #require(throws: AdapterError.self) { try job.prepare() }
        #expect(error.code == .unsupportedBackbone)
        #expect(error.message.contains("bias"))
    }

    /// DP-Forward releases pooled features for a classification head; generate has none.
    @Test func dpForwardRefusesGenerate() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, strategy: "DPForward", records: 8)
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("objective generate trains no head"))
    }

    /// `generate` on an encoder is refused by name before the backbone is opened.
    @Test func generationRefusesAnEncoder() throws {
        let directory = try TemporaryDirectory()
        let job = try job(directory, strategy: "LoRA", records: 8, backboneDirectory: MiniLMFixture.directory)
        let error = try #require(throws: TrainingError.self) { try job.prepare() }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("needs a Llama-family decoder; backbone smollm2-135m-instruct is a BERT encoder"))
    }
}
