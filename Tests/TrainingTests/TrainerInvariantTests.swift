// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Privacy
import Synchronization
import Testing
import TestSupport
@testable import Training

/// DESIGN §4.3 invariants, each pinned on a real backbone (MiniLM) with the head trained.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct TrainerInvariantTests {
    static func plan(population: Int, batch: Int, epsilon: Double = 8, steps epochs: Int = 1) throws -> TrainingPlan {
        try TrainingPlan(populationSize: population, expectedBatch: batch, epochs: epochs, epsilon: epsilon, delta: 1e-5,
                         accountant: .rdp)
    }

    /// Every clipped per-sample norm is ≤ C under a joint clip, and ≤ C_g per segment under
    /// group-wise clipping; with a tiny C every sample is actually clipped (norm = C).
    @Test(arguments: [false, true])
    func everyClippedNormIsWithinTheBound(groupWise: Bool) throws {
        let examples = try MiniLMFixture.examples(48)
        let clip = 0.01
        let adapter = ScriptedAdapter { target in
            if groupWise {
                let share = clip / Double(target.segments.count).squareRoot()
                return NoiseAllocation(clipping: .groupWise(clips: Array(repeating: share, count: target.segments.count)),
                                       standardDeviations: Array(repeating: target.noiseMultiplier * clip, count: target.segments.count))
            }
            return .uniform(noiseMultiplier: target.noiseMultiplier, clip: target.clip, segmentCount: target.segments.count)
        }
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: adapter, labels: MiniLMFixture.labels,
                                  examples: examples, plan: Self.plan(population: 48, batch: 24),
                                  settings: TrainingSettings(learningRate: 1e-3, clip: clip, seed: 1, insecureReproducibleSeed: 5))
        _ = try trainer.dpStep()
        let norms = trainer.privatizer.clippedSegmentNorms
        #expect(!norms.isEmpty)
        for unit in norms {
            if groupWise {
                let share = clip / Double(unit.count).squareRoot()
                for norm in unit { #expect(norm <= share * (1 + 1e-6)) }
                // The head's weight gradient is far above 0.005 before clipping: it was clipped to the bound.
                #expect(abs(unit[0] - share) < share * 1e-4)
            } else {
                let total = unit.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(total <= clip * (1 + 1e-6))
                #expect(abs(total - clip) < clip * 1e-4)
            }
        }
    }

    /// The values released for a segment no gradient reaches are the noise alone, divided by
    /// the expected batch size: their standard deviation is s_g / B as allocated.
    @Test func noiseHasTheAllocatedStandardDeviation() throws {
        let examples = try MiniLMFixture.examples(16)
        let size = 200_000
        let adapter = ScriptedAdapter(extraSegmentSize: size) { target in
            NoiseAllocation(clipping: .groupWise(clips: [0.6, 0.8 / 2.0.squareRoot(), 0.8 / 2.0.squareRoot()]),
                            standardDeviations: [3.0, 50, 50])
        }
        let plan = try Self.plan(population: 16, batch: 8, epsilon: 50)
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: adapter, labels: MiniLMFixture.labels,
                                  examples: examples, plan: plan,
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 9))
        _ = try trainer.dpStep()
        let released = try #require(trainer.statistics).noisyGradient[0..<size]
        let mean = released.reduce(0.0) { $0 + Double($1) } / Double(size)
        let variance = released.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(size - 1)
        let expected = 3.0 / (plan.samplingRate * 16)
        // The sample std of 2·10^5 normals is within 0.5% of the truth with overwhelming probability.
        #expect(abs(variance.squareRoot() / expected - 1) < 0.005)
        #expect(abs(mean) < 5 * expected / Double(size).squareRoot())
    }

    /// Progress prices the steps taken as the model card prices the run, by the plan's
    /// accountant: a PLD-calibrated plan run to its end shows its target, not the looser RDP
    /// bound of the same steps (which exceeds the target and would alarm an operator). Over
    /// 48 steps it prices 16 step counts, 3, 6, …, 48: after step t it shows the ε of the next
    /// of them, never less than the ε of t steps.
    @Test func progressEpsilonIsPricedByThePlansAccountant() throws {
        let examples = try MiniLMFixture.examples(48)
        let plan = try TrainingPlan(populationSize: 48, expectedBatch: 1, epochs: 1, epsilon: 8, delta: 1e-5, accountant: .prv)
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: ScriptedAdapter(), labels: MiniLMFixture.labels,
                                  examples: examples, plan: plan,
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 5))
        var reported: [Double] = []
        try trainer.run { reported.append($0.epsilonSpent); return true }
        #expect(reported.count == plan.steps && plan.steps == 48)
        let step = DpEvent.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: plan.noiseMultiplier))
        let exact = try (1...48).map { try plan.epsilon(of: step.repeated($0)).epsilon }
        for t in 1...48 {
            let priced = (t + 2) / 3 * 3
            #expect(abs(reported[t - 1] - exact[priced - 1]) < 1e-12, "step \(t)")
            #expect(reported[t - 1] >= exact[t - 1])
        }
        #expect(Set(reported).count == 16)
        let final = try #require(reported.last)
        #expect(abs(final - 8) < 1e-3, "PLD ε after every planned step: \(final)")
        var rdp = RDPAccountant()
        try rdp.compose(trainer.spentEvent)
        #expect(try rdp.epsilon(delta: 1e-5) > 8.05)
    }

    @Test func progressIsPricedAtMostTwentyTimesAndExactFromThePlansEnd() {
        #expect((1...250).map { Trainer.progressPriceSteps(taken: $0, planned: 250) }.allSatisfy { $0 % 13 == 0 || $0 == 250 })
        #expect(Set((1...250).map { Trainer.progressPriceSteps(taken: $0, planned: 250) }).count == 20)
        #expect(Trainer.progressPriceSteps(taken: 1, planned: 250) == 13)
        #expect(Trainer.progressPriceSteps(taken: 13, planned: 250) == 13)
        #expect(Trainer.progressPriceSteps(taken: 14, planned: 250) == 26)
        #expect(Trainer.progressPriceSteps(taken: 248, planned: 250) == 250)
        #expect(Trainer.progressPriceSteps(taken: 251, planned: 250) == 251)
        #expect((1...8).map { Trainer.progressPriceSteps(taken: $0, planned: 8) } == Array(1...8))
    }

    /// An allocation whose σ_eff changes every step: progress prices all steps at the
    /// smallest σ_eff (one event, an upper bound), the card's event keeps every step's own.
    @Test func progressEpsilonBoundsAnAdaptiveRunByItsSmallestNoise() throws {
        let examples = try MiniLMFixture.examples(16)
        let plan = try Self.plan(population: 16, batch: 8, steps: 2)
        let scales = [1.3, 1.1, 1.25, 1.5]
        let calls = Mutex(0)
        let adapter = ScriptedAdapter { target in
            let scale = calls.withLock { count in
                defer { count += 1 }
                return scales[count % scales.count]
            }
            return .uniform(noiseMultiplier: target.noiseMultiplier * scale, clip: target.clip, segmentCount: target.segments.count)
        }
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: adapter, labels: MiniLMFixture.labels,
                                  examples: examples, plan: plan,
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 3))
        for _ in scales { _ = try trainer.dpStep() }
        #expect(trainer.noiseHistory.map(\.steps) == [1, 1, 1, 1])
        let smallest = plan.noiseMultiplier * 1.1
        #expect(abs((trainer.noiseHistory.map(\.noiseMultiplier).min() ?? 0) / smallest - 1) < 1e-12)
        var bound = RDPAccountant()
        try bound.compose(.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: smallest)), count: 4)
        let exact = try plan.epsilon(of: trainer.spentEvent).epsilon
        #expect(abs(trainer.epsilonSpent / (try bound.epsilon(delta: plan.delta)) - 1) < 1e-9)
        #expect(trainer.epsilonSpent > exact, "progress \(trainer.epsilonSpent) vs exact \(exact)")
    }

    /// With two segments of different noise under group-wise clipping the accountant is
    /// handed σ_eff = (Σ C_g²/s_g²)^(-1/2), not either segment's own multiplier.
    @Test func accountantReceivesEffectiveNoiseMultiplier() throws {
        let examples = try MiniLMFixture.examples(16)
        let plan = try Self.plan(population: 16, batch: 8, epsilon: 4)
        let sigma = plan.noiseMultiplier
        // Head weight: C₁ = 0.6, s₁ = 0.6σ·1.5; head bias: C₂ = 0.8, s₂ chosen so σ_eff = 1.2σ exactly.
        let c1 = 0.6, c2 = 0.8, s1 = 0.6 * sigma * 1.5
        let targetEff = 1.2 * sigma
        let s2 = c2 / (1 / (targetEff * targetEff) - c1 * c1 / (s1 * s1)).squareRoot()
        let adapter = ScriptedAdapter { _ in
            NoiseAllocation(clipping: .groupWise(clips: [c1, c2]), standardDeviations: [s1, s2])
        }
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: adapter, labels: MiniLMFixture.labels,
                                  examples: examples, plan: plan,
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 3))
        _ = try trainer.dpStep()
        _ = try trainer.dpStep()
        #expect(trainer.noiseHistory.count == 1)
        let handed = try #require(trainer.noiseHistory.first)
        #expect(handed.steps == 2)
        #expect(abs(handed.noiseMultiplier / targetEff - 1) < 1e-12)
        var reference = RDPAccountant()
        try reference.compose(.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: targetEff)), count: 2)
        #expect(abs(trainer.epsilonSpent - (try reference.epsilon(delta: plan.delta))) < 1e-12)
    }

    /// An allocation that would lower σ_eff below the plan is refused before anything is released.
    @Test func refusesAnAllocationBelowThePlan() throws {
        let examples = try MiniLMFixture.examples(8)
        let adapter = ScriptedAdapter { target in
            .uniform(noiseMultiplier: target.noiseMultiplier * 0.99, clip: target.clip, segmentCount: target.segments.count)
        }
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: adapter, labels: MiniLMFixture.labels,
                                  examples: examples, plan: Self.plan(population: 8, batch: 4),
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 3))
        let before = Array(trainer.parameters.flatValues)
        let error = try #require(throws: TrainingError.self) { try trainer.dpStep() }
        #expect(error.code == .allocationRefused)
        #expect(Array(trainer.parameters.flatValues) == before)
        #expect(trainer.noiseHistory.isEmpty)
    }

    /// Per-task σ_eff: noise may be lowered on one task's segments only if that task's
    /// records still see σ_eff ≥ σ.
    @Test func checksEachTasksEffectiveNoise() throws {
        let segments = [ParameterSegment(name: "shared", offset: 0, shape: [4]),
                        ParameterSegment(name: "head.a.weight", offset: 4, shape: [2], task: "a"),
                        ParameterSegment(name: "head.b.weight", offset: 6, shape: [2], task: "b")]
        let target = NoiseTarget(noiseMultiplier: 1, clip: 1, segments: segments)
        let clips = [0.5, 0.5, 0.5]
        // A task-a record reaches shared + a: Σ C²/s² = 0.5/0.82² ≈ 0.74 ≤ 1, though over all three
        // segments it would be 1.12 > 1: no record reaches all three, so that sum prices nothing.
        let fine = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [0.82, 0.82, 0.82])
        let priced = try Trainer.verify(fine, against: target)
        #expect(abs(priced - 0.82 / 0.5.squareRoot()) < 1e-12)
        let tooLow = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [0.82, 0.5, 5])
        let error = try #require(throws: TrainingError.self) { try Trainer.verify(tooLow, against: target) }
        #expect(error.message.contains("task a"))
        // The accountant is handed the worst task's σ_eff.
        let uneven = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [0.82, 0.9, 2])
        let worst = 1 / (0.25 / (0.82 * 0.82) + 0.25 / (0.9 * 0.9)).squareRoot()
        #expect(abs(try Trainer.verify(uneven, against: target) - worst) < 1e-12)
    }

    /// A joint clip above the job's C is refused even with noise enough for σ: the card
    /// states C as the bound on every clipped per-sample norm.
    @Test func aJointClipAboveTheJobsClipIsRefused() throws {
        let target = NoiseTarget(noiseMultiplier: 1, clip: 1, segments: [ParameterSegment(name: "w", offset: 0, shape: [4])])
        #expect(try Trainer.verify(NoiseAllocation(clipping: .joint(clip: 1), standardDeviations: [1]), against: target) == 1)
        let wider = NoiseAllocation(clipping: .joint(clip: 2), standardDeviations: [4])
        let error = try #require(throws: TrainingError.self) { try Trainer.verify(wider, against: target) }
        #expect(error.code == .allocationRefused && error.message.contains("joint clip 2.0"))
    }

    /// Under unit-level privacy a unit may hold records of every task, so σ_eff is priced
    /// over every segment: the allocation each task's records accept above is refused.
    @Test func unitLevelPrivacyPricesEveryTaskTogether() throws {
        let segments = [ParameterSegment(name: "shared", offset: 0, shape: [4]),
                        ParameterSegment(name: "head.a.weight", offset: 4, shape: [2], task: "a"),
                        ParameterSegment(name: "head.b.weight", offset: 6, shape: [2], task: "b")]
        let perRecord = NoiseTarget(noiseMultiplier: 1, clip: 1, segments: segments)
        let perUnit = NoiseTarget(noiseMultiplier: 1, clip: 1, segments: segments, unitsSpanRecords: true)
        #expect(perRecord.reaches.map(\.segments) == [[0, 1], [0, 2]])
        #expect(perUnit.reaches.map(\.segments) == [[0, 1, 2]] && perUnit.reaches[0].task == nil)
        let clips = [0.5, 0.5, 0.5]
        let allocation = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [0.82, 0.82, 0.82])
        #expect(try Trainer.verify(allocation, against: perRecord) > 1)
        let error = try #require(throws: TrainingError.self) { try Trainer.verify(allocation, against: perUnit) }
        #expect(error.code == .allocationRefused && error.message.contains("every unit"))
        let enough = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [0.9, 0.9, 0.9])
        #expect(abs(try Trainer.verify(enough, against: perUnit) - 0.9 / 0.75.squareRoot()) < 1e-12)
    }

    /// Records of one unit are summed before clipping: the unit, not each record, has norm ≤ C.
    @Test func unitsAreClippedAsAWhole() throws {
        let examples = try MiniLMFixture.examples(24, recordsPerUnit: 3)
        let clip = 0.01
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: ScriptedAdapter(), labels: MiniLMFixture.labels,
                                  examples: examples, plan: Self.plan(population: 8, batch: 8),
                                  settings: TrainingSettings(learningRate: 1e-3, clip: clip, seed: 1, insecureReproducibleSeed: 2))
        _ = try trainer.dpStep()
        // q = 1: all 8 units, 24 records, give 8 clipped rows.
        #expect(trainer.privatizer.clippedSegmentNorms.count == 8)
        for unit in trainer.privatizer.clippedSegmentNorms {
            #expect(unit.reduce(0) { $0 + $1 * $1 }.squareRoot() <= clip * (1 + 1e-6))
        }
    }

    /// A step whose Poisson batch is empty releases pure noise and still counts.
    @Test func emptyBatchesWork() throws {
        let examples = try MiniLMFixture.examples(200)
        // q = 1/200: most batches are empty.
        let trainer = try Trainer(backbone: MiniLMFixture.backbone(), adapter: ScriptedAdapter(), labels: MiniLMFixture.labels,
                                  examples: examples, plan: Self.plan(population: 200, batch: 1, epsilon: 8),
                                  settings: TrainingSettings(learningRate: 1e-3, clip: 1, seed: 1, insecureReproducibleSeed: 11))
        var sawEmpty = false
        for _ in 0..<20 {
            _ = try trainer.dpStep()
            if trainer.privatizer.clippedSegmentNorms.isEmpty { sawEmpty = true }
        }
        #expect(sawEmpty)
        #expect(trainer.step == 20)
        #expect(trainer.noiseHistory.first?.steps == 20)
    }
}
