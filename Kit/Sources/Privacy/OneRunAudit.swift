// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Privacy auditing in one training run (Steinke, Nasr, Jagielski 2023, "Privacy Auditing
/// with One (1) Training Run").
///
/// m canaries are each included with probability 1/2; after training, an auditor guesses
/// membership for r of them (abstaining on the rest) and gets v right. If training is
/// (ε, δ)-DP, v is stochastically dominated by Binomial(r, e^ε/(1 + e^ε)) up to a δ term
/// (their Theorem 3.1 / Proposition 5.2), so a v too large for that distribution refutes ε:
/// the audit reports the largest ε it cannot refute, an empirical lower bound on the true ε.
public enum OneRunAudit {
    /// The largest ε not rejected at `significance`: sup { ε : p(ε) < significance }, with
    ///   p(ε) = min(1, β + 2mδ·α),  q = e^ε/(1 + e^ε),
    ///   β = P[Bin(r, q) ≥ v],  α = max_{1≤i≤v} P[v − i ≤ Bin(r, q) < v] / i.
    /// p increases with ε and reaches 1 as q → 1, so the supremum exists and is found by
    /// bisection (to 1e-10).
    ///
    /// - Parameters:
    ///   - canaries: m, the number of canaries inserted with probability 1/2.
    ///   - guesses: r ≤ m, how many canaries the auditor guessed on.
    ///   - correct: v ≤ r, how many guesses were right.
    ///   - delta: the δ of the guarantee under audit, in [0, 1).
    ///   - significance: the test level, in (0, 1).
    /// - Returns: ε ≥ 0; 0 when even ε = 0 explains the guesses.
    /// - Throws: ``PrivacyError`` `.invalidArgument` naming a bad count or level.
    public static func epsilonLowerBound(
        canaries: Int, guesses: Int, correct: Int, delta: Double = 0, significance: Double = 0.05
    ) throws -> Double {
        guard canaries >= 1 else {
            throw PrivacyError(.invalidArgument, "canaries must be at least 1; found \(canaries)")
        }
        guard guesses >= 0 && guesses <= canaries else {
            throw PrivacyError(.invalidArgument, "guesses must be in [0, \(canaries)]; found \(guesses)")
        }
        guard correct >= 0 && correct <= guesses else {
            throw PrivacyError(.invalidArgument, "correct guesses must be in [0, \(guesses)]; found \(correct)")
        }
        guard delta >= 0 && delta < 1 else {
            throw PrivacyError(.invalidArgument, "delta must be in [0, 1); found \(delta)")
        }
        guard significance > 0 && significance < 1 else {
            throw PrivacyError(.invalidArgument, "significance must be in (0, 1); found \(significance)")
        }
        func rejected(_ epsilon: Double) -> Bool {
            pValue(epsilon: epsilon, canaries: canaries, guesses: guesses, correct: correct, delta: delta) >= significance
        }
        if rejected(0) { return 0 }
        var low = 0.0
        var high = 1.0
        while !rejected(high) {
            low = high
            high *= 2
        }
        while high - low > 1e-10 {
            let middle = (low + high) / 2
            if rejected(middle) { high = middle } else { low = middle }
        }
        return low
    }

    /// p(ε) of ``epsilonLowerBound(canaries:guesses:correct:delta:significance:)``: how likely
    /// an (ε, δ)-DP run lets the auditor get at least `correct` of `guesses` right.
    static func pValue(epsilon: Double, canaries m: Int, guesses r: Int, correct v: Int, delta: Double) -> Double {
        // q = e^ε/(1 + e^ε) and 1 − q, in log space so large ε stays finite.
        let logQ = -log1p(exp(-epsilon))
        let log1mQ = -epsilon + logQ
        let logGammaOfRPlusOne = logAbsGamma(Double(r) + 1)
        func probability(_ k: Int) -> Double {
            exp(logAbsBinomial(Double(r), Double(k), logGammaOfNPlusOne: logGammaOfRPlusOne)
                + Double(k) * logQ + Double(r - k) * log1mQ)
        }
        var beta = 0.0
        for k in stride(from: r, through: v, by: -1) { beta += probability(k) }
        var alpha = 0.0
        var window = 0.0
        if v >= 1 {
            for i in 1...v {
                window += probability(v - i)
                alpha = max(alpha, window / Double(i))
            }
        }
        return min(1, beta + 2 * Double(m) * delta * alpha)
    }

    /// Turns canary scores into the audit's guesses: the `positives` highest-scoring canaries
    /// are guessed included, the `negatives` lowest-scoring excluded, the rest abstained on.
    ///
    /// - Parameters:
    ///   - scores: one score per canary; higher means "looks included" (e.g. the negative loss).
    ///   - included: whether each canary was really included in training.
    ///   - positives: k₊ guesses of "included".
    ///   - negatives: k₋ guesses of "excluded"; k₊ + k₋ ≤ m.
    /// - Returns: r = k₊ + k₋ and v, the number of right guesses.
    /// - Throws: ``PrivacyError`` `.invalidArgument` if the arrays differ in length, a score is
    ///   NaN, or the guesses outnumber the canaries.
    public static func guesses(
        scores: [Double], included: [Bool], positives: Int, negatives: Int
    ) throws -> (guesses: Int, correct: Int) {
        guard scores.count == included.count else {
            throw PrivacyError(.invalidArgument, "scores and membership differ in length: \(scores.count) vs \(included.count)")
        }
        guard !scores.contains(where: \.isNaN) else {
            throw PrivacyError(.invalidArgument, "canary scores must not be NaN")
        }
        guard positives >= 0 && negatives >= 0 && positives + negatives <= scores.count else {
            throw PrivacyError(.invalidArgument,
                "guesses must be non-negative and at most \(scores.count) in total; found \(positives) + \(negatives)")
        }
        let ranked = scores.indices.sorted { scores[$0] > scores[$1] }
        let correctPositives = ranked.prefix(positives).filter { included[$0] }.count
        let correctNegatives = ranked.suffix(negatives).filter { !included[$0] }.count
        return (positives + negatives, correctPositives + correctNegatives)
    }
}
