// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Testing

@Suite struct NoiseAllocationTests {
    /// Uniform noise under a joint clip is the textbook Gaussian mechanism: σ_eff = σ.
    @Test func uniformGivesTheNoiseMultiplier() {
        let allocation = NoiseAllocation.uniform(noiseMultiplier: 1.3, clip: 0.5, segmentCount: 4)
        #expect(abs(allocation.effectiveNoiseMultiplier - 1.3) < 1e-12)
        #expect(allocation.standardDeviations == Array(repeating: 0.65, count: 4))
    }

    /// Group-wise clips with Σ C_g² = C² and noise σ·C on every segment are exactly as
    /// private as one clip C with noise σ·C; noise scaled to each C_g instead is not.
    @Test func groupWiseWithNoiseScaledToTotalClipMatchesJoint() {
        let clips = [0.6, 0.8]   // 0.36 + 0.64 = 1 = C²
        let matched = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [2, 2])
        #expect(abs(matched.effectiveNoiseMultiplier - 2) < 1e-12)
        let scaledToGroups = NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: [1.2, 1.6])
        #expect(abs(scaledToGroups.effectiveNoiseMultiplier - 2 / 2.0.squareRoot()) < 1e-12)
    }

    /// Two segments of different noise: σ_eff = (Σ C_g²/s_g²)^(-1/2), computed by hand.
    @Test func twoSegmentsOfDifferentNoise() {
        let allocation = NoiseAllocation(clipping: .groupWise(clips: [0.6, 0.8]), standardDeviations: [0.6, 3.2])
        // C/s = 1 and 0.25: precision 1 + 0.0625, σ_eff = 1/√1.0625.
        #expect(abs(allocation.effectiveNoiseMultiplier - 1 / 1.0625.squareRoot()) < 1e-12)
        // Lowering the noise on one segment can only lower σ_eff.
        let lower = NoiseAllocation(clipping: .groupWise(clips: [0.6, 0.8]), standardDeviations: [0.6, 1.0])
        #expect(lower.effectiveNoiseMultiplier < allocation.effectiveNoiseMultiplier)
        // A record that only reaches segment 1 is protected by segment 1 alone.
        #expect(abs(allocation.effectiveNoiseMultiplier(segments: [1]) - 4) < 1e-12)
    }

    /// Under a joint clip the least noisy segment decides.
    @Test func jointClipTakesTheMinimum() {
        let allocation = NoiseAllocation(clipping: .joint(clip: 2), standardDeviations: [5, 3, 9])
        #expect(allocation.effectiveNoiseMultiplier == 1.5)
    }
}
