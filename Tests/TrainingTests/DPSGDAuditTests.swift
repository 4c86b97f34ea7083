// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Linalg
import Privacy
import Testing
@testable import Training

/// The one-run audit (Steinke, Nasr, Jagielski 2023) of the DP-SGD release path with
/// white-box gradient canaries: m canary gradients of norm C, each in the population with
/// probability 1/2, Poisson-sampled, clipped and noised by the trainer's own privatizer
/// under the calibrated σ, then scored by their correlation with the released gradients.
@Suite struct DPSGDAuditTests {
    static let canaries = 1_000, dimension = 4_000, epsilon = 2.0, delta = 1e-5

    /// Runs the audit and returns the empirical ε lower bound.
    func audit(noise: Bool) throws -> Double {
        let plan = try TrainingPlan(populationSize: Self.canaries, expectedBatch: 100, epochs: 10, epsilon: Self.epsilon,
                                    delta: Self.delta, accountant: .rdp)
        var publicRandomness = SeededGenerator(seed: 2023)
        // Canary directions: Gaussian, normalized to norm C = 1 (near-orthogonal in 4,000 dimensions).
        var directions = [Float](repeating: 0, count: Self.canaries * Self.dimension)
        for i in 0..<Self.canaries {
            let row = (0..<Self.dimension).map { _ in Float(publicRandomness.nextStandardNormal()) }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for d in 0..<Self.dimension { directions[i * Self.dimension + d] = row[d] / norm }
        }
        let included = (0..<Self.canaries).map { _ in Bool.random(using: &publicRandomness) }

        let parameters = TrainableParameters()
        parameters.addSegment(name: "model", shape: [Self.dimension])
        parameters.seal(generator: &publicRandomness)
        let privatizer = GradientPrivatizer(noise: .insecureReproducible(seed: 77))
        privatizer.addsNoise = noise
        var sampling = SeededGenerator(seed: 99)
        var scores = [Double](repeating: 0, count: Self.canaries)
        let allocation = NoiseAllocation.uniform(noiseMultiplier: plan.noiseMultiplier, clip: 1, segmentCount: 1)
        let sampler = PoissonSampler(population: plan.populationSize, rate: plan.samplingRate)
        for _ in 0..<plan.steps {
            // An excluded canary's slot is a member whose gradient is zero.
            let members = sampler.sample(using: &sampling)
            parameters.reserveBatch(members.count)
            for (row, member) in members.enumerated() where included[member] {
                let out = parameters.sampleGradients(0, sample: row)
                for d in 0..<Self.dimension { out[d] = directions[member * Self.dimension + d] }
            }
            let released = privatizer.privatize(parameters: parameters, unitOfRow: nil, unitCount: members.count,
                                                allocation: allocation, expectedBatchSize: 100)
            for i in 0..<Self.canaries {
                var dot: Double = 0
                for d in 0..<Self.dimension { dot += Double(released[d]) * Double(directions[i * Self.dimension + d]) }
                scores[i] += dot
            }
        }
        // Guess "in" for the 200 highest scores and "out" for the 200 lowest; abstain on the rest.
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        let guesses = 400
        let correct = order.prefix(guesses / 2).filter { included[$0] }.count
            + order.suffix(guesses / 2).filter { !included[$0] }.count
        return try OneRunAudit.epsilonLowerBound(canaries: Self.canaries, guesses: guesses, correct: correct, delta: Self.delta)
    }

    @Test func realNoiseKeepsTheBoundBelowTheClaim() throws {
        let bound = try audit(noise: true)
        #expect(bound <= Self.epsilon, "empirical lower bound \(bound) exceeds the claimed ε \(Self.epsilon)")
    }

    /// Without noise the canaries are plainly visible: the audit refutes the claim, so it can fail.
    @Test func withoutNoiseTheAuditRefutesTheClaim() throws {
        let bound = try audit(noise: false)
        #expect(bound > Self.epsilon, "empirical lower bound \(bound) should exceed the claimed ε \(Self.epsilon) without noise")
    }
}
