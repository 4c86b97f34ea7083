// SPDX-License-Identifier: Apache-2.0
import Foundation

// Pure Rényi-DP math, in log space. Nothing here holds state; the accountant only adds curves.
//
// Notation: α is the Rényi order (> 1), σ the noise multiplier, q the Poisson sampling rate.
// RDP of a mechanism M at order α is ε(α) = D_α(M(D) ‖ M(D')) maximized over neighbours.

/// log|Γ(x)|, thread-safe (glibc's `lgamma` writes the global `signgam`).
func logAbsGamma(_ x: Double) -> Double {
    var sign: Int32 = 0
    return lgamma_r(x, &sign)
}

/// log|C(n, k)| for real n and integer-valued k, via log-gamma.
///
/// Loops over k pass log Γ(n + 1) in once rather than recompute it every term.
/// For fractional n and k > n the coefficient alternates in sign; only its magnitude is
/// returned because the fractional-order series below sums magnitudes.
func logAbsBinomial(_ n: Double, _ k: Double, logGammaOfNPlusOne: Double) -> Double {
    logGammaOfNPlusOne - logAbsGamma(k + 1) - logAbsGamma(n - k + 1)
}

/// log(erfc(x)/2) = log Φ(−√2 x), accurate over the whole line.
///
/// Where erfc(x)/2 is near 1 (x < 0) it is formed as log1p(−erfc(−x)/2), so the tiny
/// deviation from 1 survives; adding log ½ to log erfc(x) ≈ log 2 would lose it to one ulp
/// of log 2 (~1e-16 absolute, which is 1e-8 relative in an RDP of 1e-8; scipy's log_ndtr,
/// behind dp_accounting, avoids it the same way). For x ≥ 10, where erfc underflows, it
/// uses the asymptotic expansion (Abramowitz & Stegun 7.1.23)
/// erfc(x) = e^(−x²)/(x√π) · Σₙ (−1)ⁿ (2n−1)!! / (2x²)ⁿ, whose terms fall below 1e-17
/// within a dozen steps there; in between glibc's erfc is accurate to a few ulp.
func logHalfErfc(_ x: Double) -> Double {
    if x < 0 { return log1p(-0.5 * erfc(-x)) }
    if x < 10 { return log(0.5 * erfc(x)) }
    let twoXSquared = 2 * x * x
    var term = 1.0
    var sum = 1.0
    var n = 1.0
    while abs(term) > 1e-17 {
        term *= -(2 * n - 1) / twoXSquared
        sum += term
        n += 1
    }
    return -x * x - log(x) - log(2 * Double.pi.squareRoot()) + log(sum)
}

/// RDP of the Gaussian mechanism with sensitivity 1: α / (2σ²) (Mironov 2017, Prop. 7).
func gaussianRDP(noiseMultiplier sigma: Double, order alpha: Double) -> Double {
    alpha / (2 * sigma * sigma)
}

/// RDP of the Poisson-subsampled Gaussian mechanism under add-or-remove-one adjacency.
///
/// ε(α) = log A_α / (α − 1), with A_α = E_{z∼μ₀}[(μ(z)/μ₀(z))^α], μ₀ = N(0, σ²),
/// μ = (1 − q)N(0, σ²) + qN(1, σ²) (Mironov, Talwar, Zhang 2019, "Rényi Differential
/// Privacy of the Sampled Gaussian Mechanism", Sec. 3). Integer α uses the exact binomial
/// expansion (Sec. 3.2); fractional α the two-sided series of Sec. 3.3, as dp_accounting
/// evaluates it (summing term magnitudes, a safe upper bound). When that series does not
/// settle within ``fractionalSeriesMaxTerms`` terms the order is excluded: the result is +∞,
/// exactly as dp_accounting 0.6 excludes it.
///
/// - Returns: the RDP at `alpha`; 0 for q = 0 or σ = ∞, +∞ for σ = 0 or an excluded order.
func poissonSubsampledGaussianRDP(samplingRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
    if q == 0 { return 0 }
    if alpha.isInfinite || sigma == 0 { return .infinity }
    if sigma.isInfinite { return 0 }
    if q == 1 { return gaussianRDP(noiseMultiplier: sigma, order: alpha) }
    let logA = alpha.rounded() == alpha
        ? subsampledGaussianLogAIntegerOrder(samplingRate: q, noiseMultiplier: sigma, order: alpha)
        : subsampledGaussianLogAFractionalOrder(samplingRate: q, noiseMultiplier: sigma, order: alpha)
    return logA / (alpha - 1)
}

