// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg

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

    /// Mass a self-composition may lose beyond its truncated tails before it is refused. At
    /// counts so large that T·ln M(t) in the window bounds, or the powers' phases, keep no
    /// correct digit, the result's mass vanishes (8·10^16 steps gave an empty window and
    /// ε = 0); lost mass only ever moves ε down, so it is refused rather than priced. Rounding
    /// moves the mass by about 10^-8 at ten million steps.
    static let massLossTolerance = 1e-9

    /// The default longest grid or transform built (2^25 Doubles, 256 MiB per array): beyond
    /// it a mechanism is refused rather than exhausting memory. An accountant may set less.
    static let maximumLength = 1 << 25

    private static func checkLength(_ length: Int, _ what: @autoclosure () -> String, interval: Double, limit: Int) throws {
        guard length > limit else { return }
        throw PrivacyError(.gridTooLarge,
                           "\(what()) needs \(length) loss grid points at interval \(interval), over the limit of \(limit); use a coarser valueDiscretizationInterval")
    }

    /// Throws unless the grid of `subsampledGaussian(mechanism, interval:)` fits `limit` points;
    /// cheap, so the accountant checks before building anything.
    static func checkGrid(_ mechanism: SubsampledGaussianLoss, interval: Double, limit: Int = maximumLength) throws {
        let range = mechanism.lossRange(logMassTruncation: -50)
        let points = (range.high - range.low) / interval
        try checkLength(points < Double(Int.max / 2) ? Int(points) : .max,
                        "the Gaussian with σ = \(mechanism.sigma), q = \(mechanism.samplingProbability)",
                        interval: interval, limit: limit)
    }

    /// The PLD of a mechanism that reveals nothing: all mass at loss 0.
    static func identity(interval: Double) -> PLDPmf {
        PLDPmf(interval: interval, lowerIndex: 0, probabilities: [1], infinityMass: 0)
    }

    /// Pessimistic connect-the-dots PLD of the subsampled Gaussian ([CtD] Algorithm 1).
    ///
    /// The grid runs from ⌊ℓ_low/Δ⌋ to ⌈ℓ_high/Δ⌉ where [ℓ_low, ℓ_high] is the loss range after
    /// truncating e^{−50} of each noise component (dp_accounting's `log_mass_truncation_bound`),
    /// and each grid point's mass comes from the exact hockey-stick divergence there.
    static func subsampledGaussian(
        _ mechanism: SubsampledGaussianLoss, interval: Double, limit: Int = maximumLength
    ) throws -> PLDPmf {
        try checkGrid(mechanism, interval: interval, limit: limit)
        let range = mechanism.lossRange(logMassTruncation: -50)
        let low = Int((range.low / interval).rounded(.down))
        let high = Int((range.high / interval).rounded(.up))
        var deltas = [Double](repeating: 0, count: high - low + 1)
        var excesses = deltas
        deltas.withUnsafeMutableBufferPointer { deltaBuffer in
            excesses.withUnsafeMutableBufferPointer { excessBuffer in
                let delta = SharedMutablePointer(deltaBuffer.baseAddress!)
                let excess = SharedMutablePointer(excessBuffer.baseAddress!)
                concurrentChunks(deltaBuffer.count, minimumChunk: 1 << 13) { range in
                    for i in range {
                        (delta.base[i], excess.base[i]) = mechanism.hockeyStickAndExcess(epsilon: Double(low + i) * interval)
                    }
                }
            }
        }
        let masses = connectTheDotsMasses(deltas: deltas, excesses: excesses, interval: interval)
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
    func composed(with other: PLDPmf, limit: Int = maximumLength) throws -> PLDPmf {
        precondition(interval == other.interval, "PLDs with intervals \(interval) and \(other.interval) cannot compose")
        let length = probabilities.count + other.probabilities.count - 1
        try Self.checkLength(length, "the composition", interval: interval, limit: limit)
        let fft = FFT.shared(count: FFT.length(atLeast: length))
        var (aRe, aIm) = Self.spectrum(probabilities, fft: fft)
        let (bRe, bIm) = Self.spectrum(other.probabilities, fft: fft)
        for k in 0..<fft.count {
            let re = aRe[k] * bRe[k] - aIm[k] * bIm[k]
            aIm[k] = aRe[k] * bIm[k] + aIm[k] * bRe[k]
            aRe[k] = re
        }
        fft.inverseFromBitReversed(real: &aRe, imaginary: &aIm)
        let truncated = truncateTails(Array(aRe[0..<length]), tailMass: Self.tailMassTruncation)
        let infinity = infinityMass + other.infinityMass - infinityMass * other.infinityMass
        return PLDPmf(interval: interval, lowerIndex: lowerIndex + other.lowerIndex + truncated.offset,
                      probabilities: truncated.kept, infinityMass: infinity + truncated.toInfinity)
    }

    /// The PLD of `count` runs, by raising the Fourier transform to the power `count`.
    func selfComposed(_ count: Int, limit: Int = maximumLength) throws -> PLDPmf {
        try Self.selfComposed([self], count, limit: limit)[0]
    }

    /// Each of one or two PLDs composed `count` times with itself, sharing one FFT.
    ///
    /// Only the index window holding all but `tailMassTruncation` of each result (Chernoff
    /// bound) is kept, so the transform need only be as long as that window: the cyclic
    /// wrap-around folds in at most that much mass, which is charged to +∞. Two real inputs x, y
    /// travel as one complex sequence x + iy: with Z its transform, X[k] = (Z[k] + Z̄[−k])/2 and
    /// Y[k] = (Z[k] − Z̄[−k])/(2i); the powers travel back the same way as X^T + iY^T, whose
    /// inverse transform is x^{*T} + i·y^{*T}. That halves the transforms for the remove/add pair.
    static func selfComposed(_ pmfs: [PLDPmf], _ count: Int, limit: Int = maximumLength) throws -> [PLDPmf] {
        precondition(count >= 1, "self-composition count must be ≥ 1; found \(count)")
        precondition(pmfs.count == 1 || pmfs.count == 2, "self-composes one or two PLDs at once; found \(pmfs.count)")
        if count == 1 { return pmfs }
        let tail = tailMassTruncation
        let bounds = pmfs.map { selfConvolutionBounds(probabilities: $0.probabilities, count: count, tailMass: tail) }
        let lengths = bounds.map { $0.high - $0.low + 1 }
        let needed = zip(pmfs, lengths).map { max($0.probabilities.count, $1) }.max()!
        try checkLength(needed, "\(count)-fold self-composition", interval: pmfs[0].interval, limit: limit)
        for pmf in pmfs where pmf.lowerIndex.multipliedReportingOverflow(by: count).overflow {
            throw PrivacyError(.gridTooLarge, "\(count)-fold self-composition moves losses beyond the grid's index range")
        }
        guard lengths.allSatisfy({ $0 >= 1 }) else {
            throw PrivacyError(.unsupportedEvent, "\(count)-fold self-composition is beyond the accountant's precision: its loss window is empty")
        }
        let fft = FFT.shared(count: FFT.length(atLeast: needed))
        let n = fft.count
        var re = [Double](repeating: 0, count: n)
        var im = [Double](repeating: 0, count: n)
        re.replaceSubrange(0..<pmfs[0].probabilities.count, with: pmfs[0].probabilities)
        if pmfs.count == 2 { im.replaceSubrange(0..<pmfs[1].probabilities.count, with: pmfs[1].probabilities) }
        fft.forwardToBitReversed(real: &re, imaginary: &im)
        let pair = pmfs.count == 2
        // |z|^T < 1e-300 exactly when |z|² < e^{−2·690/T}: such bins are 0 to double precision,
        // and at large T they are most of the spectrum.
        let negligible = exp(-2 * 690 / Double(count))
        re.withUnsafeMutableBufferPointer { reBuffer in
            im.withUnsafeMutableBufferPointer { imBuffer in
                let z = SplitComplexPointer(re: reBuffer.baseAddress!, im: imBuffer.baseAddress!)
                concurrentChunks(n, minimumChunk: 1 << 13) { range in
                    for p in range where !pair {
                        (z.re[p], z.im[p]) = power(z.re[p], z.im[p], count, negligibleBelow: negligible)
                    }
                    // Each pair of positions holding bins k and −k is handled by its smaller one.
                    for p in range where pair && p <= FFT.conjugatePosition(p) {
                        let q = FFT.conjugatePosition(p)
                        let (a, b, c, d) = (z.re[p], z.im[p], z.re[q], z.im[q])
                        // Bin k of X (transform of pmfs[0]) and Y (of pmfs[1]); bin −k holds
                        // their conjugates, since both inputs are real.
                        let x = power((a + c) / 2, (b - d) / 2, count, negligibleBelow: negligible)
                        let y = power((b + d) / 2, (c - a) / 2, count, negligibleBelow: negligible)
                        (z.re[p], z.im[p]) = (x.0 - y.1, x.1 + y.0)
                        (z.re[q], z.im[q]) = (x.0 + y.1, y.0 - x.1)
                    }
                }
            }
        }
        fft.inverseFromBitReversed(real: &re, imaginary: &im)
        return try pmfs.indices.map { index in
            let pmf = pmfs[index]
            let values = index == 0 ? re : im
            // The window starts at index `low` of the cyclic result (length ≤ n, so one wrap at most).
            let start = bounds[index].low % n
            let head = min(lengths[index], n - start)
            let window = Array(values[start..<(start + head)]) + values[0..<(lengths[index] - head)]
            // Nothing is cut (and nothing wraps) when the window is the whole support.
            let (fullHigh, overflow) = (pmf.probabilities.count - 1).multipliedReportingOverflow(by: count)
            let truncated = bounds[index].low > 0 || overflow || bounds[index].high < fullHigh
            // 1 − (1 − m)^T, computed stably, plus the truncated tails.
            let infinity = (truncated ? tail : 0) - expm1(Double(count) * log1p(-pmf.infinityMass))
            let kept = window.reduce(0, +) + infinity
            guard kept >= 1 - massLossTolerance else {
                throw PrivacyError(.unsupportedEvent, "\(count)-fold self-composition is beyond the accountant's precision: it kept \(kept) of the probability mass")
            }
            return PLDPmf(interval: pmf.interval, lowerIndex: pmf.lowerIndex * count + bounds[index].low,
                          probabilities: window, infinityMass: infinity)
        }
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
        fft.forwardToBitReversed(real: &re, imaginary: &im)
        return (re, im)
    }

    /// (re + i·im)^exponent by repeated squaring: about 2·log2(exponent) complex products, each
    /// adding one rounding, so the relative error stays near log2(exponent)·ε_machine. Returns
    /// 0 when |re + i·im|² < `negligibleBelow`.
    @inline(__always)
    private static func power(_ re: Double, _ im: Double, _ exponent: Int, negligibleBelow: Double) -> (Double, Double) {
        if re * re + im * im < negligibleBelow { return (0, 0) }
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
