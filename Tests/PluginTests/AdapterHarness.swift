// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden width, P = trainable parameters.
@_spi(Trainer) import AdapterKit
import Foundation
import Linalg
import Testing
import TestSupport
import Transformer

/// One adapter of a bundled plugin, loaded through the real loader, with its parameters
/// declared and sealed beside a classification head per task, as the trainer holds them.
final class AdapterHarness {
    let adapter: any Adapter
    let parameters = TrainableParameters()
    let backbone: any Backbone

    /// Loads `lib<product>.so` through ``PluginLoader``.
    static func loadStrategy(_ product: String) throws -> any AdapterStrategy {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        return try PluginLoader(stagingDirectory: staging).load(BuildProducts.library(product)).strategy
    }

    /// The configuration a job with `tasks` (three labels each) and `optionsJSON` gives a strategy.
    static func configuration(_ strategy: any AdapterStrategy, optionsJSON: String, tasks: [String] = ["x", "y"],
                              seed: UInt64 = 7) throws -> AdapterConfiguration {
        AdapterConfiguration(
            options: try StrategyOptions(json: optionsJSON, schema: strategy.options), objective: .classify,
            tasks: tasks, labels: Dictionary(uniqueKeysWithValues: tasks.map { ($0, ["a", "b", "c"]) }),
            seed: seed, clip: 1, epsilon: 1, delta: 1e-5)
    }

    /// Makes the adapter, declares its segments and a head per task (`head.<task>.weight`,
    /// `head.<task>.bias`), seals them from `seed`, then gives every adapter parameter a
    /// random value (B starts at zero, which would hide half of the backward pass).
    init(strategy: any AdapterStrategy, backbone: any Backbone, optionsJSON: String = "",
         tasks: [String] = ["x", "y"], seed: UInt64 = 7) throws {
        self.backbone = backbone
        adapter = try strategy.makeAdapter(
            backbone: backbone, configuration: Self.configuration(strategy, optionsJSON: optionsJSON, tasks: tasks, seed: seed))
        adapter.declareParameters(in: parameters)
        let adapterCount = parameters.count
        for task in tasks {
            parameters.addSegment(name: "head.\(task).weight", shape: [3, backbone.hiddenSize], task: task,
                                  initialization: .normal(standardDeviation: 0.02))
            parameters.addSegment(name: "head.\(task).bias", shape: [3], task: task)
        }
        var generator = SeededGenerator(seed: seed)
        parameters.seal(generator: &generator)
        for i in 0..<adapterCount { parameters.flatValues[i] = Float(0.1 * generator.nextStandardNormal()) }
    }

    func target(noiseMultiplier: Double, clip: Double, unitsSpanRecords: Bool = false) -> NoiseTarget {
        NoiseTarget(noiseMultiplier: noiseMultiplier, clip: clip, segments: parameters.segments, unitsSpanRecords: unitsSpanRecords)
    }

    /// What the trainer would release after privatizing with `allocation`: per segment, a
    /// signal of squared norm `signalEnergies[g]` (spread evenly over its coordinates, random
    /// signs) plus N(0, (s_g/B)²) per coordinate, and the resulting squared norms.
    static func statistics(step: Int, allocation: NoiseAllocation, segments: [ParameterSegment],
                           signalEnergies: [Double], expectedBatchSize: Double,
                           generator: inout SeededGenerator) -> PrivatizedStatistics {
        var gradient: [Float] = []
        var squaredNorms: [Double] = []
        for (g, segment) in segments.enumerated() {
            let amplitude = (signalEnergies[g] / Double(segment.count)).squareRoot()
            let noise = allocation.standardDeviations[g] / expectedBatchSize
            var squaredNorm = 0.0
            for _ in 0..<segment.count {
                let sign: Double = generator.next() & 1 == 0 ? 1 : -1
                let value = sign * amplitude + noise * generator.nextStandardNormal()
                gradient.append(Float(value))
                squaredNorm += value * value
            }
            squaredNorms.append(squaredNorm)
        }
        return PrivatizedStatistics(step: step, noisyGradient: gradient, segmentSquaredNorms: squaredNorms,
                                    allocation: allocation, expectedBatchSize: expectedBatchSize)
    }

    /// The σ and C of ``allocations(steps:seed:signal:)``.
    static let runNoiseMultiplier = 0.9, runClip = 1.5

    /// The allocations of `steps` steps, each after the statistics the previous one would
    /// have released with signal energy `signal(step, g)` in segment g (batch 16).
    func allocations(steps: Int, seed: UInt64, signal: (Int, Int) -> Double) -> [NoiseAllocation] {
        var generator = SeededGenerator(seed: seed)
        let target = target(noiseMultiplier: Self.runNoiseMultiplier, clip: Self.runClip)
        var allocations = [adapter.noiseAllocation(target: target, previous: nil)]
        for step in 1..<steps {
            let energies = target.segments.indices.map { signal(step, $0) }
            let statistics = Self.statistics(step: step, allocation: allocations[step - 1], segments: target.segments,
                                             signalEnergies: energies, expectedBatchSize: 16, generator: &generator)
            allocations.append(adapter.noiseAllocation(target: target, previous: statistics))
        }
        return allocations
    }

