// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
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
///
/// Every pass is split across cores (``concurrentChunks(_:minimumChunk:_:)``); each butterfly
/// is computed the same way whatever the split, so results do not depend on the core count.
/// Spectra stay in bit-reversed order (see ``forwardToBitReversed(real:imaginary:)``).
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
    ///
    /// Only lengths up to 2^21 are kept (32 MiB of tables), so a one-off huge composition does
    /// not pin its tables in a long-running daemon.
    static func shared(count: Int) -> FFT {
        if let cached = recent.withLock({ $0 }), cached.count == count { return cached }
        let fft = FFT(count: count)
        if count <= 1 << 21 { recent.withLock { $0 = fft } }
        return fft
    }

    /// The smallest power of two ≥ `n` (and ≥ 1).
    static func length(atLeast n: Int) -> Int {
        precondition(n >= 0 && n <= 1 << 40, "FFT length out of range; found \(n)")
        var length = 1
        while length < n { length <<= 1 }
        return length
    }

    /// Replaces x by its discrete Fourier transform X[k] = Σ_j x[j] e^{−2πi jk/n}, stored in
    /// bit-reversed order: position p holds X[k] for k = p with its log2(n) bits reversed.
    ///
    /// Convolution only multiplies spectra bin by bin, so the order never matters and the
    /// permutation, a scattered pass costing more than all butterflies together at 2^20, is
    /// skipped (decimation in frequency, Gentleman–Sande). See ``conjugatePosition(_:)``.
    func forwardToBitReversed(real: inout [Double], imaginary: inout [Double]) {
        run(real: &real, imaginary: &imaginary, inverse: false)
    }

    /// Undoes ``forwardToBitReversed(real:imaginary:)``: from a bit-reversed spectrum back to
    /// x[j] = (1/n) Σ_k X[k] e^{+2πi jk/n} in natural order (decimation in time).
    func inverseFromBitReversed(real: inout [Double], imaginary: inout [Double]) {
        run(real: &real, imaginary: &imaginary, inverse: true)
        let scale = 1 / Double(count)
        for i in 0..<count {
            real[i] *= scale
            imaginary[i] *= scale
        }
    }

    /// The position holding bin −k (mod n) when position `p` holds bin k, in bit-reversed order.
    ///
    /// Positions 0 and 1 hold bins 0 and n/2, their own negatives; within each octave
    /// [2^m, 2^{m+1}) the bins appear so that negation mirrors the octave: p ↦ 3·2^m − 1 − p.
    static func conjugatePosition(_ p: Int) -> Int {
        if p < 2 { return p }
        let octave = 1 << (Int.bitWidth - 1 - p.leadingZeroBitCount)
        return 3 * octave - 1 - p
    }

    private func run(real: inout [Double], imaginary: inout [Double], inverse: Bool) {
        precondition(real.count == count && imaginary.count == count,
                     "FFT of length \(count) given arrays of \(real.count) and \(imaginary.count)")
        guard count > 1 else { return }
        real.withUnsafeMutableBufferPointer { re in
            imaginary.withUnsafeMutableBufferPointer { im in
                cosines.withUnsafeBufferPointer { cosTable in
                    sines.withUnsafeBufferPointer { sinTable in
                        passes(SplitComplexPointer(re: re.baseAddress!, im: im.baseAddress!),
                               cos: UncheckedPointer(cosTable.baseAddress!), sin: UncheckedPointer(sinTable.baseAddress!),
                               inverse: inverse)
                    }
                }
            }
        }
    }

    /// All log2(n) butterfly passes: spans n/2 … 1 forward (frequency decimation), 1 … n/2
    /// inverse (time decimation).
    ///
    /// Passes with span < tile only mix elements within one tile of 2^14 entries (256 KiB of
    /// re + im), so they run tile by tile while the tile sits in cache; only the log2(n/tile)
    /// passes with larger spans stream through memory. Each pass splits over cores by blocks of
    /// 2·span, or by butterfly within the one or two blocks of the widest passes.
    private func passes(_ data: SplitComplexPointer, cos: UncheckedPointer, sin: UncheckedPointer, inverse: Bool) {
        let n = count
        let bits = n.trailingZeroBitCount
        let tileBits = min(bits, 14)
        let tile = 1 << tileBits
        func streamingPass(_ pass: Int) {
            let span = 1 << pass
            let blocks = n / (2 * span)
            if blocks >= 4 {
                concurrentChunks(blocks, minimumChunk: 1) { range in
                    for block in range {
                        butterflyRun(data, start: 2 * span * block, span: span, k: 0..<span,
                                     cos: cos, sin: sin, inverse: inverse)
                    }
                }
            } else {
                for block in 0..<blocks {
                    concurrentChunks(span, minimumChunk: 1 << 14) { range in
                        butterflyRun(data, start: 2 * span * block, span: span, k: range,
                                     cos: cos, sin: sin, inverse: inverse)
                    }
                }
            }
        }
        if !inverse {
            for pass in (tileBits..<bits).reversed() { streamingPass(pass) }
        }
        concurrentChunks(n / tile, minimumChunk: 1) { range in
            for tileIndex in range {
                for step in 0..<tileBits {
                    let span = 1 << (inverse ? step : tileBits - 1 - step)
                    for block in 0..<(tile / (2 * span)) {
                        butterflyRun(data, start: tileIndex * tile + 2 * span * block, span: span, k: 0..<span,
                                     cos: cos, sin: sin, inverse: inverse)
                    }
                }
            }
        }
        if inverse {
            for pass in tileBits..<bits { streamingPass(pass) }
        }
    }
}

/// A read-only table shared by concurrent chunks.
private struct UncheckedPointer: @unchecked Sendable {
    let base: UnsafePointer<Double>
    init(_ base: UnsafePointer<Double>) { self.base = base }
}

/// Both halves of a split-complex buffer, shared by chunks that touch disjoint indices.
struct SplitComplexPointer: @unchecked Sendable {
    let re: UnsafeMutablePointer<Double>
    let im: UnsafeMutablePointer<Double>
}

/// A buffer shared by concurrent chunks that write disjoint indices.
struct SharedMutablePointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
}

/// One block's butterflies for k in `k`, with a = start + k, b = a + span and
/// w_k = e^{±2πi k/(2·span)} from the span's run of the twiddle pyramid:
///   forward (frequency decimation): a, b ← a + b, (a − b)·w̄_k;
///   inverse (time decimation):      a, b ← a + w_k·b, a − w_k·b.
@inline(__always)
private func butterflyRun(_ data: SplitComplexPointer, start: Int, span: Int, k: Range<Int>,
                          cos: UncheckedPointer, sin: UncheckedPointer, inverse: Bool) {
    let wr = cos.base + span, ws = sin.base + span
    let aRe = data.re + start, aIm = data.im + start
    let bRe = aRe + span, bIm = aIm + span
    if inverse {
        for k in k {
            let c = wr[k], s = ws[k]
            let tr = bRe[k] * c - bIm[k] * s
            let ti = bRe[k] * s + bIm[k] * c
            bRe[k] = aRe[k] - tr
            bIm[k] = aIm[k] - ti
            aRe[k] += tr
            aIm[k] += ti
        }
    } else {
        for k in k {
            let c = wr[k], s = ws[k]
            let dr = aRe[k] - bRe[k], di = aIm[k] - bIm[k]
            aRe[k] += bRe[k]
            aIm[k] += bIm[k]
            bRe[k] = dr * c + di * s
            bIm[k] = di * c - dr * s
        }
    }
}
