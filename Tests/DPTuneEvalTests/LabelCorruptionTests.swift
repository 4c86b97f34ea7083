// SPDX-License-Identifier: Apache-2.0
import Testing
import Training
@testable import dptune_eval

@Suite struct LabelCorruptionTests {
    static let labels = ["a": ["x", "y", "z"], "b": ["no", "yes"]]

    /// 2,000 examples of each task, labels cycling through the task's set.
    static func examples() -> [TrainingExample] {
        (0..<4000).map { index in
            let task = index % 2
            return TrainingExample(ids: [101, 102], tokenTypeIDs: [0, 0], task: task,
                                   target: .label((index / 2) % (task == 0 ? 3 : 2)), unit: index)
        }
    }

    @Test func uniformNoiseChangesAboutTheRateAndStaysInTheTask() throws {
        let clean = Self.examples()
        let noisy = LabelCorruption.uniformNoise(0.3).apply(to: clean, labels: Self.labels, seed: 7)
        let changed = zip(clean, noisy).filter { $0.label != $1.label }.count
        #expect(abs(Double(changed) / Double(clean.count) - 0.3) < 0.04)
        for example in noisy {
            let label = try #require(example.label)
            #expect(label >= 0 && label < (example.task == 0 ? 3 : 2))
        }
        #expect(noisy == LabelCorruption.uniformNoise(0.3).apply(to: clean, labels: Self.labels, seed: 7))
    }

    @Test func feedbackBiasFlipsOnlyTheTaskTowardsTheClass() {
        let clean = Self.examples()
        let biased = LabelCorruption.feedbackBias(task: "b", towards: "no", share: 0.5)
            .apply(to: clean, labels: Self.labels, seed: 7)
        let changed = zip(clean, biased).filter { $0.label != $1.label }
        #expect(changed.allSatisfy { $0.task == 1 && $1.label == 0 })
        // Half of task b's 1,000 "yes" labels.
        #expect(abs(changed.count - 500) < 60)
    }
}
