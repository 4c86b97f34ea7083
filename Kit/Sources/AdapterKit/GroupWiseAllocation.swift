// SPDX-License-Identifier: Apache-2.0

/// The arithmetic every adaptive group-wise noise allocation shares: clips with
/// Σ_g C_g² = C², a noise shape scaled so that the least private unit gets σ_eff = σ
/// exactly, a limit on how fast each segment's noise may move, and signal estimates from
/// released statistics.
///
/// Everything here is a function of public facts (segment shapes and tasks, the target σ
/// and C, options) and of ``PrivatizedStatistics``, which only the trainer can build and
/// only from a gradient it has already released. An allocation computed from these is
/// post-processing (DESIGN §4.3, invariant 5); none of these functions can be handed
/// anything else.
///
/// Why the scale is set per reach (``NoiseTarget/reaches``): a record of task k reaches the
/// shared segments and task k's own, so its guarantee is σ_k = (Σ_{g ∈ reach(k)} C_g²/s_g²)^(-1/2),
/// and the trainer charges the smallest σ_k. Making the sum over *all* segments 1/σ² instead,
/// as if one record reached every task's head, leaves every σ_k above σ: noise the
/// accountant never sees a use for (on the four-task MiniLM benchmark `projected` spent ε 2.2
/// of 8 that way, `anadp` 7.5).
public enum GroupWiseAllocation {
    /// Clips proportional to the square root of each segment's size: C_g = C·√(d_g/Σ_h d_h).
    ///
    /// A public rule (it reads only shapes). It gives every coordinate the same share of the
    /// clip budget, so a segment's clip is what it would get from a joint clip C if the
    /// per-sample gradient were spread evenly, and Σ_g C_g² = C² by construction.
    public static func dimensionProportionalClips(clip: Double, segments: [ParameterSegment]) -> [Double] {
        let total = Double(segments.reduce(0) { $0 + $1.count })
        return segments.map { clip * (Double($0.count) / total).squareRoot() }
    }

    /// Group-wise clips C_g = C·√(d_g/Σd) and the same noise on every segment, the least
    /// that gives the least private reach σ_eff = σ: σ·C when one unit may reach every
    /// segment, less when each record reaches only its own task's head.
    public static func uniform(target: NoiseTarget) -> NoiseAllocation {
        let clips = dimensionProportionalClips(clip: target.clip, segments: target.segments)
        return normalized(clips: clips, varianceShape: Array(repeating: 1, count: clips.count), target: target)
    }

    /// Noise variances proportional to `varianceShape` (s_g² = μ·w_g), scaled so that the
    /// least private reach of `target` has σ_eff = σ exactly: μ = σ²·max_k Σ_{g ∈ reach(k)} C_g²/w_g.
    ///
    /// With `previous`, each s_g also stays within [p_g/m, p_g·m] of its previous value p_g
    /// (m = `maxChange`). s_g(μ) = clamp(√(μ·w_g), p_g/m, p_g·m) makes the largest reach
    /// precision a continuous, non-increasing function of μ, so the μ that meets 1/σ² is
    /// found by bisection. Two cases cannot meet it: if even the least noise allowed is more
    /// private than asked, that least noise is used (never less private); if even the most
    /// noise allowed is less private, the limit yields to privacy and the unlimited
    /// allocation is returned.
    ///
    /// - Precondition: one positive, finite shape entry per clip; `previous`, when given, has
    ///   one positive, finite entry per clip, and `maxChange` ≥ 1.
    public static func normalized(clips: [Double], varianceShape: [Double], target: NoiseTarget,
                                  previous: [Double]? = nil, maxChange: Double = 1) -> NoiseAllocation {
        precondition(varianceShape.count == clips.count && varianceShape.allSatisfy { $0 > 0 && $0.isFinite },
                     "a variance shape needs one positive finite entry per segment; found \(varianceShape)")
        let sigma = target.noiseMultiplier
        let targetPrecision = 1 / (sigma * sigma)
        func precision(_ deviations: [Double]) -> Double {
            target.reaches.map { reach in
                reach.segments.reduce(0.0) { $0 + clips[$1] * clips[$1] / (deviations[$1] * deviations[$1]) }
            }.max() ?? 0
        }
        /// One factor on every s_g so that the largest reach precision is 1/σ² up to rounding
        /// (a relative change of order 1e-15 after the bisection).
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
        if precision(upper) > targetPrecision { return unlimited }
        if precision(lower) <= targetPrecision {
            return NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: lower)
        }
        func deviations(_ mu: Double) -> [Double] {
            varianceShape.indices.map { min(max((mu * varianceShape[$0]).squareRoot(), lower[$0]), upper[$0]) }
        }
        // Every segment is clamped below the smallest breakpoint and above the largest.
        var low = varianceShape.indices.map { lower[$0] * lower[$0] / varianceShape[$0] }.min() ?? 0
        var high = varianceShape.indices.map { upper[$0] * upper[$0] / varianceShape[$0] }.max() ?? 0
        for _ in 0..<200 where high > low * (1 + 1e-15) {
            let middle = (low * high).squareRoot()
            if precision(deviations(middle)) > targetPrecision { low = middle } else { high = middle }
        }
        return exact(deviations(high))
    }

    /// Each segment's signal energy ‖g_g‖² estimated from the released gradient: the noisy
    /// squared norm minus the expected noise energy d_g·s_g²/B² (noise N(0, s_g²) per
    /// coordinate of the sum, divided by the expected batch size B). Unbiased, hence
    /// sometimes negative; callers floor it where they need a positive value.
    ///
    /// Returns nil when the statistics do not describe `segments` (another segment count).
    public static func signalEnergies(_ statistics: PrivatizedStatistics, segments: [ParameterSegment]) -> [Double]? {
        guard statistics.segmentSquaredNorms.count == segments.count,
              statistics.allocation.standardDeviations.count == segments.count,
              statistics.expectedBatchSize > 0 else { return nil }
        return segments.indices.map { g in
            statistics.segmentSquaredNorms[g] - Double(segments[g].count) * noiseVariance(statistics, segment: g)
        }
    }

    /// The per-coordinate variance s_g²/B² of the noise in segment g of the released gradient.
    public static func noiseVariance(_ statistics: PrivatizedStatistics, segment g: Int) -> Double {
        let deviation = statistics.allocation.standardDeviations[g] / statistics.expectedBatchSize
        return deviation * deviation
    }
}