/// log A_α for integer α: A_α = Σ_{i=0..α} C(α, i) qⁱ (1 − q)^(α−i) e^((i² − i)/(2σ²))
/// (Mironov, Talwar, Zhang 2019, Sec. 3.2), the mean of e^((I² − I)/(2σ²)) for
/// I ∼ Binomial(α, q).
///
/// Summed naively, A_α ≈ 1 for small q or large σ and log A_α loses everything below one
/// ulp of 1, so the result can fall below the exact value by ~1e-10 relative. Since the
/// binomial weights sum to 1 and the i = 0, 1 terms have exponent 0,
///   A_α − 1 = Σ_{i=2..α} C(α, i) qⁱ (1 − q)^(α−i) (e^((i² − i)/(2σ²)) − 1),
/// a sum of positive terms with no cancellation; log A_α = log(1 + (A_α − 1)).
func subsampledGaussianLogAIntegerOrder(samplingRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
    let logQ = log(q)
    let log1mQ = log1p(-q)
    let twoSigmaSquared = 2 * sigma * sigma
    let logGammaOfAlphaPlusOne = logAbsGamma(alpha + 1)
    var logAMinusOne = -Double.infinity
    var i = 2.0
    while i <= alpha {
        let logWeight = logAbsBinomial(alpha, i, logGammaOfNPlusOne: logGammaOfAlphaPlusOne) + i * logQ + (alpha - i) * log1mQ
        logAMinusOne = logAddExp(logAMinusOne, logWeight + logExpm1((i * i - i) / twoSigmaSquared))
        i += 1
    }
    return logAddExp(0, logAMinusOne)
}

/// log(eˣ − 1) for x > 0, without overflow for large x or cancellation for small x.
func logExpm1(_ x: Double) -> Double {
    x > 30 ? x + log1p(-exp(-x)) : log(expm1(x))
}

/// How many terms of the fractional-order series are tried before the order is excluded
/// (dp_accounting 0.6's `_MAX_STEPS_LOG_A_FRAC`).
let fractionalSeriesMaxTerms = 1000

/// log A_α for fractional α, or +∞ when the series does not settle.
///
/// Splits the integral at z₀ = σ² log(1/q − 1) + 1/2, where μ and μ₀ cross, and expands each
/// side binomially (Mironov, Talwar, Zhang 2019, Sec. 3.3):
///   A₀ = Σᵢ |C(α, i)| qⁱ (1 − q)^(α−i) e^((i² − i)/(2σ²)) · ½ erfc((i − z₀)/(√2 σ))
///   A₁ = Σᵢ |C(α, i)| q^(α−i) (1 − q)ⁱ e^((j² − j)/(2σ²)) · ½ erfc((z₀ − j)/(√2 σ)), j = α − i.
/// The sum stops once both terms are decreasing and more than e³⁰ below the running total.
/// That stopping rule, and the cap of ``fractionalSeriesMaxTerms`` terms, decide which orders
/// dp_accounting excludes; reproducing them is what makes the excluded orders agree.
func subsampledGaussianLogAFractionalOrder(samplingRate q: Double, noiseMultiplier sigma: Double, order alpha: Double) -> Double {
    let logQ = log(q)
    let log1mQ = log1p(-q)
    let sigmaSquared = sigma * sigma
    let z0 = sigmaSquared * log(1 / q - 1) + 0.5
    let erfcScale = (2.0).squareRoot() * sigma
    let logGammaOfAlphaPlusOne = logAbsGamma(alpha + 1)
    var logA0 = -Double.infinity
    var logA1 = -Double.infinity
    var previousLogS0 = -Double.infinity
    var previousLogS1 = -Double.infinity
    for step in 0..<fractionalSeriesMaxTerms {
        let i = Double(step)
        let j = alpha - i
        let logCoefficient = logAbsBinomial(alpha, i, logGammaOfNPlusOne: logGammaOfAlphaPlusOne)
        let logS0 = logCoefficient + i * logQ + j * log1mQ + (i * i - i) / (2 * sigmaSquared)
            + logHalfErfc((i - z0) / erfcScale)
        let logS1 = logCoefficient + j * logQ + i * log1mQ + (j * j - j) / (2 * sigmaSquared)
            + logHalfErfc((z0 - j) / erfcScale)
        logA0 = logAddExp(logA0, logS0)
        logA1 = logAddExp(logA1, logS1)
        let total = logAddExp(logA0, logA1)
        if logS0 < previousLogS0 && logS1 < previousLogS1 && max(logS0, logS1) < total - 30 {
            return total
        }
        previousLogS0 = logS0
        previousLogS1 = logS1
    }
    return .infinity
}

/// RDP of k-ary randomized response that keeps the true value with probability
/// e^ε / (e^ε + k − 1) (``DpEvent/randomizedResponse(k:epsilon:)``), under replacement of
/// the value.
///
/// The worst pair of output distributions is P = (a, b, …, b), Q = (b, a, b, …, b) with
/// a = e^ε b, b = 1/(e^ε + k − 1), so (Mironov 2017, Def. 3)
///   (α − 1) ε(α) = log(a^α b^(1−α) + b^α a^(1−α) + (k − 2) b)
///               = log(e^(αε) + e^((1−α)ε) + k − 2) − log(e^ε + k − 1),
/// evaluated as a log-sum-exp so large ε and α do not overflow. It is symmetric in P and Q,
/// and tends to ε as α → ∞ (pure ε-DP).
func randomizedResponseRDP(k: Int, epsilon: Double, order alpha: Double) -> Double {
    if k <= 1 || epsilon == 0 { return 0 }
    if epsilon.isInfinite { return .infinity }
    if alpha.isInfinite { return epsilon }
    let others = Double(k - 2)
    var logNumerator = logAddExp(alpha * epsilon, (1 - alpha) * epsilon)
    if others > 0 { logNumerator = logAddExp(logNumerator, log(others)) }
    let logDenominator = logAddExp(epsilon, log(Double(k - 1)))
    return (logNumerator - logDenominator) / (alpha - 1)
}
