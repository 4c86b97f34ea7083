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

    /// The per-record event of a job whose tasks have `labelCounts` labels: the Gaussian
    /// release of the representation, then the label by randomized response, priced at
    /// ``pricedLabelCount(_:)``.
    public func event(labelCounts: some Sequence<Int>) throws -> DpEvent {
        Self.event(featureEvent: .gaussian(noiseMultiplier: try featureNoiseMultiplier()),
                   labelEpsilon: labelEpsilon, labelCounts: labelCounts)
    }

    /// The per-record event of a representation released as `featureEvent` and a label by
    /// randomized response at `labelEpsilon`, among the labels of a task of `labelCounts`.
    public static func event(featureEvent: DpEvent, labelEpsilon: Double, labelCounts: some Sequence<Int>) -> DpEvent {
        .composed([featureEvent, .randomizedResponse(k: pricedLabelCount(labelCounts), epsilon: labelEpsilon)])
    }

    /// ε at `delta` of the release `event(featureEvent:labelEpsilon:labelCounts:)` describes, by
    /// basic composition: the Gaussian's exact ε at δ (analytic Gaussian) plus the label's
    /// pure ε (nothing when no task has two labels). This is the split the budget was made
    /// with, so it meets the target; an accountant composing the two as one event may state
    /// more (RDP: 8.43 for a target of 8, 0.0036 for 0.001). Nil for a representation not
    /// released by one plain Gaussian.
    public static func basicCompositionEpsilon(featureEvent: DpEvent, labelEpsilon: Double,
                                               labelCounts: some Sequence<Int>, delta: Double) -> Double? {
        guard case .gaussian(let sigma) = featureEvent, sigma > 0, sigma.isFinite, delta > 0, delta < 1 else { return nil }
        let feature = AnalyticGaussian.epsilon(delta: delta, standardDeviation: sigma, sensitivity: 1)
        return feature + (pricedLabelCount(labelCounts) >= 2 ? labelEpsilon : 0)
    }

    /// The label count that prices one record's randomized response when its task may have
    /// any of `labelCounts` labels: the fewest of at least two, because k-ary randomized
    /// response at one ε loses more the fewer labels it chooses among. A one-label task
    /// releases nothing, so it must not set the price (its k = 1 would cost nothing while
    /// another task's labels are released); 1 when every task has one label, 2 for none.
    public static func pricedLabelCount(_ labelCounts: some Sequence<Int>) -> Int {
        let counts = Array(labelCounts)
        if counts.isEmpty { return 2 }
        return counts.filter { $0 >= 2 }.min() ?? 1
    }
}
