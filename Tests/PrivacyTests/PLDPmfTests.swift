// SPDX-License-Identifier: Apache-2.0
import Foundation
@testable import Privacy
import Testing

@Suite struct PLDPmfTests {
    private let step = SubsampledGaussianLoss(sigma: 1, sensitivity: 1, samplingProbability: 0.1, adjacency: .remove)

    /// Pairwise FFT composition (with tail truncation) agrees with self-composition by powering.
    @Test func pairwiseCompositionMatchesSelfComposition() throws {
        let single = try PLDPmf.subsampledGaussian(step, interval: 1e-3)
        var pairwise = single
        for _ in 1..<6 { pairwise = try pairwise.composed(with: single) }
        let powered = try single.selfComposed(6)
        for delta in [1e-3, 1e-5, 1e-7] {
            let a = pairwise.epsilon(delta: delta), b = powered.epsilon(delta: delta)
            #expect(abs(a - b) < 1e-9 * b, "δ \(delta): pairwise \(a) vs powered \(b)")
        }
    }

    /// Masses sum to one with the infinity mass, and the discretization is pessimistic: its δ(ε)
    /// is never below the mechanism's exact hockey-stick divergence.
    ///
    /// The connect-the-dots masses telescope to exactly 1 − δ_last. Taken from δ alone, the add
    /// direction's low losses (δ ≈ 1 − e^ε) had a third of their masses clipped from rounding
    /// noise to 0 and the total at 1 + 2·10⁻⁸.
    @Test(arguments: [PLDAdjacency.remove, .add])
    func connectTheDotsIsANormalizedUpperBound(adjacency: PLDAdjacency) throws {
        let mechanism = SubsampledGaussianLoss(sigma: 0.8, sensitivity: 1, samplingProbability: 0.05, adjacency: adjacency)
        let pmf = try PLDPmf.subsampledGaussian(mechanism, interval: 1e-4)
        let total = pmf.probabilities.reduce(0, +) + pmf.infinityMass
        #expect(abs(total - 1) <= 1e-13, "total mass \(total)")
        #expect(pmf.probabilities.allSatisfy { $0 > 0 }, "\(pmf.probabilities.filter { $0 == 0 }.count) masses clipped to 0")
        for epsilon in stride(from: -0.04, through: 3, by: 0.13) {
            let exact = mechanism.hockeyStick(epsilon: epsilon)
            #expect(pmf.delta(epsilon: epsilon) >= exact - 1e-12, "ε \(epsilon)")
            #expect(pmf.delta(epsilon: epsilon) <= exact + 1e-6, "ε \(epsilon)")
        }
    }

    /// Below ε = 0 the excess h = δ − (1 − e^ε) is computed and δ derived; from 0 up the other
    /// way. Both must be the same divergence: δ agrees with `hockeyStick`, and h with the
    /// definition where δ keeps enough digits to check it.
    @Test(arguments: [PLDAdjacency.remove, .add])
    func excessAndDeltaAreOneDivergence(adjacency: PLDAdjacency) {
        let mechanism = SubsampledGaussianLoss(sigma: 1.1, sensitivity: 1, samplingProbability: 0.02, adjacency: adjacency)
        for epsilon in stride(from: -3.0, through: 3, by: 0.05) {
            let (delta, excess) = mechanism.hockeyStickAndExcess(epsilon: epsilon)
            let reference = mechanism.hockeyStick(epsilon: epsilon)
            #expect(abs(delta - reference) <= 1e-15, "ε \(epsilon): δ \(delta) vs \(reference)")
            #expect(excess >= 0)
            #expect(abs(excess - (reference + expm1(epsilon))) <= 1e-15, "ε \(epsilon): h \(excess)")
        }
    }

    /// Per-step mass error compounds T-fold in a self-composition: (1 + 2·10⁻⁸)^T put the add
    /// direction at 1.02 after a million steps, overstating every δ by 2%.
    @Test func aMillionStepsKeepUnitMass() throws {
        let step = try PrivacyLossDistribution.gaussian(sigma: 1, sensitivity: 1, samplingProbability: 0.01, interval: 1e-4)
        let composed = try step.selfComposed(1_000_000)
        for (direction, pmf) in [("remove", composed.remove), ("add", try #require(composed.add))] {
            let total = pmf.probabilities.reduce(0, +) + pmf.infinityMass
            #expect(abs(total - 1) <= 1e-8, "\(direction): total mass \(total)")
        }
    }

    /// A self-composition that keeps less than 1 − 10⁻⁹ of the mass is refused, not priced:
    /// lost mass only lowers δ. A PMF short by 10⁻⁴ per step loses about 10⁻³ over ten; the
    /// same PMF with its mass complete composes.
    @Test func aCompositionThatLosesMassIsRefused() throws {
        let short = PLDPmf(interval: 1e-3, lowerIndex: -2, probabilities: [0.3, 0.2999, 0.4], infinityMass: 0)
        let error = try #require(throws: PrivacyError.self) { try short.selfComposed(10) }
        #expect(error.code == .unsupportedEvent)
        #expect(error.message.contains("kept 0.99"), "\(error.message)")
        let complete = PLDPmf(interval: 1e-3, lowerIndex: -2, probabilities: [0.3, 0.3, 0.4], infinityMass: 0)
        let composed = try complete.selfComposed(10)
        #expect(abs(composed.probabilities.reduce(0, +) + composed.infinityMass - 1) < 1e-12)
    }

    /// The remove-direction loss of the subsampled Gaussian and its inverse agree, and the loss
    /// is ln(1 − q + q·e^{(−1/2 − x)/σ²}) (add: the negated mirror).
    @Test func lossAndInverse() {
        for adjacency in [PLDAdjacency.remove, .add] {
            let mechanism = SubsampledGaussianLoss(sigma: 1.3, sensitivity: 1, samplingProbability: 0.2, adjacency: adjacency)
            for x in stride(from: -5.0, through: 5, by: 0.7) {
                let loss = mechanism.loss(x)
                #expect(abs(mechanism.inverseLoss(loss) - x) < 1e-9 * max(1, abs(x)))
            }
        }
        let remove = SubsampledGaussianLoss(sigma: 2, sensitivity: 1, samplingProbability: 0.3, adjacency: .remove)
        #expect(abs(remove.loss(0.4) - log(0.7 + 0.3 * exp((-0.5 - 0.4) / 4))) < 1e-15)
    }

    @Test func normalTailsAndQuantile() {
        #expect(abs(standardNormalLogCDF(-40) - (-804.6084420137539)) < 1e-9)
        #expect(abs(standardNormalLogCDF(-5) - log(2.866515718791933e-07)) < 1e-12)
        #expect(abs(standardNormalLogCDF(3) - log1p(-0.0013498980316300933)) < 1e-15)
        let z = standardNormalQuantile(logProbability: log(0.5) - 50)
        #expect(abs(standardNormalLogCDF(z) - (log(0.5) - 50)) < 1e-12)
    }

    @Test func truncationMovesTailsPessimistically() {
        let probabilities = [1e-17, 2e-17, 0.5, 0.5 - 4e-17, 1e-17]
        let result = truncateTails(probabilities, tailMass: 1e-16)
        #expect(result.offset == 2)
        #expect(result.kept == [0.5 + 3e-17, 0.5 - 4e-17])
        #expect(result.toInfinity == 1e-17)
    }
}
