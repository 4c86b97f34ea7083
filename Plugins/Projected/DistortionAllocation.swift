// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// The `projected` noise allocation: per-segment noise that minimizes the expected
/// distortion of the released gradient, weighted by task importance, with the σ_eff of the
/// least private task exactly σ.
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
/// closed form. Weighting by α_k² is what makes the noise on task-k segments scale like
/// σ²C²/α_k (DESIGN §5.4); shared segments have α = 1, and the weights are normalized to
/// mean 1 over the job's tasks. That fixes the shape; the scale μ is then set per task
/// (``GroupWiseAllocation/normalized(clips:varianceShape:target:previous:maxChange:)``):
/// over the segments one unit can reach (a record: the shared ones and its own task's,
/// never another task's head), the largest reach precision is made 1/σ².
///
/// **Clips.** A record's task head gets the part `head_clip_share` of its clip budget, the
/// B's the rest (see ``clips(clip:segments:headClipShare:)`` for why not by size).
///
/// **Estimates and instability calibration.** E_g comes from the released norms only:
/// e_g = ‖ĝ_g‖² − d_g·s_g²/B² (unbiased; its noise-only variance is 2d_g·(s_g²/B²)²).
/// Both are smoothed over steps, ê_g = EMA_β(e_g) and its variance u_g, with bias
/// correction; z_g = ê_g/√u_g measures the signal in units of its own noise, and
/// ω_g = (1 − 9/z_g²)₊ is the weight the estimate earns (``reliability(_:)``). Each segment
/// moves geometrically from the uniform allocation towards the optimum by ω_g:
///
///     s_g² ∝ q_g^ω_g / α_g,   q_g = k_g·Σ_h(C_h²/k_h) / C²   (optimum over uniform),
///
/// with E_g floored at 1e-6·√u_g, so a segment whose signal is buried in noise stays
/// uniform. Finally no s_g may change by more than `max_change` per step,
/// and the result is scaled so the least private task has σ_eff = σ. Step 1 has no
/// statistics: s_g² ∝ 1/α_g.
///
/// - Note: the KL objective spends precision where the signal is *weak*: s_g² grows with
///   E_g, and for a clipped segment (E_g ≈ a_g²C_g²) the precision C_g²/s_g² comes out
///   ∝ d_g/a_g, whatever the clips, which would again leave small heads the least. Under
///   Adam in the noise-dominated regime the expected first-order progress is ∝ Σ_g E_g/s_g,
///   whose optimum is the opposite, s_g ∝ C_g²/E_g. On 38-step MiniLM runs the calibration
///   above keeps nearly every segment uniform, so this has not been measured; longer runs
///   should compare the two before the objective is changed.
struct DistortionAllocation {
    /// β, the moving-average factor of the signal estimates.
    let smoothing: Double
    /// The largest factor by which a segment's noise may change in one step.
    let maxChange: Double
    /// α_k, normalized to mean 1 over the job's tasks.
    let taskWeights: [String: Double]
    /// The part of a record's clip budget its task's head gets.
    let headClipShare: Double
    private var signal: [Double] = []
    private var signalVariance: [Double] = []
    private var updates = 0
    private var lastStep: Int?

    /// The z below which a signal estimate earns no weight (see ``reliability(_:)``).
    static let significance = 3.0

    init(smoothing: Double, maxChange: Double, taskWeights: [String: Double], headClipShare: Double) {
        self.smoothing = smoothing
        self.maxChange = maxChange
        self.taskWeights = taskWeights
        self.headClipShare = headClipShare
    }

    /// The group-wise clips: each record's task head gets the part h = `headClipShare` of
    /// the record's clip budget and the shared B's the rest, C_head(k)² = h·X and
    /// C_B² = (1 − h)·X, each spread over its segments in proportion to their sizes; with T
    /// tasks, X = C²/(1 − h + T·h) makes Σ_g C_g² = C². A public rule: it reads shapes,
    /// tasks and an option. Without task segments the B's get all of C² (and without shared
    /// segments the heads do).
    ///
    /// Why not C_g ∝ √d_g over all segments: a record's loss reaches its own task's head
    /// and the shared B's, and the two have nothing like the same per-sample norm. On MiniLM
    /// the head's is ‖p − y‖·‖h‖ ≈ 3–5, all twelve B's together ≈ 0.4; spreading C by size
    /// clipped every head to 2–17% of its gradient while the B's used under a fifth of their
    /// bound, so the noise sized for those bounds bought nothing.
    static func clips(clip: Double, segments: [ParameterSegment], headClipShare: Double) -> [Double] {
        let taskCount = Double(Set(segments.compactMap(\.task)).count)
        let hasShared = segments.contains { $0.task == nil }
        let share = taskCount == 0 ? 0 : hasShared ? headClipShare : 1
        let budget = clip * clip / (1 - share + taskCount * share)
        var sizes: [String?: Int] = [:]
        for segment in segments { sizes[segment.task, default: 0] += segment.count }
        return segments.map { segment in
            let part = segment.task == nil ? 1 - share : share
            return (budget * part * Double(segment.count) / Double(sizes[segment.task] ?? segment.count)).squareRoot()
        }
    }

    /// The weight ω a signal estimate z standard deviations above zero earns:
    /// (1 − z₀²/z²)₊ with z₀ = ``significance``, positive-part James–Stein shrinkage.
    ///
    /// Under pure noise z is about N(0, 1); a weight of z²/(1 + z²) would move a segment
    /// half-way to its "optimum" on a one-σ fluctuation, and with the change limit
    /// compounding step after step the noise levels wandered by ×0.45–×2.25 on MiniLM
    /// while every estimate was buried a hundredfold in noise. Here nothing moves until the
    /// signal clears z₀ = 3 (a 0.13% false alarm per segment and step).
    static func reliability(_ z: Double) -> Double {
        z > significance ? 1 - significance * significance / (z * z) : 0
    }

    /// The next step's allocation; folds `previous` into the moving averages once per step.
    mutating func allocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        let segments = target.segments
        let clips = Self.clips(clip: target.clip, segments: segments, headClipShare: headClipShare)
        let weights = segments.map { segment in segment.task.flatMap { taskWeights[$0] } ?? 1 }
        if let previous, previous.step != lastStep,
           let energies = GroupWiseAllocation.signalEnergies(previous, segments: segments) {
            update(energies: energies, statistics: previous, segments: segments)
        }
        guard let previous, signal.count == segments.count, updates > 0 else {
            return GroupWiseAllocation.normalized(clips: clips, varianceShape: weights.map { 1 / $0 }, target: target)
        }
        let correction = 1 - pow(smoothing, Double(updates))
        var optimum: [Double] = [], reliability: [Double] = []
        for g in segments.indices {
            let estimate = signal[g] / correction
            let spread = signalVariance[g].squareRoot() / correction
            let z = spread > 0 ? max(estimate, 0) / spread : (estimate > 0 ? Double.infinity : 0)
            reliability.append(Self.reliability(z))
            let floored = max(estimate, 1e-6 * spread, .leastNormalMagnitude)
            optimum.append(clips[g] * floored.squareRoot() / Double(segments[g].count))
        }
        let reference = zip(clips, optimum).reduce(0.0) { $0 + $1.0 * $1.0 / $1.1 } / (target.clip * target.clip)
        let shape = segments.indices.map { g in pow(optimum[g] * reference, reliability[g]) / weights[g] }
        let before = previous.allocation
        guard case .groupWise = before.clipping, before.standardDeviations.count == segments.count else {
            return GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target)
        }
        return GroupWiseAllocation.normalized(clips: clips, varianceShape: shape, target: target,
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
