// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Linalg
import Testing
import TestSupport
@testable import Training
import Transformer

/// An adapter with real hooks: a trainable low-rank update on every query and value layer,
/// and bias updates on the first attention output layer and its layer norm.
private final class HookedAdapter: Adapter {
    private let sites: [LinearSite]
    private let normSite: NormSite
    private var updates: [LowRankUpdate] = []
    private var biases: [BiasUpdate] = []
    let mechanism = PrivacyMechanism.gradientPerturbation

    init(backbone: any Backbone) {
        sites = backbone.linearSites.filter { $0.module == .query || $0.module == .value || ($0.layer == 0 && $0.module == .attentionOutput) }
        normSite = backbone.normSites[1]
    }

    func declareParameters(in parameters: TrainableParameters) {
        for site in sites where site.module != .attentionOutput {
            updates.append(LowRankUpdate(site: site, rank: 4, scale: 2, down: .trainable(name: "\(site).A"),
                                         upName: "\(site).B", parameters: parameters))
        }
        biases = [BiasUpdate(name: "output.bias", width: sites[0].outFeatures, parameters: parameters),
                  BiasUpdate(name: "norm.bias", width: normSite.width, parameters: parameters)]
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        for update in updates { backbone.setHook(update, for: update.site) }
        if let output = sites.first(where: { $0.module == .attentionOutput }) { backbone.setHook(biases[0], for: output) }
        backbone.setNormHook(biases[1], for: normSite)
    }

    func detach(from backbone: any Backbone) {
        for site in sites { backbone.setHook(nil, for: site) }
        backbone.setNormHook(nil, for: normSite)
    }

    func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        .uniform(noiseMultiplier: target.noiseMultiplier, clip: target.clip, segmentCount: target.segments.count)
    }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] { [:] }
}

