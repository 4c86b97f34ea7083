// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// The `projected` noise allocation: per-segment noise that minimizes the expected
/// distortion of the released gradient, weighted by task importance, at σ_eff = σ exactly.
///
/// Only ``PrivatizedStatistics`` and public options are read, so the allocation is
/// post-processing; its state is a deterministic function of the sequence of statistics.
///
/// **Objective.** Fit a Gaussian to each segment's noise-free gradient, N(μ_g, v_g·I) with
/// v_g = E_g/d_g the per-coordinate signal energy; the released gradient adds N(0, τ_g·I),
/// τ_g = s_g²/B². Per coordinate KL(p(ĝ)‖p(g)) = ½(r − ln(1+r)), r = τ_g/v_g. DP-SGD runs
/// deep in the regime r ≫ 1 (noise per coordinate far above signal), where this is ½r up
/// to a relative ln(r)/r; keeping that leading term, and weighting task k's distortion by
/// α_k², the expected distortion is
///
///     D(s) = Σ_g α_g²·d_g·τ_g/(2v_g) = Σ_g α_g²·d_g²·s_g² / (2B²·E_g).
///
/// **Optimum (Lagrange).** Minimize D subject to Σ_g C_g²/s_g² = 1/σ². With x_g = s_g²,
/// ∂/∂x_g: α_g²d_g²/(2B²E_g) = λ·C_g²/x_g², so
///
///     s_g² = μ·k_g/α_g,   k_g = C_g·√E_g / d_g,   μ = σ²·Σ_h α_h·C_h²/k_h,
///
/// closed form, μ fixed by the constraint. Weighting by α_k² is what makes the noise on
/// task-k segments scale like σ²C²/α_k (DESIGN §5.4); shared segments have α = 1, and the
/// weights are normalized to mean 1 over the job's tasks.
///
/// **Estimates and instability calibration.** E_g comes from the released norms only:
/// e_g = ‖ĝ_g‖² − d_g·s_g²/B² (unbiased; its noise-only variance is 2d_g·(s_g²/B²)²).
/// Both are smoothed over steps, ê_g = EMA_β(e_g) and its variance u_g, with bias
/// correction; z_g = ê_g/√u_g measures the signal in units of its own noise, and
/// ω_g = z₊²/(1+z₊²) is the weight the estimate earns. Each segment moves geometrically
/// from the uniform allocation towards the optimum by ω_g:
///
///     s_g² ∝ q_g^ω_g / α_g,   q_g = k_g·Σ_h(C_h²/k_h) / C²   (optimum over uniform),
///
/// with E_g floored at 1e-6·√u_g, so a segment whose signal is buried in noise stays
/// uniform. Finally no s_g may change by more than `max_change` per step
/// (``GroupWiseAllocation/normalized(clips:varianceShape:noiseMultiplier:previous:maxChange:)``),
/// and the result is scaled to σ_eff = σ. Step 1 has no statistics: s_g² ∝ 1/α_g.
struct DistortionAllocation {
    /// β, the moving-average factor of the signal estimates.
    let smoothing: Double
    /// The largest factor by which a segment's noise may change in one step.
    let maxChange: Double
    /// α_k, normalized to mean 1 over the job's tasks.
    let taskWeights: [String: Double]
    private var signal: [Double] = []
    private var signalVariance: [Double] = []
    private var updates = 0
    private var lastStep: Int?

    init(smoothing: Double, maxChange: Double, taskWeights: [String: Double]) {
        self.smoothing = smoothing
        self.maxChange = maxChange
        self.taskWeights = taskWeights
    }

    /// The next step's allocation; folds `previous` into the moving averages once per step.
    mutating func allocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        let segments = target.segments
        let clips = GroupWiseAllocation.dimensionProportionalClips(clip: target.clip, segments: segments)
        let weights = segments.map { segment in segment.task.flatMap { taskWeights[$0] } ?? 1 }
        if let previous, previous.step != lastStep,
           let energies = GroupWiseAllocation.signalEnergies(previous, segments: segments) {
            update(energies: energies, statistics: previous, segments: segments)
        }
        guard let previous, signal.count == segments.count, updates > 0 else {
            return GroupWiseAllocation.normalized(clips: clips, varianceShape: weights.map { 1 / $0 },
                                                  noiseMultiplier: target.noiseMultiplier)
        }
        let correction = 1 - pow(smoothing, Double(updates))
        var optimum: [Double] = [], reliability: [Double] = []
        for g in segments.indices {
            let estimate = signal[g] / correction
            let spread = signalVariance[g].squareRoot() / correction
            let z = spread > 0 ? max(estimate, 0) / spread : (estimate > 0 ? Double.infinity : 0)
            reliability.append(1 / (1 + 1 / (z * z)))
            let floored = max(estimate, 1e-6 * spread, .leastNormalMagnitude)
            optimum.append(clips[g] * floored.squareRoot() / Double(segments[g].count))
        }
        let reference = zip(clips, optimum).reduce(0.0) { $0 + $1.0 * $1.0 / $1.1 } / (target.clip * target.clip)
        let shape = segments.indices.map { g in pow(optimum[g] * reference, reliability[g]) / weights[g] }
        let before = previous.allocation
        guard case .groupWise = before.clipping, before.standardDeviations.count == segments.count else {
            return GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, noiseMultiplier: target.noiseMultiplier)
        }
        return GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, noiseMultiplier: target.noiseMultiplier,
                                              previous: before.standardDeviations, maxChange: maxChange)
    }

    private mutating func update(energies: [Double], statistics: PrivatizedStatistics, segments: [ParameterSegment]) {
        if signal.count != segments.count {
            signal = Array(repeating: 0, count: segments.count)
            signalVariance = Array(repeating: 0, count: segments.count)
            updates = 0
        }
        for g in segments.indices {
            let noiseVariance = GroupWiseAllocation.noiseVariance(statistics, segment: g)
            let estimateVariance = 2 * Double(segments[g].count) * noiseVariance * noiseVariance
            signal[g] = smoothing * signal[g] + (1 - smoothing) * energies[g]
            signalVariance[g] = smoothing * smoothing * signalVariance[g] + (1 - smoothing) * (1 - smoothing) * estimateVariance
        }
        updates += 1
        lastStep = statistics.step
    }
}
