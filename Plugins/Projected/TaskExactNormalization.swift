// SPDX-License-Identifier: Apache-2.0
import AdapterKit

/// Scales a noise shape so that the least private unit gets σ_eff = σ exactly
/// (DESIGN §5.4: "σ_eff per task is exact and charged per task").
///
/// The trainer says which segments one unit can reach (``NoiseTarget/reaches``): a record
/// of task k the shared segments and task k's own, so its guarantee is
/// σ_k = (Σ_{g ∈ reach(k)} C_g²/s_g²)^(-1/2); under unit-level privacy one reach covers
/// every segment. The trainer checks every reach's σ_eff ≥ σ and charges the smallest.
/// ``GroupWiseAllocation/normalized(clips:varianceShape:noiseMultiplier:)`` instead makes
/// the sum over *all* segments 1/σ², as if one record reached every task's head: with T
/// tasks whose heads hold a part h of the clip budget, each σ_k is then σ/√(1 − h + h/T),
/// noise the accountant never sees a use for (on the MiniLM benchmark, T = 4 and h = 0.9:
/// ε 2.2 spent of the 8 planned). Here the largest reach precision is 1/σ², so the job is
/// charged σ, and a task with smaller weight α_k has σ_k above it.
enum TaskExactNormalization {
    /// s_g = √(μ·w_g) with μ = σ²·max_k Σ_{g ∈ reach(k)} C_g²/w_g; when `previous` is given,
    /// each s_g is clamped to [p_g/m, p_g·m] and μ found by bisection (the largest reach
    /// precision is continuous and non-increasing in μ). As in
    /// ``GroupWiseAllocation/normalized(clips:varianceShape:noiseMultiplier:previous:maxChange:)``:
    /// if even the least noise allowed is more private than asked, that least noise is used;
    /// if even the most noise allowed is less private, the limit yields to privacy.
    ///
    /// - Precondition: one positive, finite shape entry per clip; `previous`, when given, has
    ///   one positive entry per clip, and `maxChange` ≥ 1.
    static func normalized(clips: [Double], varianceShape: [Double], noiseMultiplier sigma: Double, reaches: [[Int]],
                           previous: [Double]? = nil, maxChange: Double = 1) -> NoiseAllocation {
        precondition(varianceShape.count == clips.count && varianceShape.allSatisfy { $0 > 0 && $0.isFinite },
                     "a variance shape needs one positive finite entry per segment; found \(varianceShape)")
        let target = 1 / (sigma * sigma)
        func precision(_ deviations: [Double]) -> Double {
            reaches.map { reach in reach.reduce(0.0) { $0 + clips[$1] * clips[$1] / (deviations[$1] * deviations[$1]) } }
                .max() ?? 0
        }
        /// One factor on every s_g so that the largest reach precision is 1/σ² up to rounding.
        func exact(_ deviations: [Double]) -> NoiseAllocation {
            let factor = sigma * precision(deviations).squareRoot()
            return NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: deviations.map { $0 * factor })
        }
        let unlimited = exact(varianceShape.map { $0.squareRoot() })
        guard let previous else { return unlimited }
        precondition(previous.count == clips.count && previous.allSatisfy { $0 > 0 && $0.isFinite },
                     "previous standard deviations must be positive, one per segment; found \(previous)")
        precondition(maxChange >= 1, "the change limit must be at least 1; found \(maxChange)")
        let lower = previous.map { $0 / maxChange }, upper = previous.map { $0 * maxChange }
        if precision(upper) > target { return unlimited }
        if precision(lower) <= target { return NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: lower) }
        func deviations(_ mu: Double) -> [Double] {
            varianceShape.indices.map { min(max((mu * varianceShape[$0]).squareRoot(), lower[$0]), upper[$0]) }
        }
        // Every segment is clamped below the smallest breakpoint and above the largest.
        var low = varianceShape.indices.map { lower[$0] * lower[$0] / varianceShape[$0] }.min() ?? 0
        var high = varianceShape.indices.map { upper[$0] * upper[$0] / varianceShape[$0] }.max() ?? 0
        for _ in 0..<200 where high > low * (1 + 1e-15) {
            let middle = (low * high).squareRoot()
            if precision(deviations(middle)) > target { low = middle } else { high = middle }
        }
        return exact(deviations(high))
    }
}
