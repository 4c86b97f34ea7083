// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg

// Pure math for privacy loss distributions (PLDs), in the construction of Google's
// dp_accounting (pld/privacy_loss_mechanism.py, pld/pld_pmf.py, pld/common.py) and of
//   [CtD] Doroshenko, Ghazi, Kamath, Kumar, Manurangsi, "Connect the Dots: Tighter Discrete
//         Approximations of Privacy Loss Distributions", PoPETs 2022 (arXiv:2207.04380);
//   [KJH] Koskela, Jälkö, Honkela, "Computing Tight Differential Privacy Guarantees Using
//         FFT", AISTATS 2020;
//   [Sup] dp_accounting's "Privacy Loss Distributions" supplementary material.
//
// Notation: a mechanism has an "upper" output distribution μ_upper and a "lower" one μ_lower;
// its privacy loss at outcome x is ln(μ_upper(x)/μ_lower(x)) with x ~ μ_upper, and its
// ε-hockey-stick divergence δ(ε) = ∫ [μ_upper − e^ε μ_lower]_+ is the δ at which it is
// (ε, δ)-DP ([Sup] Observation 1).

/// Which direction of the neighbouring relation a PLD describes ([Sup] §1).
///
/// Under add-or-remove adjacency with Poisson sampling the two directions differ and an
/// accountant must take the worse of both.
enum PLDAdjacency: Sendable {
    /// μ_upper = (1−q)·N(0,σ²) + q·N(−s,σ²), μ_lower = N(0,σ²).
    case remove
    /// μ_upper = N(0,σ²), μ_lower = (1−q)·N(0,σ²) + q·N(s,σ²).
    case add
}

// MARK: - Log-space helpers

/// ln(e^a + e^b), stable for any finite or −∞ arguments.
func logAddExp(_ a: Double, _ b: Double) -> Double {
    let high = max(a, b), low = min(a, b)
    if high == -.infinity { return -.infinity }
    return high + log1p(exp(low - high))
}

/// ln(a·e^b + c) for a > 0, as dp_accounting's `log_a_times_exp_b_plus_c`; the caller
/// guarantees the argument is positive (c may be negative).
func logATimesExpBPlusC(_ a: Double, _ b: Double, _ c: Double) -> Double {
    let d = b + log(a)
    if c == 0 { return d }
    if c > 0 { return logAddExp(d, log(c)) }
    // ln(e^d − |c|) = d + ln(1 − |c| e^{−d})
    return d + log1p(-exp(log(-c) - d))
}

// MARK: - Standard normal distribution

/// Φ(z), the standard normal CDF.
func standardNormalCDF(_ z: Double) -> Double {
    0.5 * erfc(-z / 2.0.squareRoot())
}

/// ln Φ(z), accurate in both tails (Φ(z) underflows below z ≈ −38).
func standardNormalLogCDF(_ z: Double) -> Double {
    if z > 0 { return log1p(-0.5 * erfc(z / 2.0.squareRoot())) }
    if z > -30 { return log(0.5 * erfc(-z / 2.0.squareRoot())) }
    // Mills-ratio asymptotic series (Abramowitz & Stegun 26.2.12): relative error < 1e-16 here.
    let z2 = z * z
    let series = 1 - 1 / z2 + 3 / (z2 * z2) - 15 / (z2 * z2 * z2) + 105 / (z2 * z2 * z2 * z2)
    return -0.5 * z2 - log(-z) - 0.5 * log(2 * Double.pi) + log(series)
}

/// z with ln Φ(z) = `logProbability` (< ln ½), by Newton's method on ln Φ, which is concave
/// and increasing, so iterates from the left converge monotonically.
func standardNormalQuantile(logProbability target: Double) -> Double {
    precondition(target < log(0.5), "quantile below the median expected; found ln p = \(target)")
    var z = -(-2 * target).squareRoot()  // left of the root: ln Φ(z) < −z²/2 for z < 0
    for _ in 0..<100 {
        let value = standardNormalLogCDF(z)
        let logDensity = -0.5 * z * z - 0.5 * log(2 * Double.pi)
        let step = (value - target) / exp(logDensity - value)
        z -= step
        if abs(step) <= 1e-15 * abs(z) { break }
    }
    return z
}

// MARK: - Subsampled Gaussian mechanism ([Sup] §3; dp_accounting GaussianPrivacyLoss)

/// The Poisson-subsampled Gaussian mechanism in one adjacency direction: noise N(0, σ²),
/// sensitivity s, sampling probability q ∈ (0, 1].
struct SubsampledGaussianLoss: Sendable {
    let sigma: Double
    let sensitivity: Double
    let samplingProbability: Double
    let adjacency: PLDAdjacency