/// With two threads a step runs each chunk as two pieces at once, on replicas of the
/// backbone with one thread each.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ReplicaChunkTests {
    /// Two steps at `threads`: the last step's per-sample rows, both losses, the parameters.
    private func train(threads: Int) throws -> (rows: [Float], values: [Float], losses: [Double], replicas: Int) {
        BLAS.setThreadCount(threads)
        defer { BLAS.setThreadCount(2) }
        let examples = try MiniLMFixture.examples(24)
        let backbone = try MiniLMFixture.backbone()
        let trainer = try Trainer(backbone: backbone, adapter: HookedAdapter(backbone: backbone), labels: MiniLMFixture.labels,
                                  examples: examples, plan: TrainerInvariantTests.plan(population: 24, batch: 24),
                                  settings: TrainingSettings(learningRate: 1e-2, clip: 1, seed: 1, chunkSize: 6,
                                                             insecureReproducibleSeed: 9))
        let losses = [try trainer.dpStep(), try trainer.dpStep()]
        return (Array(trainer.parameters.flatSampleGradients), Array(trainer.parameters.flatValues), losses,
                trainer.replicas.count)
    }

    /// Pieces that run at once on replicas give the same bits on every run.
    @Test func replicasGiveTheSameBitsOnEveryRun() throws {
        let first = try train(threads: 2), second = try train(threads: 2)
        #expect(first.replicas == 1)
        #expect(first.rows.contains { $0 != 0 })
        // Compared as a whole: a failing element-wise diff of 10⁵ floats takes minutes to print.
        let sameRows = first.rows == second.rows, sameValues = first.values == second.values
        #expect(sameRows)
        #expect(sameValues)
        #expect(first.losses == second.losses)
    }

    /// One thread (whole chunks, no replica) and two (pieces on replicas) agree: to the bit
    /// on the AVX-512 kernel, to rounding on OpenBLAS, which rounds a product's rows
    /// differently for different row counts (about 10⁻⁷ relative to the largest entry here).
    @Test func oneAndTwoThreadsAgreeToRounding() throws {
        let inTurn = try train(threads: 1), atOnce = try train(threads: 2)
        #expect(inTurn.replicas == 0 && atOnce.replicas == 1)
        let scale = inTurn.rows.map(abs).max() ?? 0
        let largest = zip(inTurn.rows, atOnce.rows).map { abs($0 - $1) }.max() ?? .infinity
        #expect(scale > 0)
        #expect(largest <= 1e-5 * scale, "per-sample rows differ by \(largest) against entries up to \(scale)")
        for (a, b) in zip(inTurn.losses, atOnce.losses) { #expect(abs(a - b) <= 1e-5 * abs(a)) }
        // On the AVX-512 kernel a row of a product does not depend on the product's other
        // rows, so a piece gets the bits it gets inside its chunk: nothing rounds differently.
        if BLAS.usesAVX512Kernel {
            let sameRows = inTurn.rows == atOnce.rows, sameValues = inTurn.values == atOnce.values
            #expect(sameRows && sameValues && inTurn.losses == atOnce.losses)
        }
    }

    /// The pieces of one chunk run at once on the objective and a replica of it (sharing the
    /// hooks, each writing its own samples' rows) give the bits of the same pieces run in
    /// turn on one thread: nothing one piece does reaches the other.
    @Test func piecesAtOnceEqualPiecesInTurn() throws {
        defer { BLAS.setThreadCount(2) }
        let examples = try MiniLMFixture.examples(12)
        let backbone = try MiniLMFixture.backbone()
        let objective = ClassificationObjective(backbone: backbone, tasks: ["sentiment"], labels: MiniLMFixture.labels)
        let adapter = HookedAdapter(backbone: backbone)
        let parameters = TrainableParameters()
        adapter.declareParameters(in: parameters)
        objective.declareParameters(in: parameters)
        var generator = SeededGenerator(seed: 3)
        parameters.seal(generator: &generator)
        // Non-zero B, biases and head, so that every path carries a gradient.
        for i in 0..<parameters.count { parameters.flatValues[i] += Float(i % 7 - 3) * 0.01 }
        adapter.attach(to: backbone, parameters: parameters)
        let replica = try #require(try objective.replica())
        adapter.attach(to: replica.backbone, parameters: parameters)
        let pieces = [0..<5, 5..<12]
        nonisolated(unsafe) let lanes: [any TrainingObjective] = [objective, replica], shared = parameters
        func run(threads: Int) -> [Float] {
            BLAS.setThreadCount(threads)
            parameters.reserveBatch(examples.count)
            concurrentItems(pieces.count, maximumWorkers: 2) { lane, item in
                shared.chunkOffset = pieces[item].lowerBound
                _ = lanes[lane].lossAndBackward(examples[pieces[item]], parameters: shared)
            }
            return Array(parameters.flatSampleGradients)
        }
        let inTurn = run(threads: 1), atOnce = run(threads: 2)
        #expect(inTurn.contains { $0 != 0 })
        let same = inTurn == atOnce
        #expect(same)
    }

    /// A replica computes what its original computes, over the same weights, and hooks set
    /// on one are not set on the other.
    @Test func aReplicaSharesWeightsButNotHooks() throws {
        let backbone = try #require(try MiniLMFixture.backbone() as? any ReplicableBackbone)
        let replica = try backbone.replica()
        let site = backbone.linearSites[0]
        #expect(replica.frozenWeight(of: site)?.baseAddress == backbone.frozenWeight(of: site)?.baseAddress)
        let batch = PaddedBatch(try MiniLMFixture.examples(3)[...])
        func run(_ model: any Backbone) -> [Float] {
            Array(model.forward(inputIDs: batch.ids, tokenTypeIDs: batch.tokenTypeIDs, attentionMask: batch.mask,
                                batch: batch.count, seqLen: batch.length))
        }
        let original = run(backbone)
        #expect(run(replica) == original)
        let parameters = TrainableParameters()
        let shift = BiasUpdate(name: "shift", width: site.outFeatures, parameters: parameters)
        var generator = SeededGenerator(seed: 1)
        parameters.seal(generator: &generator)
        parameters.values(shift.segment).update(repeating: 1, count: site.outFeatures)
        backbone.setHook(shift, for: site)
        #expect(run(replica) == original)
        #expect(run(backbone) != original)
    }
}
