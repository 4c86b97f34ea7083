// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Linalg
import Testing
import TestSupport
@testable import Training
import Transformer

/// A classification objective that remembers the token counts of every chunk it is handed.
private final class ChunkRecordingObjective: TrainingObjective {
    let wrapped: ClassificationObjective
    private(set) var chunks: [[Int]] = []

    init(_ wrapped: ClassificationObjective) {
        self.wrapped = wrapped
    }

    var backbone: any Backbone { wrapped.backbone }

    func declareParameters(in parameters: TrainableParameters) {
        wrapped.declareParameters(in: parameters)
    }

    func lossAndBackward(_ examples: ArraySlice<TrainingExample>, parameters: TrainableParameters) -> [Float] {
        chunks.append(examples.map(\.ids.count))
        return wrapped.lossAndBackward(examples, parameters: parameters)
    }

    func accuracy(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int) -> [String: Double] {
        wrapped.accuracy(examples, parameters: parameters, chunkSize: chunkSize)
    }
}

/// Batches and evaluation sets run in chunks of similar length, so a chunk pads to about its
/// own members' length; the results are those of the input order.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct LengthOrderTests {
    @Test func aStepRunsItsChunksShortestFirst() throws {
        let examples = try MiniLMFixture.examples(24)
        #expect(Set(examples.map(\.ids.count)).count > 4, "the records must differ in length for the order to show")
        let objective = ChunkRecordingObjective(
            ClassificationObjective(backbone: try MiniLMFixture.backbone(), tasks: ["sentiment"], labels: MiniLMFixture.labels))
        // q = 1: every record is in the batch, in chunks of at most six cut by LengthChunks.
        let trainer = try Trainer(objective: objective, adapter: ScriptedAdapter(), examples: examples,
                                  plan: TrainerInvariantTests.plan(population: 24, batch: 24),
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, chunkSize: 6,
                                                             insecureReproducibleSeed: 3))
        _ = try trainer.dpStep()
        let sorted = examples.map(\.ids.count).sorted()
        #expect(objective.chunks.flatMap { $0 } == sorted)
        #expect(objective.chunks.map(\.count) == LengthChunks(maxCount: 6).ranges(lengths: sorted).map(\.count))
        #expect(objective.chunks.allSatisfy { $0.count <= 6 })
        for (shorter, longer) in zip(objective.chunks, objective.chunks.dropFirst()) {
            #expect((shorter.max() ?? 0) <= (longer.min() ?? 0))
        }
        #expect(trainer.privatizer.clippedSegmentNorms.count == 24)
    }

    @Test func predictionsComeBackInTheInputOrder() throws {
        let examples = try MiniLMFixture.examples(14, file: "test")
        let objective = ClassificationObjective(backbone: try MiniLMFixture.backbone(), tasks: ["sentiment"],
                                                labels: MiniLMFixture.labels)
        let parameters = TrainableParameters()
        objective.declareParameters(in: parameters)
        var generator = SeededGenerator(seed: 5)
        parameters.seal(generator: &generator)
        let together = objective.predict(examples, parameters: parameters, chunkSize: 4)
        #expect(together.count == examples.count)
        for (example, prediction) in zip(examples, together) {
            let alone = try #require(objective.predict([example], parameters: parameters, chunkSize: 1).first)
            #expect(alone.label == prediction.label)
            for (a, b) in zip(alone.probabilities, prediction.probabilities) {
                #expect(abs(a - b) <= 1e-5)
            }
        }
    }
}
