// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization

/// An in-place radix-2 complex fast Fourier transform of one power-of-two length, in Double.
///
/// The PLD accountant composes privacy loss distributions by convolving probability
/// vectors of 10^4–10^6 entries; a direct convolution would be quadratic. The transform
/// keeps real and imaginary parts in two separate arrays (split complex), so the butterflies
/// stream through memory without interleaving.
///
/// Twiddle factors are each computed directly by `cos`/`sin` (never by a recurrence), so
/// their error stays at one rounding and the transform's relative error grows like
/// `log2(count) · ε_machine`. They are stored as a pyramid, each pass reading its own
/// contiguous run:
///
///     index:   1 | 2  3 | 4  5  6  7 | 8 … 15 | …
///     span:    1 |   2  |     4      |   8    | …      entry span + k = e^{2πi k/(2·span)}
struct FFT: Sendable {
    /// The transform length, a power of two.
    let count: Int
    private let cosines: [Double]
    private let sines: [Double]

    /// The most recently used transform: accountants and calibration loops reuse one length.
    private static let recent = Mutex<FFT?>(nil)

    /// - Parameter count: a power of two ≥ 1.
    init(count: Int) {
        precondition(count >= 1 && count & (count - 1) == 0, "FFT length must be a power of two; found \(count)")
        self.count = count
        var cosines = [Double](repeating: 1, count: max(count, 2))
        var sines = [Double](repeating: 0, count: max(count, 2))
        let half = count / 2
        for k in 0..<half {
            let angle = 2 * Double.pi * Double(k) / Double(count)
            cosines[half + k] = cos(angle)
            sines[half + k] = sin(angle)
        }
        var span = half / 2
        while span >= 1 {
            let stride = half / span
            for k in 0..<span {
                cosines[span + k] = cosines[half + k * stride]
                sines[span + k] = sines[half + k * stride]
            }
            span /= 2
        }
        self.cosines = cosines
        self.sines = sines
    }

    /// A transform of length `count`, reusing the last one's tables when the length matches.
    static func shared(count: Int) -> FFT {
        if let cached = recent.withLock({ $0 }), cached.count == count { return cached }
        let fft = FFT(count: count)
        recent.withLock { $0 = fft }
        return fft
    }

    /// The smallest power of two ≥ `n` (and ≥ 1).
    static func length(atLeast n: Int) -> Int {
        precondition(n >= 0 && n <= 1 << 40, "FFT length out of range; found \(n)")
        var length = 1
        while length < n { length <<= 1 }
        return length
    }

    /// Replaces (real, imaginary) by its discrete Fourier transform.
    ///
    /// Forward: X[k] = Σ_j x[j] e^{−2πi jk/n}. Inverse: x[j] = (1/n) Σ_k X[k] e^{+2πi jk/n},
    /// so `inverse` undoes `forward` exactly up to rounding.
    func transform(real: inout [Double], imaginary: inout [Double], inverse: Bool) {
        precondition(real.count == count && imaginary.count == count,
                     "FFT of length \(count) given arrays of \(real.count) and \(imaginary.count)")
        guard count > 1 else { return }
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in
                cosines.withUnsafeBufferPointer { cosTable in
                    sines.withUnsafeBufferPointer { sinTable in
                        butterflies(re: re.baseAddress!, im: im.baseAddress!,
                                    cosTable: cosTable.baseAddress!, sinTable: sinTable.baseAddress!,
                                    sign: inverse ? 1 : -1)
                    }
                }
            }
        }
        if inverse {
            let scale = 1 / Double(count)
            for i in 0..<count {
                real[i] *= scale
                imaginary[i] *= scale
            }
        }
    }

    /// Iterative decimation in time: bit-reversal permutation, then log2(n) butterfly passes.
    private func butterflies(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>,
                             cosTable: UnsafePointer<Double>, sinTable: UnsafePointer<Double>,
                             sign: Double) {
        let n = count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                (re[i], re[j]) = (re[j], re[i])
                (im[i], im[j]) = (im[j], im[i])
            }
        }
        // Span 1: the twiddle is 1.
        var start = 0
        while start < n {
            let (ar, ai, br, bi) = (re[start], im[start], re[start + 1], im[start + 1])
            re[start] = ar + br
            im[start] = ai + bi
            re[start + 1] = ar - br
            im[start + 1] = ai - bi
            start += 2
        }
        var span = 2
        while span < n {
            let wr = cosTable + span
            let ws = sinTable + span
            start = 0
            while start < n {
                let aRe = re + start, aIm = im + start
                let bRe = aRe + span, bIm = aIm + span
                for k in 0..<span {
                    let c = wr[k], s = sign * ws[k]
                    let tr = bRe[k] * c - bIm[k] * s
                    let ti = bRe[k] * s + bIm[k] * c
                    bRe[k] = aRe[k] - tr
                    bIm[k] = aIm[k] - ti
                    aRe[k] += tr
                    aIm[k] += ti
                }
                start += 2 * span
            }
            span *= 2
        }
    }
}
