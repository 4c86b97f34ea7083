// SPDX-License-Identifier: Apache-2.0
import Foundation

/// An in-place radix-2 complex fast Fourier transform of one power-of-two length, in Double.
///
/// The PLD accountant composes privacy loss distributions by convolving probability
/// vectors of 10^4–10^6 entries; a direct convolution would be quadratic. The transform
/// keeps real and imaginary parts in two separate arrays (split complex), so the butterflies
/// stream through memory without interleaving.
///
/// Twiddle factors are each computed directly by `cos`/`sin` (never by a recurrence), so
/// their error stays at one rounding and the transform's relative error grows like
/// `log2(count) · ε_machine`.
struct FFT: Sendable {
    /// The transform length, a power of two.
    let count: Int
    /// cos(2πk/count) and sin(2πk/count) for k in 0..<count/2.
    private let cosines: [Double]
    private let sines: [Double]

    /// - Parameter count: a power of two ≥ 1.
    init(count: Int) {
        precondition(count >= 1 && count & (count - 1) == 0, "FFT length must be a power of two; found \(count)")
        self.count = count
        let half = count / 2
        var cosines = [Double](repeating: 1, count: half)
        var sines = [Double](repeating: 0, count: half)
        for k in 0..<half {
            let angle = 2 * Double.pi * Double(k) / Double(count)
            cosines[k] = cos(angle)
            sines[k] = sin(angle)
        }
        self.cosines = cosines
        self.sines = sines
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
                swap(&re[i], &re[j])
                swap(&im[i], &im[j])
            }
        }
        var span = 1
        while span < n {
            let tableStride = n / (2 * span)
            var start = 0
            while start < n {
                for k in 0..<span {
                    let wr = cosTable[k * tableStride]
                    let wi = sign * sinTable[k * tableStride]
                    let a = start + k
                    let b = a + span
                    let tr = re[b] * wr - im[b] * wi
                    let ti = re[b] * wi + im[b] * wr
                    re[b] = re[a] - tr
                    im[b] = im[a] - ti
                    re[a] += tr
                    im[a] += ti
                }
                start += 2 * span
            }
            span *= 2
        }
    }
}