    /// Loss of the unsampled mechanism (remove direction): s(−s/2 − x)/σ².
    private func unsampledLoss(_ x: Double) -> Double {
        sensitivity * (-0.5 * sensitivity - x) / (sigma * sigma)
    }

    /// The x at which `unsampledLoss` equals `loss`.
    private func unsampledInverse(_ loss: Double) -> Double {
        -0.5 * sensitivity - loss * sigma * sigma / sensitivity
    }

    /// The privacy loss at x; non-increasing in x.
    ///
    /// Remove: ln(1 − q + q·e^{L₀(x)}). Add: −(remove loss at −x) by symmetry of the noise.
    func loss(_ x: Double) -> Double {
        let q = samplingProbability
        switch adjacency {
        case .remove:
            return q == 1 ? unsampledLoss(x) : logATimesExpBPlusC(q, unsampledLoss(x), 1 - q)
        case .add:
            return q == 1 ? -unsampledLoss(-x) : -logATimesExpBPlusC(q, unsampledLoss(-x), 1 - q)
        }
    }

    /// The largest x whose loss is ≥ `loss`, for a loss inside the range of `loss(_:)`.
    func inverseLoss(_ loss: Double) -> Double {
        let q = samplingProbability
        switch adjacency {
        case .remove:
            if q == 1 { return unsampledInverse(loss) }
            // L₀ = ln((e^ℓ − (1 − q))/q)
            return unsampledInverse(logATimesExpBPlusC(1 / q, loss, 1 - 1 / q))
        case .add:
            if q == 1 { return sensitivity + unsampledInverse(loss) }
            return sensitivity + unsampledInverse(-logATimesExpBPlusC(1 / q, -loss, 1 - 1 / q))
        }
    }

    /// ln F_lower(x), for where F_lower underflows.
    private func lowerLogCDF(_ x: Double) -> Double {
        let q = samplingProbability
        switch adjacency {
        case .remove:
            return standardNormalLogCDF(x / sigma)
        case .add:
            let shifted = standardNormalLogCDF((x - sensitivity) / sigma)
            if q == 1 { return shifted }
            return logAddExp(log1p(-q) + standardNormalLogCDF(x / sigma), log(q) + shifted)
        }
    }

    /// δ(ε), the ε-hockey-stick divergence, exactly (up to rounding).
    ///
    /// Because the loss is monotone, the set where it exceeds ε is x ≤ x*(ε), so
    /// δ(ε) = F_upper(x*) − e^ε F_lower(x*) ([Sup] §3). Outside the loss range the divergence
    /// is 1 − e^ε (remove, ε ≤ ln(1−q)) or 0 (add, ε ≥ −ln(1−q)).
    func hockeyStick(epsilon: Double) -> Double {
        let q = samplingProbability
        if q < 1 {
            switch adjacency {
            case .remove where epsilon <= log1p(-q): return -expm1(epsilon)
            case .add where epsilon >= -log1p(-q): return 0
            default: break
            }
        }
        let x = inverseLoss(epsilon)
        let (upper, lower) = distributions(at: x, tail: .lower)
        let scaledLower = lower > 1e-290 && epsilon < 700 ? exp(epsilon) * lower : exp(epsilon + lowerLogCDF(x))
        return min(max(upper - scaledLower, 0), 1)
    }

    /// δ(ε) with h(ε) = δ(ε) − (1 − e^ε) ≥ 0, δ less the floor 1 − e^ε that every mechanism has.
    ///
    /// Below ε = 0 δ lies within h of that floor, and the masses of the low losses are second
    /// differences of h: taken from δ they drown in its rounding (≈ 10⁻¹⁶/(e^Δ − 1) each; a
    /// third of the add direction's grid clipped to 0 and its mass 1 + 2·10⁻⁸, compounding
    /// over T steps). So below 0, h = e^ε·S_lower(x*) − S_upper(x*) is computed from the
    /// survival functions S and δ derived from it; from 0 up, δ is computed and h derived. Near
    /// 0, where connect-the-dots changes from one to the other, both then agree to δ(0)'s
    /// rounding.
    func hockeyStickAndExcess(epsilon: Double) -> (delta: Double, excess: Double) {
        guard epsilon < 0 else {
            let delta = hockeyStick(epsilon: epsilon)
            return (delta, delta + expm1(epsilon))
        }
        let excess: Double
        let q = samplingProbability
        if q < 1 && adjacency == .remove && epsilon <= log1p(-q) {
            excess = 0
        } else {
            let (upper, lower) = distributions(at: inverseLoss(epsilon), tail: .upper)
            excess = max(exp(epsilon) * lower - upper, 0)
        }
        return (min(excess - expm1(epsilon), 1), excess)
    }

    /// Which tail of the output distributions ``distributions(at:tail:)`` gives.
    private enum Tail {
        /// The CDFs F(x).
        case lower
        /// The survival functions S(x) = 1 − F(x), which keep their digits where F ≈ 1.
        case upper
    }

