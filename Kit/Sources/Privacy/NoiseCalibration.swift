// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Finds the noise that a DP-SGD run needs to meet a target (ε, δ).
///
/// Works with any ``PrivacyAccountant``: ε of T Poisson-sampled Gaussian steps only decreases
/// as σ grows, so a bracketing root finder on σ finds the smallest σ whose ε is within target.
public enum NoiseCalibration {
    /// Bracketing stops doubling past this σ: nothing useful needs more noise.
    static let largestNoiseMultiplier = 1e6

    /// The smallest noise multiplier σ such that `steps` runs of
    /// `.poissonSampled(samplingRate, .gaussian(σ))` cost at most `targetEpsilon` at `delta`.
    ///
    /// The answer is the upper end of the final bracket, so it always meets the target, and
    /// is within `tolerance` (relative) of the exact threshold, except where the accountant
    /// cannot price the threshold at all (a σ below 10⁻⁶, or a loss grid over its limit):
    /// then it is the least noise tried that it could price and that meets the target, within
    /// a factor 2 of the least it can price.
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
    ///   `.calibrationFailed` if even σ = 10⁶ does not meet the target, or whatever else the
    ///   accountant throws (its `.gridTooLarge` only means "more noise").
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
        // f(σ) = ln ε(σ) − ln ε_target: decreasing, nearly linear in σ, and ≤ 0 exactly where σ meets the target.
        // A σ whose loss grid is too large to price counts as failing (f = +∞): less noise
        // widens the grid, so the answer lies above it, and moving up is all there is to do.
        var gridRefusal: PrivacyError?
        var refusedSigma = -1.0
        func excess(_ sigma: Double) throws -> Double {
            var accountant = makeAccountant(neighboringRelation)
            let step = DpEvent.poissonSampled(probability: samplingRate, event: .gaussian(noiseMultiplier: sigma))
            do {
                try accountant.compose(step, count: steps)
                return log(try accountant.epsilon(delta: delta)) - log(targetEpsilon)
            } catch let error as PrivacyError where error.code == .gridTooLarge {
                gridRefusal = error
                refusedSigma = sigma
                return .infinity
            }
        }
        // Bracket: low fails the target (f > 0), high meets it (f ≤ 0).
        var (low, fLow) = (0.0, Double.infinity)
        var (high, fHigh) = (1.0, try excess(1))
        while fHigh > 0 {
            guard high < largestNoiseMultiplier else {
                throw PrivacyError(.calibrationFailed,
                    "no noise multiplier up to \(largestNoiseMultiplier) meets epsilon \(targetEpsilon) at delta \(delta) with sampling rate \(samplingRate) over \(steps) steps\(gridRefusal.map { " (the last one refused: \($0.message))" } ?? "")")
            }
            (low, fLow) = (high, fHigh)
            high *= 2
            fHigh = try excess(high)
        }
        if low == 0 {
            // σ = 1 already meets the target: halve down to a failing σ.
            (low, fLow) = (0.5, try excess(0.5))
            while fLow <= 0 {
                (high, fHigh) = (low, fLow)
                guard low > 1e-6 else { return high }
                low /= 2
                fLow = try excess(low)
            }
        }
        // A bracket whose lower end could not be priced holds the threshold within a factor 2
        // of the least noise the accountant can price, and every σ inside it costs a grid near
        // the accountant's size limit (seconds and hundreds of MB each at the default limit,
        // which is what a manifest asking for ε = 1e308 drives the search to). Its upper end
        // meets the target, so it is the answer, unrefined.
        if low == refusedSigma { return high }
        // The Illinois variant of regula falsi: superlinear on this near-linear f, and it keeps
        // the bracket, so the answer (the meeting end) always meets the target. A step that
        // cannot use the secant (an infinite ε) or that lands outside the bracket bisects, and
        // so does every step after 60, in case a discretized ε(σ) makes the secant stall.
        var lastMoved = 0
        var iterations = 0
        while high - low > tolerance * high {
            iterations += 1
            var sigma = (low * fHigh - high * fLow) / (fHigh - fLow)
            if iterations > 60 || !sigma.isFinite || sigma <= low || sigma >= high { sigma = (low + high) / 2 }
            let f = try excess(sigma)
            if f <= 0 {
                (high, fHigh) = (sigma, f)
                if lastMoved == 1, fLow.isFinite { fLow /= 2 }
                lastMoved = 1
            } else {
                (low, fLow) = (sigma, f)
                if lastMoved == -1 { fHigh /= 2 }
                lastMoved = -1
            }
        }
        return high
    }
}
