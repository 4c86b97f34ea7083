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
///
/// Every pass is split across cores (``concurrentChunks(_:minimumChunk:_:)``); each butterfly
/// is computed the same way whatever the split, so results do not depend on the core count.
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
    ///
    /// Each pass splits over cores: by blocks of 2·span while there are several, by butterfly
    /// index within the one block of the last passes.
    private func butterflies(re: UnsafeMutablePointer<Double>, im: UnsafeMutablePointer<Double>,
                             cosTable: UnsafePointer<Double>, sinTable: UnsafePointer<Double>,
                             sign: Double) {
        let n = count
        let data = SplitComplexPointer(re: re, im: im)
        // Bit reversal: each swapped pair (i, j) with i < j is owned by i's chunk.
        concurrentChunks(n, minimumChunk: 1 << 15) { range in
            let bits = n.trailingZeroBitCount
            for i in range {
                let j = reverseBits(i, width: bits)
                if i < j {
                    (data.re[i], data.re[j]) = (data.re[j], data.re[i])
                    (data.im[i], data.im[j]) = (data.im[j], data.im[i])
                }
            }
        }
        // Passes with span < tile only mix elements within one tile of `tile` entries (256 KiB
        // of re + im), so all of them run tile by tile while the tile sits in cache; only the
        // remaining log2(n/tile) passes stream through memory.
        let tileBits = min(n.trailingZeroBitCount, 14)
        let tile = 1 << tileBits
        let cos = UncheckedPointer(cosTable), sin = UncheckedPointer(sinTable)
        concurrentChunks(n / tile, minimumChunk: 1) { range in
            for tileIndex in range {
                for pass in 0..<tileBits {
                    let span = 1 << pass
                    let twiddles = TwiddleRun(cos: cos.base + span, sin: sin.base + span)
                    for block in 0..<(tile / (2 * span)) {
                        butterflyRun(data, start: tileIndex * tile + 2 * span * block, span: span, k: 0..<span,
                                     twiddles: twiddles, sign: sign)
                    }
                }
            }
        }
        for pass in tileBits..<n.trailingZeroBitCount {
            let span = 1 << pass
            let blocks = n / (2 * span)
            let twiddles = TwiddleRun(cos: cosTable + span, sin: sinTable + span)
            if blocks >= 4 {
                concurrentChunks(blocks, minimumChunk: 1) { range in
                    for block in range {
                        butterflyRun(data, start: 2 * span * block, span: span, k: 0..<span, twiddles: twiddles, sign: sign)
                    }
                }
            } else {
                for block in 0..<blocks {
                    concurrentChunks(span, minimumChunk: 1 << 14) { range in
                        butterflyRun(data, start: 2 * span * block, span: span, k: range, twiddles: twiddles, sign: sign)
                    }
                }
            }
        }
    }
}

/// A read-only table shared by concurrent chunks.
private struct UncheckedPointer: @unchecked Sendable {
    let base: UnsafePointer<Double>
    init(_ base: UnsafePointer<Double>) { self.base = base }
}

/// The twiddle factors of one pass, read by all of its chunks.
private struct TwiddleRun: @unchecked Sendable {
    let cos: UnsafePointer<Double>
    let sin: UnsafePointer<Double>
}

/// `x` with its lowest `width` bits in reverse order.
@inline(__always)
private func reverseBits(_ x: Int, width: Int) -> Int {
    var v = UInt64(x)
    v = ((v >> 1) & 0x5555_5555_5555_5555) | ((v & 0x5555_5555_5555_5555) << 1)
    v = ((v >> 2) & 0x3333_3333_3333_3333) | ((v & 0x3333_3333_3333_3333) << 2)
    v = ((v >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((v & 0x0F0F_0F0F_0F0F_0F0F) << 4)
    return Int(v.byteSwapped >> (64 - width))
}

/// A buffer shared by concurrent chunks that write disjoint indices.
struct SharedMutablePointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
}

/// Both halves of a split-complex buffer, shared by chunks that touch disjoint indices.
struct SplitComplexPointer: @unchecked Sendable {
    let re: UnsafeMutablePointer<Double>
    let im: UnsafeMutablePointer<Double>
}

/// Butterflies a[k], b[k] = a[k] ± w_k·b[k] for k in `k`, where a starts at `start` and b at
/// `start + span`, and w_k = cos + i·sign·sin from the twiddle run of this span.
@inline(__always)
private func butterflyRun(_ data: SplitComplexPointer, start: Int, span: Int, k: Range<Int>,
                          twiddles: TwiddleRun, sign: Double) {
    let wr = twiddles.cos, ws = twiddles.sin
    let aRe = data.re + start, aIm = data.im + start
    let bRe = aRe + span, bIm = aIm + span
    for k in k {
        let c = wr[k], s = sign * ws[k]
        let tr = bRe[k] * c - bIm[k] * s
        let ti = bRe[k] * s + bIm[k] * c
        bRe[k] = aRe[k] - tr
        bIm[k] = aIm[k] - ti
        aRe[k] += tr
        aIm[k] += ti
    }
}

/// Runs `body` over `0..<count` split into contiguous chunks of at least `minimumChunk`, one
/// per core, concurrently; small ranges run inline.
///
/// - Important: `body` must touch disjoint data for disjoint ranges.
func concurrentChunks(_ count: Int, minimumChunk: Int, _ body: @Sendable (Range<Int>) -> Void) {
    let chunks = min(ProcessInfo.processInfo.activeProcessorCount, count / max(minimumChunk, 1))
    guard chunks > 1 else {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        body((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
    }
}