    /// μ_upper's and μ_lower's CDFs (or survival functions) at x. They share Φ(±x/σ) and
    /// Φ(±(x ± s)/σ): remove has upper = mixture, lower = N(0, σ²); add has upper =
    /// N(0, σ²), lower = mixture.
    private func distributions(at x: Double, tail: Tail) -> (upper: Double, lower: Double) {
        let q = samplingProbability
        let sign = tail == .lower ? 1.0 : -1.0
        let plain = standardNormalCDF(sign * x / sigma)
        let shifted = standardNormalCDF(sign * (x + (adjacency == .remove ? sensitivity : -sensitivity)) / sigma)
        let mixture = q == 1 ? shifted : (1 - q) * plain + q * shifted
        return adjacency == .remove ? (mixture, plain) : (plain, mixture)
    }

    /// The losses at the ends of the noise truncation, [low, high] (dp_accounting's
    /// `connect_dots_bounds`): each Gaussian component loses at most ½·e^{logMassTruncation}
    /// on either side.
    func lossRange(logMassTruncation: Double) -> (low: Double, high: Double) {
        var lowerX = sigma * standardNormalQuantile(logProbability: log(0.5) + logMassTruncation)
        var upperX = -lowerX
        switch adjacency {
        case .remove: lowerX -= sensitivity
        case .add: upperX += sensitivity
        }
        return (loss(upperX), loss(lowerX))
    }
}

// MARK: - Discretization ([CtD] Algorithm 1)

/// Pessimistic connect-the-dots probabilities on the grid ε_i = (lower + i)·Δ, i = 0..<n.
///
/// With δ_i = δ(ε_i) (made non-increasing) the masses are ([CtD] Alg. 1, fixed gap):
///   p_0 = 1 − δ_0 + (δ_1 − δ_0)/(e^Δ − 1),
///   p_i = ((δ_{i+1} − δ_i) − e^Δ (δ_i − δ_{i−1}))/(e^Δ − 1),
///   p_{n−1} = (δ_{n−1} − δ_{n−2})/(e^{−Δ} − 1),
/// clipped at 0, and the infinity mass is δ_{n−1}. The resulting PLD dominates the true one
/// for every ε (it never under-reports δ).
///
/// The floor 1 − e^ε of δ has second differences exactly 0, so each p_i (i < n − 1) is the
/// same expression in the excesses h_i = δ_i − (1 − e^{ε_i}), with p_0 = −h_0 + (h_1 − h_0)/(e^Δ − 1).
/// Each mass is taken from whichever of δ_i and h_i is smaller (h below ε = 0, δ from 0 up),
/// the one whose rounding is smaller. The masses telescope to 1 − δ_{n−1} either way, so the
/// total stays 1 to rounding instead of gaining the clipped noise that composition compounds.
///
/// - Returns: the probabilities and the infinity mass.
func connectTheDotsMasses(deltas input: [Double], excesses: [Double], interval: Double) -> (probabilities: [Double], infinityMass: Double) {
    precondition(!input.isEmpty, "connect-the-dots needs at least one epsilon")
    precondition(excesses.count == input.count, "one excess per delta expected; found \(excesses.count) for \(input.count)")
    var deltas = input
    for i in 1..<deltas.count { deltas[i] = min(deltas[i], deltas[i - 1]) }
    let n = deltas.count
    guard n > 1 else { return ([1 - deltas[0]], deltas[0]) }
    let expm1Up = expm1(interval), expUp = exp(interval), expm1Down = expm1(-interval)
    var probabilities = [Double](repeating: 0, count: n)
    probabilities[0] = excesses[0] < deltas[0]
        ? -excesses[0] + (excesses[1] - excesses[0]) / expm1Up
        : 1 - deltas[0] + (deltas[1] - deltas[0]) / expm1Up
    if n > 2 {
        for i in 1..<(n - 1) {
            let v = excesses[i] < deltas[i] ? excesses : deltas
            probabilities[i] = ((v[i + 1] - v[i]) - expUp * (v[i] - v[i - 1])) / expm1Up
        }
    }
    probabilities[n - 1] = (deltas[n - 1] - deltas[n - 2]) / expm1Down
    for i in 0..<n where !(probabilities[i] > 0) { probabilities[i] = 0 }
    return (probabilities, deltas[n - 1])
}

// MARK: - Hockey-stick divergence of a discrete PLD

/// δ(ε) = m_∞ + Σ_{ℓ_i > ε} (1 − e^{ε − ℓ_i}) p_i for losses ℓ_i = (lower + i)·Δ.
func discreteDelta(epsilon: Double, lowerIndex: Int, interval: Double,
                   probabilities: [Double], infinityMass: Double) -> Double {
    var delta = infinityMass
    var i = probabilities.count - 1
    while i >= 0 {
        let loss = Double(lowerIndex + i) * interval
        if loss <= epsilon { break }
        delta += -expm1(epsilon - loss) * probabilities[i]
        i -= 1
    }
    return delta
}

