// SPDX-License-Identifier: Apache-2.0
import Privacy

/// How a forward-perturbation job splits its ε between the representation and the label,
/// and the event that split amounts to.
///
/// The daemon prices a job at intake without loading its plugin, and the plugin later
/// calibrates its noise: both derive the numbers here, so the ledger's charge and the
/// model card's event are the same event.
public struct ForwardPerturbationBudget: Sendable, Hashable {
    /// The strategy option that sets the label's share of ε.
    public static let labelShareOption = "label_epsilon_share"

    public let epsilon: Double
    public let delta: Double
    /// The share of ε spent on randomized response for the label, in (0, 1).
    public let labelShare: Double

    /// - Throws: ``PrivacyError`` `.invalidArgument` for a share outside (0, 1) or a bad (ε, δ).
    public init(epsilon: Double, delta: Double, labelShare: Double) throws {
        guard labelShare > 0, labelShare < 1 else {
            throw PrivacyError(.invalidArgument, "\(Self.labelShareOption) must be in (0, 1); found \(labelShare)")
        }
        guard epsilon > 0, epsilon.isFinite, delta > 0, delta < 1 else {
            throw PrivacyError(.invalidArgument, "forward perturbation needs ε > 0 and δ in (0, 1); found ε \(epsilon), δ \(delta)")
        }
        self.epsilon = epsilon
        self.delta = delta
        self.labelShare = labelShare
    }

    public var featureEpsilon: Double { epsilon * (1 - labelShare) }
    public var labelEpsilon: Double { epsilon * labelShare }

    /// The analytic Gaussian's σ per unit of sensitivity for (ε_f, δ): noise std at
    /// sensitivity Δ is Δ times this, and `gaussian(featureNoiseMultiplier)` is the event.
    public func featureNoiseMultiplier() throws -> Double {
        try AnalyticGaussian.standardDeviation(epsilon: featureEpsilon, delta: delta, sensitivity: 1)
    }

    /// The per-record event: the Gaussian release of the representation, then the label
    /// by `labelCount`-ary randomized response.
    public func event(labelCount: Int) throws -> DpEvent {
        .composed([.gaussian(noiseMultiplier: try featureNoiseMultiplier()),
                   .randomizedResponse(k: labelCount, epsilon: labelEpsilon)])
    }
}
