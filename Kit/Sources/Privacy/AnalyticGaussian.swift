// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The analytic Gaussian mechanism (Balle & Wang 2018, "Improving the Gaussian Mechanism
/// for Differential Privacy"): the exact (ε, δ) curve of one Gaussian release, and the
/// smallest σ meeting a target, for releases that are not composed (where the classical
/// σ = Δ√(2 log(1.25/δ))/ε bound is loose and invalid for ε > 1).
public enum AnalyticGaussian {
    /// The exact δ at which N(0, σ²) noise on a query of L2 sensitivity Δ is (ε, δ)-DP
    /// (Balle & Wang 2018, Theorem 8):
    ///   δ = Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ).
    /// The second term is formed in log space so large ε does not overflow.
    ///
    /// - Parameters:
    ///   - epsilon: ε ≥ 0.
    ///   - standardDeviation: σ > 0.
    ///   - sensitivity: Δ > 0.
    /// - Returns: δ in [0, 1].
    public static func delta(epsilon: Double, standardDeviation sigma: Double, sensitivity: Double) -> Double {
        precondition(epsilon >= 0, "epsilon must be non-negative; found \(epsilon)")
        precondition(sigma > 0, "standard deviation must be positive; found \(sigma)")
        precondition(sensitivity > 0, "sensitivity must be positive; found \(sensitivity)")
        let half = sensitivity / (2 * sigma)
        let shift = epsilon * sigma / sensitivity
        let upper = standardNormalCDF(half - shift)
        let lower = exp(epsilon + standardNormalLogCDF(-half - shift))
        return min(1, max(0, upper - lower))
    }

    /// The smallest ε at which N(0, σ²) noise on a query of L2 sensitivity Δ is (ε, δ)-DP,
    /// by bisection on ε to 1e-12 relative, since δ(ε) is decreasing.
    ///
    /// - Parameters:
    ///   - delta: δ in (0, 1).
    ///   - standardDeviation: σ > 0.
    ///   - sensitivity: Δ > 0.
    /// - Returns: ε ≥ 0, never below the exact value.
    public static func epsilon(delta: Double, standardDeviation sigma: Double, sensitivity: Double) -> Double {
        precondition(delta > 0 && delta < 1, "delta must be in (0, 1); found \(delta)")
        func meetsTarget(_ epsilon: Double) -> Bool {
            Self.delta(epsilon: epsilon, standardDeviation: sigma, sensitivity: sensitivity) <= delta
        }
        if meetsTarget(0) { return 0 }
        var low = 0.0
        var high = 1.0
        while !meetsTarget(high) { (low, high) = (high, high * 2) }
        while high - low > 1e-12 * high {
            let middle = (low + high) / 2
            if meetsTarget(middle) { high = middle } else { low = middle }
        }
        return high
    }

    /// The smallest σ for which N(0, σ²) noise on a query of L2 sensitivity Δ is (ε, δ)-DP
    /// (Balle & Wang 2018, Algorithm 1, solved here by bisection on σ to 1e-12 relative,
    /// since δ(σ) is decreasing).
    ///
    /// - Parameters:
    ///   - epsilon: ε > 0.
    ///   - delta: δ in (0, 1).
    ///   - sensitivity: Δ > 0.
    /// - Returns: σ, never below the exact threshold.
    /// - Throws: ``PrivacyError`` `.invalidArgument` naming a bad parameter.
    public static func standardDeviation(epsilon: Double, delta: Double, sensitivity: Double) throws -> Double {
        guard epsilon > 0 && epsilon.isFinite else {
            throw PrivacyError(.invalidArgument, "epsilon must be positive and finite; found \(epsilon)")
        }
        guard delta > 0 && delta < 1 else {
            throw PrivacyError(.invalidArgument, "delta must be in (0, 1); found \(delta)")
        }
        guard sensitivity > 0 && sensitivity.isFinite else {
            throw PrivacyError(.invalidArgument, "sensitivity must be positive and finite; found \(sensitivity)")
        }
        func meetsTarget(_ sigma: Double) -> Bool {
            Self.delta(epsilon: epsilon, standardDeviation: sigma, sensitivity: sensitivity) <= delta
        }
        var low = sensitivity
        var high = sensitivity
        while meetsTarget(low) { low /= 2 }
        while !meetsTarget(high) { high *= 2 }
        while high - low > 1e-12 * high {
            let middle = (low + high) / 2
            if meetsTarget(middle) { high = middle } else { low = middle }
        }
        return high
    }
}
