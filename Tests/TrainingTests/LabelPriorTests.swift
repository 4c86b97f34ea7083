// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Testing
import TestSupport
import Tokenizers
@testable import Training

@Suite struct LabelPriorTests {
    /// Centred rows cannot favour a class, and γ sets the mean own-text margin as documented.
    @Test func rowsAreCentredAndScaledToTheMargin() {
        let K = 3, C = 4
        let features: [Float] = [1, 0, 2, 0.5, 0, 1, 2, -1, 1, 1, 2, 3]
        let weights = LabelPrior.weights(features: features, labelCount: K, width: C, margin: 4)
        for c in 0..<C {
            #expect(abs((0..<K).map { weights[$0 * C + c] }.reduce(0, +)) < 1e-5)
        }
        var margin: Float = 0
        for j in 0..<K {
            let logits = (0..<K).map { k in (0..<C).reduce(Float(0)) { $0 + weights[k * C + $1] * features[j * C + $1] } }
            margin += (logits[j] - logits.reduce(0, +) / Float(K)) / Float(K)
        }
        #expect(abs(margin - 4) < 1e-4)
    }

    @Test func labelExamplesReadUnderscoresAsSpaces() throws {
        let vocabulary = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString).txt")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\ny\nz\n".write(to: vocabulary, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: vocabulary) }
        let tokenizer = try WordPieceTokenizer(vocabularyFile: vocabulary)
        let encoder = ClassificationExampleEncoder(tokenizer: tokenizer, labels: ["b": ["x_y", "z"], "a": ["y"]], maxLength: 16)
        let examples = encoder.labelExamples()
        #expect(examples.map(\.task) == [0, 1, 1])
        #expect(examples.map(\.label) == [0, 0, 1])
        #expect(examples[1].ids == [2, 4, 5, 3])
    }
}

/// The label names alone, through MiniLM, already classify: the prior carries information
/// before any private record is read.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct LabelPriorRealDataTests {
    @Test func labelNamesClassifyBeforeTraining() throws {
        let tasks = try #require(try SharedFixtures.json("data/tasks.json") as? [String: [String: Any]])
        let labels = tasks.compactMapValues { $0["labels"] as? [String] }
        let encoder = ClassificationExampleEncoder(tokenizer: try MiniLMFixture.encoder().tokenizer, labels: labels, maxLength: 64)
        var test: [TrainingExample] = []
        for task in labels.keys.sorted() {
            // Every tenth record: the files are grouped by label, and a prefix would hold a few labels only.
            let all = try RealDataTrainingTests.examples(task: task, file: "test", count: .max, encoder: encoder)
            test += stride(from: 0, to: all.count, by: 10).map { all[$0] }
        }
        let training = try RealDataTrainingTests.examples(task: "topic", file: "train", count: 64, encoder: encoder)
        let trainer = try RealDataTrainingTests.trainer(strategy: "LoRA", labels: labels, training: training,
                                                        epsilon: 8, epochs: 1, learningRate: 5e-3,
                                                        labelPrior: LabelPrior(examples: encoder.labelExamples()))
        let accuracy = trainer.evaluate(test)
        print("label prior, no training step: \(accuracy.sorted { $0.key < $1.key })")
        // Each task beats guessing, and all records together by more than 4 standard
        // deviations of the number of hits guessing would give.
        var hits = 0.0, guessed = 0.0, variance = 0.0
        for (index, task) in labels.keys.sorted().enumerated() {
            let chance = 1 / Double(labels[task]?.count ?? 1), count = Double(test.filter { $0.task == index }.count)
            let taskAccuracy = try #require(accuracy[task])
            #expect(taskAccuracy > chance, "\(task) is no better than guessing")
            hits += taskAccuracy * count
            guessed += chance * count
            variance += chance * (1 - chance) * count
        }
        #expect((hits - guessed) / variance.squareRoot() > 4)
    }
}
