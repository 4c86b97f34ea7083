// SPDX-License-Identifier: Apache-2.0
@_spi(Trainer) import AdapterKit
import Foundation
import Linalg
import Testing

@Suite struct GroupWiseAllocationTests {
    /// Segments of varied sizes: two shared, two per task, like an adapter plus two heads.
    static let segments: [ParameterSegment] = [
        ParameterSegment(name: "a", offset: 0, shape: [8, 4]),
        ParameterSegment(name: "b", offset: 32, shape: [6]),
        ParameterSegment(name: "head.x.weight", offset: 38, shape: [2, 5], task: "x"),
        ParameterSegment(name: "head.y.weight", offset: 48, shape: [3, 5], task: "y"),
        ParameterSegment(name: "head.y.bias", offset: 63, shape: [3], task: "y"),
    ]

    private func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

    private func clipSquares(_ allocation: NoiseAllocation) -> Double {
        Self.segments.indices.reduce(0.0) { $0 + allocation.clip(segment: $1) * allocation.clip(segment: $1) }
    }

    @Test func dimensionProportionalClipsSpendTheWholeBudget() {
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: 0.7, segments: Self.segments)
        #expect(relative(clips.reduce(0) { $0 + $1 * $1 }, 0.49) < 1e-12)
        // C_g² ∝ d_g: segment a (32 coordinates) against b (6).
        #expect(relative(clips[0] * clips[0] / (clips[1] * clips[1]), 32.0 / 6.0) < 1e-12)
    }

    /// Step 1 has no statistics: the same noise everywhere, the least that gives the least
    /// private reach σ exactly. Here a y record reaches a, b and y's head (56 of 66
    /// coordinates), an x record 48: s = σ·C·√(56/66); a unit reaching everything needs σ·C.
    @Test func uniformIsTight() {
        let target = NoiseTarget(noiseMultiplier: 1.1, clip: 0.5, segments: Self.segments)
        let allocation = GroupWiseAllocation.uniform(target: target)
        #expect(allocation.standardDeviations.allSatisfy { relative($0, 0.55 * (56.0 / 66).squareRoot()) < 1e-15 })
        #expect(relative(clipSquares(allocation), 0.25) < 1e-12)
        #expect(target.reaches.map(\.task) == ["x", "y"])
        let perReach = target.effectiveNoiseMultipliers(of: allocation)
        #expect(relative(perReach[1], 1.1) < 1e-12)
        #expect(relative(perReach[0], 1.1 * (56.0 / 48).squareRoot()) < 1e-12)
        let unit = NoiseTarget(noiseMultiplier: 1.1, clip: 0.5, segments: Self.segments, unitsSpanRecords: true)
        #expect(GroupWiseAllocation.uniform(target: unit).standardDeviations.allSatisfy { relative($0, 0.55) < 1e-15 })
    }

    /// The σ_eff of the least private reach, the one the trainer charges.
    private func charged(_ allocation: NoiseAllocation, _ target: NoiseTarget) -> Double {
        target.effectiveNoiseMultipliers(of: allocation).min() ?? .infinity
    }

    /// Any positive shape, however skewed, keeps its ratios and is scaled so that the least
    /// private reach has σ_eff = σ, every other reach at least σ; with one reach over every
    /// segment that is σ_eff over all of them.
    @Test(arguments: [false, true])
    func normalizedMeetsTheTargetExactlyAndKeepsTheShape(unitsSpanRecords: Bool) {
        var generator = SeededGenerator(seed: 11)
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: 1.3, segments: Self.segments)
        for _ in 0..<200 {
            let sigma = 0.3 + 3 * generator.nextOpenUnitDouble()
            let shape = Self.segments.map { _ in exp(8 * generator.nextOpenUnitDouble() - 4) }
            let target = NoiseTarget(noiseMultiplier: sigma, clip: 1.3, segments: Self.segments, unitsSpanRecords: unitsSpanRecords)
            let allocation = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target)
            #expect(relative(charged(allocation, target), sigma) < 1e-12)
            for (reach, reachSigma) in zip(target.reaches, target.effectiveNoiseMultipliers(of: allocation)) {
                #expect(reachSigma >= sigma * (1 - 1e-12), "task \(reach.task ?? "-")")
            }
            if unitsSpanRecords { #expect(relative(allocation.effectiveNoiseMultiplier, sigma) < 1e-12) }
            let s = allocation.standardDeviations
            #expect(relative(s[0] * s[0] / (s[3] * s[3]), shape[0] / shape[3]) < 1e-12)
        }
    }

    /// Under a change limit every s_g stays within a factor m of the previous step, and the
    /// charged σ_eff still equals σ whenever the previous allocation was tight.
    @Test func changeLimitHoldsAndStaysTight() {
        var generator = SeededGenerator(seed: 12)
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: 0.9, segments: Self.segments)
        var limitedCount = 0
        for _ in 0..<300 {
            let sigma = 0.5 + 2 * generator.nextOpenUnitDouble()
            let target = NoiseTarget(noiseMultiplier: sigma, clip: 0.9, segments: Self.segments)
            let maxChange = 1 + generator.nextOpenUnitDouble()
            let previousShape = Self.segments.map { _ in exp(4 * generator.nextOpenUnitDouble() - 2) }
            let previous = GroupWiseAllocation.normalized(clips: clips, varianceShape: previousShape, target: target)
            let shape = Self.segments.map { _ in exp(10 * generator.nextOpenUnitDouble() - 5) }
            let allocation = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target,
                                                            previous: previous.standardDeviations, maxChange: maxChange)
            #expect(relative(charged(allocation, target), sigma) < 1e-9)
            for (now, before) in zip(allocation.standardDeviations, previous.standardDeviations) {
                #expect(now <= before * maxChange * (1 + 1e-9) && now >= before / maxChange * (1 - 1e-9))
            }
            let free = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target)
            if zip(free.standardDeviations, allocation.standardDeviations).contains(where: { relative($0, $1) > 1e-6 }) {
                limitedCount += 1
            }
        }
        #expect(limitedCount > 100, "the limit should bind for most random shapes")
    }

    /// A shape already within the limit is returned as it is.
    @Test func changeLimitLeavesSmallChangesAlone() {
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: 1, segments: Self.segments)
        let target = NoiseTarget(noiseMultiplier: 2, clip: 1, segments: Self.segments)
        let previous = GroupWiseAllocation.normalized(clips: clips, varianceShape: [1, 1, 1, 1, 1], target: target)
        let shape = [1, 1.2, 0.9, 1.1, 1]
        let limited = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target,
                                                     previous: previous.standardDeviations, maxChange: 1.5)
        let free = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target)
        for (a, b) in zip(limited.standardDeviations, free.standardDeviations) { #expect(relative(a, b) < 1e-9) }
    }

    /// Privacy wins over the limit: from a previous step far less noisy than σ asks, the
    /// limit cannot reach σ and is dropped; from a far noisier one, the least noise it allows
    /// is used and every reach stays above σ.
    @Test func changeLimitNeverLowersPrivacy() {
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: 1, segments: Self.segments)
        let target = NoiseTarget(noiseMultiplier: 2, clip: 1, segments: Self.segments)
        let shape = [1.0, 2, 3, 4, 5]
        let fromQuiet = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target,
                                                       previous: Array(repeating: 0.1, count: 5), maxChange: 1.5)
        #expect(relative(charged(fromQuiet, target), 2) < 1e-12)
        let fromNoisy = GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target,
                                                       previous: Array(repeating: 30, count: 5), maxChange: 1.5)
        #expect(fromNoisy.standardDeviations.allSatisfy { relative($0, 20) < 1e-12 })
        #expect(charged(fromNoisy, target) > 2)
    }

    /// The signal estimate subtracts exactly the expected noise energy d_g·s_g²/B².
    @Test func signalEnergiesSubtractTheKnownNoise() throws {
        let deviations = [2.0, 1, 4, 0.5, 3]
        let statistics = PrivatizedStatistics(
            step: 3, noisyGradient: [], segmentSquaredNorms: [10, 1, 7, 0.01, 2],
            allocation: NoiseAllocation(clipping: .groupWise(clips: [1, 1, 1, 1, 1]), standardDeviations: deviations),
            expectedBatchSize: 10)
        let energies = try #require(GroupWiseAllocation.signalEnergies(statistics, segments: Self.segments))
        for g in Self.segments.indices {
            let noise = Double(Self.segments[g].count) * deviations[g] * deviations[g] / 100
            #expect(relative(energies[g], statistics.segmentSquaredNorms[g] - noise) < 1e-12)
        }
        #expect(GroupWiseAllocation.signalEnergies(statistics, segments: Array(Self.segments.prefix(3))) == nil)
    }

    /// σ_eff per reach by hand: a task's records reach the shared segments and its own; a
    /// unit (unit-level privacy) reaches every segment.
    @Test func reachNoiseMultipliersByHand() {
        let allocation = NoiseAllocation(clipping: .groupWise(clips: [0.6, 0.3, 0.5, 0.8, 0.2]),
                                         standardDeviations: [1.2, 1, 1, 0.4, 1])
        let perTask = NoiseTarget(noiseMultiplier: 1, clip: 1.2, segments: Self.segments).effectiveNoiseMultipliers(of: allocation)
        // Shared a, b: (0.6/1.2)² + 0.3² = 0.34; x adds 0.5², y adds (0.8/0.4)² + 0.2².
        #expect(perTask.count == 2)
        #expect(relative(perTask[0], 1 / 0.59.squareRoot()) < 1e-12)
        #expect(relative(perTask[1], 1 / 4.38.squareRoot()) < 1e-12)
        let perUnit = NoiseTarget(noiseMultiplier: 1, clip: 1.2, segments: Self.segments, unitsSpanRecords: true)
        #expect(perUnit.effectiveNoiseMultipliers(of: allocation).map { relative($0, 1 / 4.63.squareRoot()) < 1e-12 } == [true])
    }
}
