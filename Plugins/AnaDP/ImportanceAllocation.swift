// SPDX-License-Identifier: Apache-2.0
import AdapterKit

/// AnaDP-style noise allocation: less noise on the segments whose released gradients say
/// they matter most, normalized so that the least private record's σ_eff is exactly the
/// planned σ.
///
/// The rule reads nothing but ``PrivatizedStatistics`` (the released noisy gradient's
/// per-segment squared norms, the allocation it was privatized with, the expected batch
/// size) and public options, so it is post-processing; the state is a deterministic
/// function of the sequence of statistics it was given. Per segment g (d_g coordinates,
/// noise s_g on the clipped sum, expected batch B, released gradient ĝ):
///
///     sensitivity   I_g(t) = √max(‖ĝ_g‖²/d_g − s_g²/B², 0)    per-coordinate magnitude, known noise removed
///     smoothed      Ī_g(t) = β·Ī_g(t−1) + (1−β)·I_g(t)
///     uncertainty   Ū_g(t) = β·Ū_g(t−1) + (1−β)·|I_g(t) − Ī_g(t)|
///     importance    ι_g    = Ī_g·Ū_g                           (AdaLoRA's sensitivity × uncertainty)
///
/// Clips are C_g = C·√(d_g/D) (D = Σ d_g). The precision budget is shared out: segment g
/// gets the share p_g = m·d_g/D + (1−m)·ι_g·d_g/Σ_h ι_h·d_h (Σ_g p_g = 1) and noise
/// s_g² ∝ C_g²/p_g. Since C_g² = C²·d_g/D this is
///
///     s_g² ∝ 1 / (m + (1−m)·ι_g/ῑ),   ῑ = Σ_h ι_h·d_h / D,
///
/// less noise for a more important segment, and never more than 1/m times the uniform
/// variance (m = `min_share`). The scale makes the least private reach's σ_eff exactly σ
/// (``GroupWiseAllocation/normalized(clips:varianceShape:target:previous:maxChange:)``).
/// A reach is a subset of all segments, so that scale is at most the one that would make
/// σ_eff over all segments σ, s_g² = σ²C²/(m + (1−m)·ι_g/ῑ): no segment's noise exceeds σC/√m.
/// Without statistics (step 1), or when no segment shows any importance, all shares are
/// d_g/D: the same noise everywhere.
struct ImportanceAllocation {
    /// β, the moving-average factor.
    let smoothing: Double
    /// m, the part of the precision budget spread uniformly.
    let minShare: Double
    private var smoothedSensitivity: [Double] = []
    private var uncertainty: [Double] = []
    private var lastStep: Int?

    init(smoothing: Double, minShare: Double) {
        self.smoothing = smoothing
        self.minShare = minShare
    }

    /// The next step's allocation; folds `previous` into the moving averages once per step.
    mutating func allocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        if let previous, previous.step != lastStep,
           let energies = GroupWiseAllocation.signalEnergies(previous, segments: target.segments) {
            update(energies: energies, statistics: previous, segments: target.segments)
        }
        guard smoothedSensitivity.count == target.segments.count else { return GroupWiseAllocation.uniform(target: target) }
        let sizes = target.segments.map { Double($0.count) }
        let total = sizes.reduce(0, +)
        let importance = zip(smoothedSensitivity, uncertainty).map { $0 * $1 }
        let weightedImportance = zip(importance, sizes).reduce(0.0) { $0 + $1.0 * $1.1 }
        guard weightedImportance > 0, weightedImportance.isFinite else { return GroupWiseAllocation.uniform(target: target) }
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: target.clip, segments: target.segments)
        let shape = target.segments.indices.map { g in
            let share = minShare * sizes[g] / total + (1 - minShare) * importance[g] * sizes[g] / weightedImportance
            return clips[g] * clips[g] / share
        }
        return GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target)
    }

    private mutating func update(energies: [Double], statistics: PrivatizedStatistics, segments: [ParameterSegment]) {
        let sensitivity = segments.indices.map { g in max(energies[g] / Double(segments[g].count), 0).squareRoot() }
        if smoothedSensitivity.count != segments.count {
            smoothedSensitivity = Array(repeating: 0, count: segments.count)
            uncertainty = Array(repeating: 0, count: segments.count)
        }
        for g in segments.indices {
            smoothedSensitivity[g] = smoothing * smoothedSensitivity[g] + (1 - smoothing) * sensitivity[g]
            uncertainty[g] = smoothing * uncertainty[g] + (1 - smoothing) * abs(sensitivity[g] - smoothedSensitivity[g])
        }
        lastStep = statistics.step
    }
}