    /// The privacy checks the trainer makes, tightened to equality where the plugin promises
    /// it: group-wise clips with Σ C_g² = C², every reach's σ_eff at least σ, and the least
    /// private reach's (the one the job is charged) exactly σ.
    static func expectTight(_ allocation: NoiseAllocation, _ target: NoiseTarget,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .groupWise(let clips) = allocation.clipping else {
            Issue.record("expected group-wise clipping", sourceLocation: sourceLocation)
            return
        }
        let squares = clips.reduce(0) { $0 + $1 * $1 }, sigma = target.noiseMultiplier
        #expect(abs(squares - target.clip * target.clip) <= 1e-12 * target.clip * target.clip, sourceLocation: sourceLocation)
        let perReach = target.effectiveNoiseMultipliers(of: allocation)
        #expect(!perReach.isEmpty, sourceLocation: sourceLocation)
        for (reach, reachSigma) in zip(target.reaches, perReach) {
            #expect(reachSigma >= sigma * (1 - 1e-9), "task \(reach.task ?? "-")", sourceLocation: sourceLocation)
        }
        let exact = perReach.min() ?? .infinity
        #expect(abs(exact - sigma) <= 1e-9 * sigma, "σ_eff \(exact) for planned \(sigma)", sourceLocation: sourceLocation)
    }

    /// A padded batch: `lengths[s]` real tokens out of `seqLen`, ids drawn below `vocabulary`.
    struct Batch {
        let ids: [Int32]        // (B, T)
        let mask: [Int32]       // (B, T)
        let direction: [Float]  // (B, T, C): the loss is Σ_{s,t real} ⟨h_st, direction_st⟩
        let size: Int
        let seqLen: Int

        init(lengths: [Int], seqLen: Int, vocabulary: Int, hidden: Int, seed: UInt64) {
            var generator = SeededGenerator(seed: seed)
            size = lengths.count
            self.seqLen = seqLen
            mask = lengths.flatMap { length in (0..<seqLen).map { $0 < length ? 1 : 0 } }
            ids = mask.map { $0 == 1 ? Int32(1 + generator.next() % UInt64(vocabulary - 1)) : 0 }
            direction = (0..<(lengths.count * seqLen * hidden)).map { _ in Float(generator.nextStandardNormal()) }
        }

        /// Sample `s` alone.
        func sample(_ s: Int, hidden: Int) -> Batch {
            Batch(ids: Array(ids[(s * seqLen)..<((s + 1) * seqLen)]), mask: Array(mask[(s * seqLen)..<((s + 1) * seqLen)]),
                  direction: Array(direction[(s * seqLen * hidden)..<((s + 1) * seqLen * hidden)]), size: 1, seqLen: seqLen)
        }

        private init(ids: [Int32], mask: [Int32], direction: [Float], size: Int, seqLen: Int) {
            self.ids = ids
            self.mask = mask
            self.direction = direction
            self.size = size
            self.seqLen = seqLen
        }
    }

    /// The loss of `batch` with the hooks attached (the hidden state is read at real tokens only).
    func loss(_ batch: Batch) -> Double {
        let hidden = backbone.hiddenSize
        let output = backbone.forward(inputIDs: batch.ids, tokenTypeIDs: nil, attentionMask: batch.mask,
                                      batch: batch.size, seqLen: batch.seqLen)
        return (0..<(batch.size * batch.seqLen * hidden)).reduce(0.0) { sum, i in
            sum + Double(batch.mask[i / hidden]) * Double(output[i]) * Double(batch.direction[i])
        }
    }

    /// Forward and backward of ``loss(_:)``; returns each sample's gradient row `(B, P)`.
    func sampleGradients(_ batch: Batch) -> [[Float]] {
        parameters.reserveBatch(batch.size)
        _ = loss(batch)
        backbone.backward(lastHiddenGradient: batch.direction)
        let rows = parameters.flatSampleGradients
        return (0..<batch.size).map { s in Array(rows[(s * parameters.count)..<((s + 1) * parameters.count)]) }
    }

    /// Checks each sample's gradient row against the gradient of that sample alone, and the
    /// rows' sum against central finite differences of the loss along a random direction.
    func checkSampleGradients(_ batch: Batch, tolerance: Float, finiteDifferences: Bool = true,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let hidden = backbone.hiddenSize
        let rows = sampleGradients(batch)
        let largest = rows.joined().reduce(Float(0)) { max($0, abs($1)) }
        #expect(largest > 0, "the adapter produced no gradient", sourceLocation: sourceLocation)
        for s in 0..<batch.size {
            let alone = sampleGradients(batch.sample(s, hidden: hidden))[0]
            let difference = zip(rows[s], alone).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            #expect(difference <= tolerance * largest, "sample \(s): max difference \(difference)", sourceLocation: sourceLocation)
        }
        guard finiteDifferences else { return }
        var generator = SeededGenerator(seed: 77)
        let direction = (0..<parameters.count).map { _ in Float(generator.nextStandardNormal()) }
        let analytic = (0..<parameters.count).reduce(0.0) { sum, i in
            sum + Double(direction[i]) * rows.reduce(0.0) { $0 + Double($1[i]) }
        }
        let saved = Array(parameters.flatValues), step: Float = 1e-3
        func shifted(by sign: Float) -> Double {
            for i in 0..<parameters.count { parameters.flatValues[i] = saved[i] + sign * step * direction[i] }
            return loss(batch)
        }
        let numeric = (shifted(by: 1) - shifted(by: -1)) / (2 * Double(step))
        for i in 0..<parameters.count { parameters.flatValues[i] = saved[i] }
        #expect(abs(analytic - numeric) <= 5e-3 * max(1, abs(analytic)),
                "directional derivative \(analytic) against finite differences \(numeric)", sourceLocation: sourceLocation)
    }
}
