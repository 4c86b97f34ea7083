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
    var scoresOnReplicas: Bool { wrapped.scoresOnReplicas }

    func declareParameters(in parameters: TrainableParameters) {
        wrapped.declareParameters(in: parameters)
    }

    func lossAndBackward(_ examples: ArraySlice<TrainingExample>, parameters: TrainableParameters) -> [Float] {
        chunks.append(examples.map(\.ids.count))
        return wrapped.lossAndBackward(examples, parameters: parameters)
    }

    func accuracy(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int,
                  replicas: [any TrainingObjective]) -> [String: Double] {
        wrapped.accuracy(examples, parameters: parameters, chunkSize: chunkSize, replicas: replicas)
    }

    func replica() throws -> (any TrainingObjective)? { nil }
}

/// Batches and evaluation sets run in chunks of similar length, so a chunk pads to about its
/// own members' length; the results are those of the input order.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct LengthOrderTests {
    @Test func aStepCutsItsBatchIntoChunksOfSimilarLength() throws {
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
        // The chunks are the cuts of the sorted batch, run longest first (so that cores
        // running them at once finish together).
        let cuts = LengthChunks(maxCount: 6).ranges(lengths: sorted).map { Array(sorted[$0]) }
        let lexicographic: ([Int], [Int]) -> Bool = { $0.lexicographicallyPrecedes($1) }
        #expect(objective.chunks.sorted(by: lexicographic) == cuts.sorted(by: lexicographic))
        #expect(cuts.allSatisfy { $0.count <= 6 })
        for (shorter, longer) in zip(cuts, cuts.dropFirst()) {
            #expect((shorter.max() ?? 0) <= (longer.min() ?? 0))
        }
        let costs = objective.chunks.map { $0.count * ($0.max() ?? 0) }
        #expect(costs == costs.sorted(by: >))
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

    /// Features computed as pieces on the objective and a replica at once come back in the
    /// input order and equal those of one objective alone, up to the rounding of a product's
    /// row count (a piece has fewer rows than its chunk).
    @Test func featuresOnReplicasComeBackInTheInputOrder() throws {
        defer { BLAS.setThreadCount(2) }
        BLAS.setThreadCount(2)
        let examples = try MiniLMFixture.examples(17, file: "test")
        let objective = ClassificationObjective(backbone: try MiniLMFixture.backbone(), tasks: ["sentiment"],
                                                labels: MiniLMFixture.labels)
        let replica = try #require(try objective.replica() as? ClassificationObjective)
        let alone = objective.pooledFeatures(ofAll: examples, chunkSize: 4)
        let shared = objective.pooledFeatures(ofAll: examples, chunkSize: 4, replicas: [replica])
        #expect(alone.count == examples.count * objective.backbone.hiddenSize)
        let scale = alone.map(abs).max() ?? 0
        let largest = zip(alone, shared).map { abs($0 - $1) }.max() ?? .infinity
        #expect(scale > 0 && largest <= 1e-5 * scale, "features differ by \(largest) against entries up to \(scale)")
    }
}

