// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing
import Training

@Suite struct PoissonSamplerTests {
    /// Batch sizes must be Binomial(N, q): mean Nq and variance Nq(1−q).
    @Test func batchSizesHaveBinomialMeanAndVariance() {
        let sampler = PoissonSampler(population: 2_000, expectedBatchSize: 64)
        var generator = SeededGenerator(seed: 1)
        let trials = 4_000
        var sizes: [Double] = []
        for _ in 0..<trials { sizes.append(Double(sampler.sample(using: &generator).count)) }
        let mean = sizes.reduce(0, +) / Double(trials)
        let variance = sizes.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(trials - 1)
        let q = sampler.rate
        let expectedMean = 2_000 * q, expectedVariance = 2_000 * q * (1 - q)
        // The sample mean's standard error is √(var/trials) ≈ 0.09; 5 of them is a 1-in-10⁶ false alarm.
        #expect(abs(mean - expectedMean) < 5 * (expectedVariance / Double(trials)).squareRoot())
        // The sample variance of a near-normal variable has relative s.e. √(2/(trials−1)) ≈ 2.2%.
        #expect(abs(variance / expectedVariance - 1) < 5 * (2.0 / Double(trials - 1)).squareRoot())
    }

    /// Each member's inclusion frequency is q, and the first and last members are not special.
    @Test func everyMemberIsIncludedAtRateQ() {
        let sampler = PoissonSampler(population: 50, expectedBatchSize: 10)
        var generator = SeededGenerator(seed: 2)
        var hits = [Int](repeating: 0, count: 50)
        let trials = 20_000
        for _ in 0..<trials {
            let batch = sampler.sample(using: &generator)
            #expect(batch == batch.sorted() && Set(batch).count == batch.count)
            for i in batch { hits[i] += 1 }
        }
        let sd = (Double(trials) * 0.2 * 0.8).squareRoot()
        for count in hits { #expect(abs(Double(count) - Double(trials) * 0.2) < 5 * sd) }
    }

    @Test func emptyBatchesOccurAndAreValid() {
        let sampler = PoissonSampler(population: 1_000, expectedBatchSize: 1)
        var generator = SeededGenerator(seed: 3)
        let empties = (0..<2_000).filter { _ in sampler.sample(using: &generator).isEmpty }.count
        // P(empty) = (1 − 0.001)^1000 ≈ e⁻¹ ≈ 0.368.
        #expect(abs(Double(empties) / 2_000 - exp(-1)) < 0.05)
    }

    @Test func rateOneTakesEveryone() {
        let sampler = PoissonSampler(population: 5, expectedBatchSize: 9)
        var generator = SeededGenerator(seed: 4)
        #expect(sampler.rate == 1)
        #expect(sampler.sample(using: &generator) == [0, 1, 2, 3, 4])
    }
}
