// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The privacy loss distributions of a mechanism in both directions of its neighbouring
/// relation; its (ε, δ) is the worse of the two.
///
/// Under add-or-remove adjacency with Poisson sampling, removing a record and adding one give
/// different PLDs (dp_accounting `PrivacyLossDistribution`); without sampling, or under
/// replace-one adjacency, the two coincide and `add` is nil.
struct PrivacyLossDistribution: Sendable {
    let remove: PLDPmf
    let add: PLDPmf?

    /// The Gaussian mechanism with noise σ and L2 sensitivity `sensitivity`, Poisson-sampled
    /// with probability q ∈ (0, 1].
    static func gaussian(sigma: Double, sensitivity: Double, samplingProbability q: Double,
                         interval: Double, limit: Int = PLDPmf.maximumLength) throws -> PrivacyLossDistribution {
        func direction(_ adjacency: PLDAdjacency) throws -> PLDPmf {
            try .subsampledGaussian(SubsampledGaussianLoss(sigma: sigma, sensitivity: sensitivity,
                                                       samplingProbability: q, adjacency: adjacency),
                                interval: interval, limit: limit)
        }
        return PrivacyLossDistribution(remove: try direction(.remove), add: q == 1 ? nil : try direction(.add))
    }

    /// k-ary randomized response at ε under replace-one adjacency of the value: the reported
    /// value is the true one (loss ε), the neighbour's (loss −ε) or another (loss 0), with
    /// probabilities e^ε/Z, 1/Z and (k−2)/Z, Z = e^ε + k − 1.
    static func randomizedResponse(k: Int, epsilon: Double, interval: Double) -> PrivacyLossDistribution {
        let z = exp(epsilon) + Double(k - 1)
        let pmf = PLDPmf.rounded(losses: [(epsilon, exp(epsilon) / z), (-epsilon, 1 / z), (0, Double(k - 2) / z)],
                                 interval: interval)
        return PrivacyLossDistribution(remove: pmf, add: nil)
    }

    func composed(with other: PrivacyLossDistribution, limit: Int = PLDPmf.maximumLength) throws -> PrivacyLossDistribution {
        let remove = try self.remove.composed(with: other.remove, limit: limit)
        if add == nil && other.add == nil { return PrivacyLossDistribution(remove: remove, add: nil) }
        return PrivacyLossDistribution(
            remove: remove, add: try (add ?? self.remove).composed(with: other.add ?? other.remove, limit: limit))
    }

    func selfComposed(_ count: Int, limit: Int = PLDPmf.maximumLength) throws -> PrivacyLossDistribution {
        guard let add else { return PrivacyLossDistribution(remove: try remove.selfComposed(count, limit: limit), add: nil) }
        let both = try PLDPmf.selfComposed([remove, add], count, limit: limit)
        return PrivacyLossDistribution(remove: both[0], add: both[1])
    }

    func epsilon(delta: Double) -> Double {
        max(remove.epsilon(delta: delta), add?.epsilon(delta: delta) ?? 0)
    }

    func delta(epsilon: Double) -> Double {
        max(remove.delta(epsilon: epsilon), add?.delta(epsilon: epsilon) ?? 0)
    }
}
