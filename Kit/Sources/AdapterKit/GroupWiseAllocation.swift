// SPDX-License-Identifier: Apache-2.0

/// The arithmetic every adaptive group-wise noise allocation shares: clips with
/// Σ_g C_g² = C², a noise shape scaled so that σ_eff meets the target exactly, a limit on
/// how fast each segment's noise may move, signal estimates from released statistics,
/// and the σ_eff each task's records get.
///
/// Everything here is a function of public facts (segment shapes and tasks, the target σ
/// and C, options) and of ``PrivatizedStatistics``, which only the trainer can build and
/// only from a gradient it has already released. An allocation computed from these is
/// post-processing (DESIGN §4.3, invariant 5); none of these functions can be handed
/// anything else.
///
/// Why normalizing to σ_eff is enough for every task: a task-k record reaches only the
/// segments whose task is nil or k, a subset of all segments, so its precision
/// Σ_{g reachable} C_g²/s_g² is at most the overall one and its σ_eff at least the overall σ_eff.
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

    /// Group-wise clips C_g = C·√(d_g/Σd) and the same noise σ·C on every segment; then
    /// σ_eff = (Σ_g C_g²/(σ²C²))^(-1/2) = σ exactly.
    public static func uniform(target: NoiseTarget) -> NoiseAllocation {
        let clips = dimensionProportionalClips(clip: target.clip, segments: target.segments)
        return NoiseAllocation(clipping: .groupWise(clips: clips),
                               standardDeviations: Array(repeating: target.noiseMultiplier * target.clip, count: clips.count))
    }

    /// Noise variances proportional to `varianceShape`, scaled so σ_eff = σ exactly.
    ///
    /// With s_g² = μ·w_g the precision is Σ_g C_g²/(μ w_g), so μ = σ²·Σ_g C_g²/w_g.
    ///
    /// - Precondition: one positive, finite shape entry per clip.
    public static func normalized(clips: [Double], varianceShape: [Double], noiseMultiplier: Double) -> NoiseAllocation {
        precondition(varianceShape.count == clips.count && varianceShape.allSatisfy { $0 > 0 && $0.isFinite },
                     "a variance shape needs one positive finite entry per segment; found \(varianceShape)")
        let mu = noiseMultiplier * noiseMultiplier * zip(clips, varianceShape).reduce(0.0) { $0 + $1.0 * $1.0 / $1.1 }
        return exact(clips: clips, standardDeviations: varianceShape.map { (mu * $0).squareRoot() },
                     noiseMultiplier: noiseMultiplier)
    }

    /// Noise variances proportional to `varianceShape` as far as a change limit allows, scaled
    /// so σ_eff = σ exactly: each s_g stays within [p_g/m, p_g·m] of its previous value p_g.
    ///
    /// s_g(μ) = clamp(√(μ·w_g), p_g/m, p_g·m) makes the precision Σ_g C_g²/s_g(μ)² a
    /// continuous, non-increasing function of μ, so the μ that meets 1/σ² is found by
    /// bisection, then solved exactly on the segments left unclamped. Two cases cannot meet
    /// it: if even the least noise allowed leaves σ_eff above σ, that least noise is used
    /// (more private than asked, never less); if even the most noise allowed leaves σ_eff
    /// below σ, the limit yields to privacy and the unlimited allocation is returned.
    ///
    /// - Precondition: `previous` has one positive entry per clip and `maxChange` ≥ 1.
    public static func normalized(clips: [Double], varianceShape: [Double], noiseMultiplier: Double,
                                  previous: [Double], maxChange: Double) -> NoiseAllocation {
        precondition(previous.count == clips.count && previous.allSatisfy { $0 > 0 && $0.isFinite },
                     "previous standard deviations must be positive, one per segment; found \(previous)")
        precondition(maxChange >= 1, "the change limit must be at least 1; found \(maxChange)")
        let unlimited = normalized(clips: clips, varianceShape: varianceShape, noiseMultiplier: noiseMultiplier)
        let lower = previous.map { $0 / maxChange }, upper = previous.map { $0 * maxChange }
        let targetPrecision = 1 / (noiseMultiplier * noiseMultiplier)
        func deviations(_ mu: Double) -> [Double] {
            varianceShape.indices.map { min(max((mu * varianceShape[$0]).squareRoot(), lower[$0]), upper[$0]) }
        }
        if precision(clips: clips, standardDeviations: upper) > targetPrecision { return unlimited }
        if precision(clips: clips, standardDeviations: lower) <= targetPrecision {
            return NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: lower)
        }
        // Every segment is clamped below the smallest breakpoint and above the largest.
        var low = varianceShape.indices.map { lower[$0] * lower[$0] / varianceShape[$0] }.min() ?? 0
        var high = varianceShape.indices.map { upper[$0] * upper[$0] / varianceShape[$0] }.max() ?? 0
        for _ in 0..<200 where high > low * (1 + 1e-15) {
            let middle = (low * high).squareRoot()
            if precision(clips: clips, standardDeviations: deviations(middle)) > targetPrecision { low = middle } else { high = middle }
        }
        var standardDeviations = deviations(high)
        let free = standardDeviations.indices.filter { standardDeviations[$0] > lower[$0] && standardDeviations[$0] < upper[$0] }
        let clampedPrecision = standardDeviations.indices.filter { !free.contains($0) }
            .reduce(0.0) { $0 + clips[$1] * clips[$1] / (standardDeviations[$1] * standardDeviations[$1]) }
        if !free.isEmpty && clampedPrecision < targetPrecision {
            let mu = free.reduce(0.0) { $0 + clips[$1] * clips[$1] / varianceShape[$1] } / (targetPrecision - clampedPrecision)
            for g in free { standardDeviations[g] = min(max((mu * varianceShape[g]).squareRoot(), lower[g]), upper[g]) }
        }
        return exact(clips: clips, standardDeviations: standardDeviations, noiseMultiplier: noiseMultiplier)
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

    private static func precision(clips: [Double], standardDeviations: [Double]) -> Double {
        zip(clips, standardDeviations).reduce(0.0) { $0 + ($1.0 / $1.1) * ($1.0 / $1.1) }
    }

    /// Rescales every s_g by one factor f = σ·√(Σ C_g²/s_g²) so that σ_eff = σ up to rounding
    /// (a relative change of order 1e-15 after the constructions above).
    private static func exact(clips: [Double], standardDeviations: [Double], noiseMultiplier: Double) -> NoiseAllocation {
        let factor = noiseMultiplier * precision(clips: clips, standardDeviations: standardDeviations).squareRoot()
        return NoiseAllocation(clipping: .groupWise(clips: clips), standardDeviations: standardDeviations.map { $0 * factor })
    }
}