/// The smallest ε ≥ 0 with δ(ε) ≤ `delta`, or +∞ when the infinity mass alone exceeds it.
///
/// Walks the losses downwards accumulating U = m_∞ + Σ_{ℓ_i>ε} p_i and
/// L = Σ_{ℓ_i>ε} e^{−ℓ_i} p_i; on each segment δ(ε) = U − e^ε L, so ε = ln((U − δ)/L), valid
/// once it is at least the next loss (dp_accounting `_get_epsilon_for_delta`).
func discreteEpsilon(delta: Double, lowerIndex: Int, interval: Double,
                     probabilities: [Double], infinityMass: Double) -> Double {
    if infinityMass > delta { return .infinity }
    var massUpper = infinityMass
    var massLower = 0.0
    var i = probabilities.count - 1
    while i >= 0 {
        let loss = Double(lowerIndex + i) * interval
        if massUpper > delta && massLower > 0 && log((massUpper - delta) / massLower) >= loss { break }
        massUpper += probabilities[i]
        massLower += exp(-loss) * probabilities[i]
        if massUpper >= delta && massLower == 0 { return max(0, loss) }
        i -= 1
    }
    if massUpper <= massLower + delta { return 0 }
    return log((massUpper - delta) / massLower)
}

// MARK: - Truncation

/// Index bounds [low, high] outside which the `count`-fold self-convolution of
/// `probabilities` has at most `tailMass` in total, by the Chernoff bound
/// P[S ≥ a] ≤ M(t)^T e^{−ta} at orders t = ±k/n, k = 1…20 ([Sup] eq. 5; dp_accounting
/// `compute_self_convolve_bounds`).
func selfConvolutionBounds(probabilities: [Double], count: Int, tailMass: Double) -> (low: Int, high: Int) {
    let n = probabilities.count
    var low = 0
    // Clamped so that high − low + 1 cannot overflow; a grid that long is refused anyway.
    let (full, overflow) = (n - 1).multipliedReportingOverflow(by: count)
    var high = overflow ? Int.max / 2 : min(full, Int.max / 2)
    guard tailMass > 0 else { return (low, high) }
    let logSlack = log(2 / tailMass)
    let orders = (-20...20).filter { $0 != 0 }.map { Double($0) / Double(n) }
    // ln M(t) = ln Σ_i p_i e^{t·i} at each order, one order per task; |t·i| < 20, so the powers
    // cannot overflow.
    var logMGFs = [Double](repeating: 0, count: orders.count)
    logMGFs.withUnsafeMutableBufferPointer { buffer in
        let output = SharedMutablePointer(buffer.baseAddress!)
        concurrentChunks(orders.count, minimumChunk: 1) { range in
            for index in range {
                let ratio = exp(orders[index])
                var power = 1.0
                var sum = 0.0
                for p in probabilities {
                    sum += p * power
                    power *= ratio
                }
                output.base[index] = log(sum)
            }
        }
    }
    for (order, logMGF) in zip(orders, logMGFs) {
        let bound = (Double(count) * logMGF + logSlack) / order
        guard bound.isFinite else { continue }
        let clamped = min(max(bound, 0), Double(Int.max / 2))
        if order > 0 {
            high = min(high, Int(clamped.rounded(.up)))
        } else {
            low = max(low, Int(clamped.rounded(.down)))
        }
    }
    return (low, high)
}

/// Drops the longest prefix and suffix each holding at most `tailMass`/2.
///
/// Pessimistic: the prefix mass moves up to the first kept loss, the suffix mass goes to +∞.
///
/// - Returns: the index of the first kept entry, the kept entries, and the mass sent to ∞.
func truncateTails(_ probabilities: [Double], tailMass: Double) -> (offset: Int, kept: [Double], toInfinity: Double) {
    guard tailMass > 0, !probabilities.isEmpty else { return (0, probabilities, 0) }
    let n = probabilities.count
    func prefixLength(_ index: (Int) -> Int) -> Int {
        var sum = 0.0
        for i in 0..<n {
            sum += probabilities[index(i)]
            if sum > tailMass / 2 { return i }
        }
        return n
    }
    let left = prefixLength { $0 }
    let right = max(n - prefixLength { n - 1 - $0 }, left + 1)
    guard left < n else { return (0, probabilities, 0) }
    var kept = Array(probabilities[left..<min(right, n)])
    kept[0] += probabilities[0..<left].reduce(0, +)
    let toInfinity = right < n ? probabilities[right...].reduce(0, +) : 0
    return (left, kept, toInfinity)
}
