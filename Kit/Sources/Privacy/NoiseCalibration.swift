// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Finds the noise that a DP-SGD run needs to meet a target (ε, δ).
///
/// Works with any ``PrivacyAccountant``: ε of T Poisson-sampled Gaussian steps only decreases
/// as σ grows, so bisection on σ finds the smallest σ whose ε is within target.
public enum NoiseCalibration {
    /// Bracketing stops doubling past this σ: nothing useful needs more noise.
    static let largestNoiseMultiplier = 1e6

    /// The smallest noise multiplier σ such that `steps` runs of
    /// `.poissonSampled(samplingRate, .gaussian(σ))` cost at most `targetEpsilon` at `delta`.
    ///
    /// The answer is the upper end of the final bisection bracket, so it always meets the
    /// target, and is within `tolerance` (relative) of the exact threshold.
    ///
    /// - Parameters:
    ///   - targetEpsilon: ε to meet, > 0.
    ///   - delta: δ, in (0, 1).
    ///   - samplingRate: Poisson sampling rate q, in (0, 1].
    ///   - steps: number of steps T ≥ 1.
    ///   - tolerance: relative width of the final bracket, in (0, 1).
    ///   - neighboringRelation: the adjacency the guarantee is stated for.
    ///   - makeAccountant: a fresh, empty accountant for the relation, e.g.
    ///     `{ RDPAccountant(neighboringRelation: $0) }`.
    /// - Returns: σ, the ratio of the noise standard deviation to the clipping norm.
    /// - Throws: ``PrivacyError`` `.invalidArgument` naming a bad parameter,
    ///   `.calibrationFailed` if even σ = 10⁶ does not meet the target, or whatever the
    ///   accountant throws.
    public static func noiseMultiplier(
        targetEpsilon: Double, delta: Double, samplingRate: Double, steps: Int,
        tolerance: Double = 1e-6, neighboringRelation: NeighboringRelation = .addOrRemoveOne,
        makeAccountant: (NeighboringRelation) -> any PrivacyAccountant
    ) throws -> Double {
        guard targetEpsilon > 0 && targetEpsilon.isFinite else {
            throw PrivacyError(.invalidArgument, "target epsilon must be positive and finite; found \(targetEpsilon)")
        }
        guard delta > 0 && delta < 1 else {
            throw PrivacyError(.invalidArgument, "delta must be in (0, 1); found \(delta)")
        }
        guard samplingRate > 0 && samplingRate <= 1 else {
            throw PrivacyError(.invalidArgument, "sampling rate must be in (0, 1]; found \(samplingRate)")
        }
        guard steps >= 1 else {
            throw PrivacyError(.invalidArgument, "steps must be at least 1; found \(steps)")
        }
        guard tolerance > 0 && tolerance < 1 else {
            throw PrivacyError(.invalidArgument, "tolerance must be in (0, 1); found \(tolerance)")
        }
        func meetsTarget(_ sigma: Double) throws -> Bool {
            var accountant = makeAccountant(neighboringRelation)
            let step = DpEvent.poissonSampled(probability: samplingRate, event: .gaussian(noiseMultiplier: sigma))
            try accountant.compose(step, count: steps)
            return try accountant.epsilon(delta: delta) <= targetEpsilon
        }
        var low = 0.0
        var high = 1.0
        while try !meetsTarget(high) {
            guard high < largestNoiseMultiplier else {
                throw PrivacyError(.calibrationFailed,
                    "no noise multiplier up to \(largestNoiseMultiplier) meets epsilon \(targetEpsilon) at delta \(delta) with sampling rate \(samplingRate) over \(steps) steps")
            }
            low = high
            high *= 2
        }
        while high - low > tolerance * high {
            let middle = (low + high) / 2
            if try meetsTarget(middle) { high = middle } else { low = middle }
        }
        return high
    }
}
