// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import Testing
import TestSupport
@testable import Training

@Suite(.serialized) struct SeedSweepTmp {
    @Test(arguments: [UInt64(1), 2, 3, 4, 5]) func sweep(seed: UInt64) throws {
        let labels = ["sentiment": ["negative", "positive"]]
        let encoder = ClassificationExampleEncoder(tokenizer: try MiniLMFixture.encoder().tokenizer, labels: labels, maxLength: 64)
        let training = try RealDataTrainingTests.examples(task: "sentiment", file: "train", count: 2_000, encoder: encoder)
        let test = try RealDataTrainingTests.examples(task: "sentiment", file: "test", count: 872, encoder: encoder)
        let trainer = try RealDataTrainingTests.trainer(strategy: "LoRA", labels: labels, training: training, epsilon: 8, epochs: 3,
                                       learningRate: 5e-3, reproducibleSeed: seed)
        let start = Date()
        try trainer.run()
        let accuracy = try #require(trainer.evaluate(test)["sentiment"])
        print("SWEEP seed \(seed): accuracy \(accuracy) steps \(trainer.step) \(Date().timeIntervalSince(start)) s")
    }
}
