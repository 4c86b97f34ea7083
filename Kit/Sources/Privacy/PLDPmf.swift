// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A discretized privacy loss distribution in one adjacency direction: mass `probabilities[i]`
/// at loss (lowerIndex + i)·interval, plus `infinityMass` at +∞.
///
/// Dense, because after a few compositions every grid point carries mass; composition is a
/// convolution of the probability vectors (losses add), done by FFT ([KJH]).
struct PLDPmf: Sendable {
    let interval: Double
    let lowerIndex: Int
    let probabilities: [Double]
    let infinityMass: Double

    /// Mass drawn off each composition's tails (dp_accounting's default `tail_mass_truncation`),
    /// pessimistically: the lower tail moves up, the upper tail goes to +∞.
    static let tailMassTruncation = 1e-15

    /// The PLD of a mechanism that reveals nothing: all mass at loss 0.
    static func identity(interval: Double) -> PLDPmf {
        PLDPmf(interval: interval, lowerIndex: 0, probabilities: [1], infinityMass: 0)
    }

    /// Pessimistic connect-the-dots PLD of the subsampled Gaussian ([CtD] Algorithm 1).
    ///
    /// The grid runs from ⌊ℓ_low/Δ⌋ to ⌈ℓ_high/Δ⌉ where [ℓ_low, ℓ_high] is the loss range after
    /// truncating e^{−50} of each noise component (dp_accounting's `log_mass_truncation_bound`),
    /// and each grid point's mass comes from the exact hockey-stick divergence there.
    static func subsampledGaussian(_ mechanism: SubsampledGaussianLoss, interval: Double) -> PLDPmf {
        let range = mechanism.lossRange(logMassTruncation: -50)
        let low = Int((range.low / interval).rounded(.down))
        let high = Int((range.high / interval).rounded(.up))
        var deltas = [Double](repeating: 0, count: high - low + 1)
        for i in deltas.indices {
            deltas[i] = mechanism.hockeyStick(epsilon: Double(low + i) * interval)
        }
        let masses = connectTheDotsMasses(deltas: deltas, interval: interval)
        return PLDPmf(interval: interval, lowerIndex: low, probabilities: masses.probabilities,
                      infinityMass: masses.infinityMass)
    }

    /// A PLD with finitely many losses, each rounded up to the grid (pessimistic).
    static func rounded(losses: [(loss: Double, probability: Double)], interval: Double) -> PLDPmf {
        let indices = losses.map { Int(($0.loss / interval).rounded(.up)) }
        let low = indices.min() ?? 0
        var probabilities = [Double](repeating: 0, count: (indices.max() ?? 0) - low + 1)
        for (index, entry) in zip(indices, losses) { probabilities[index - low] += entry.probability }
        return PLDPmf(interval: interval, lowerIndex: low, probabilities: probabilities, infinityMass: 0)
    }

    /// The PLD of running both mechanisms: losses add, so the masses convolve.
    func composed(with other: PLDPmf) -> PLDPmf {
        precondition(interval == other.interval, "PLDs with intervals \(interval) and \(other.interval) cannot compose")
        let length = probabilities.count + other.probabilities.count - 1
        let fft = FFT(count: FFT.length(atLeast: length))
        var (aRe, aIm) = Self.spectrum(probabilities, fft: fft)
        let (bRe, bIm) = Self.spectrum(other.probabilities, fft: fft)
        for k in 0..<fft.count {
            let re = aRe[k] * bRe[k] - aIm[k] * bIm[k]
            aIm[k] = aRe[k] * bIm[k] + aIm[k] * bRe[k]
            aRe[k] = re
        }
        fft.transform(real: &aRe, imaginary: &aIm, inverse: true)
        let truncated = truncateTails(Array(aRe[0..<length]), tailMass: Self.tailMassTruncation)
        let infinity = infinityMass + other.infinityMass - infinityMass * other.infinityMass
        return PLDPmf(interval: interval, lowerIndex: lowerIndex + other.lowerIndex + truncated.offset,
                      probabilities: truncated.kept, infinityMass: infinity + truncated.toInfinity)
    }

    /// The PLD of `count` runs, by raising the Fourier transform to the power `count`.
    ///
    /// Only the index window holding all but `tailMassTruncation` of the result (Chernoff
    /// bound) is kept, so the transform need only be as long as that window: the cyclic
    /// wrap-around folds in at most that much mass, which is also charged to +∞.
    func selfComposed(_ count: Int) -> PLDPmf {
        precondition(count >= 1, "self-composition count must be ≥ 1; found \(count)")
        if count == 1 { return self }
        let tail = Self.tailMassTruncation
        let bounds = selfConvolutionBounds(probabilities: probabilities, count: count, tailMass: tail)
        let length = bounds.high - bounds.low + 1
        let fft = FFT(count: FFT.length(atLeast: max(length, probabilities.count)))
        var (re, im) = Self.spectrum(probabilities, fft: fft)
        for k in 0..<fft.count {
            (re[k], im[k]) = Self.power(re[k], im[k], count)
        }
        fft.transform(real: &re, imaginary: &im, inverse: true)
        let n = fft.count
        var window = [Double](repeating: 0, count: length)
        let start = bounds.low % n
        for j in 0..<length { window[j] = re[(start + j) % n] }
        // 1 − (1 − m)^T, computed stably, plus the truncated tails.
        let infinity = tail - expm1(Double(count) * log1p(-infinityMass))
        return PLDPmf(interval: interval, lowerIndex: lowerIndex * count + bounds.low,
                      probabilities: window, infinityMass: infinity)
    }

    func delta(epsilon: Double) -> Double {
        discreteDelta(epsilon: epsilon, lowerIndex: lowerIndex, interval: interval,
                      probabilities: probabilities, infinityMass: infinityMass)
    }

    func epsilon(delta: Double) -> Double {
        discreteEpsilon(delta: delta, lowerIndex: lowerIndex, interval: interval,
                        probabilities: probabilities, infinityMass: infinityMass)
    }

    private static func spectrum(_ values: [Double], fft: FFT) -> ([Double], [Double]) {
        var re = [Double](repeating: 0, count: fft.count)
        var im = [Double](repeating: 0, count: fft.count)
        re.replaceSubrange(0..<values.count, with: values)
        fft.transform(real: &re, imaginary: &im, inverse: false)
        return (re, im)
    }

    /// (re + i·im)^exponent by repeated squaring: about 2·log2(exponent) complex products, each
    /// adding one rounding, so the relative error stays near log2(exponent)·ε_machine.
    private static func power(_ re: Double, _ im: Double, _ exponent: Int) -> (Double, Double) {
        var (resultRe, resultIm) = (1.0, 0.0)
        var (baseRe, baseIm) = (re, im)
        var e = exponent
        while e > 0 {
            if e & 1 == 1 {
                (resultRe, resultIm) = (resultRe * baseRe - resultIm * baseIm, resultRe * baseIm + resultIm * baseRe)
            }
            e >>= 1
            if e > 0 {
                (baseRe, baseIm) = (baseRe * baseRe - baseIm * baseIm, 2 * baseRe * baseIm)
            }
        }
        return (resultRe, resultIm)
    }
}
