// SPDX-License-Identifier: Apache-2.0
import Foundation
@testable import Privacy
import Testing

@Suite struct FFTTests {
    /// Bin k of the definition X[k] = Σ_j x[j] e^{−2πi jk/n}: the oracle for the fast transform.
    private func dftBin(_ re: [Double], _ im: [Double], _ k: Int) -> (Double, Double) {
        let n = re.count
        var (sumRe, sumIm) = (0.0, 0.0)
        for j in 0..<n {
            let angle = -2 * Double.pi * Double((j * k) % n) / Double(n)
            sumRe += re[j] * cos(angle) - im[j] * sin(angle)
            sumIm += re[j] * sin(angle) + im[j] * cos(angle)
        }
        return (sumRe, sumIm)
    }

    /// The bin stored at position p: p's log2(n) bits reversed.
    private func bin(atPosition p: Int, count n: Int) -> Int {
        let bits = n.trailingZeroBitCount
        return (0..<bits).reduce(0) { k, bit in k | ((p >> bit) & 1) << (bits - 1 - bit) }
    }

    private func random(_ n: Int) -> ([Double], [Double]) {
        var generator = SystemRandomNumberGenerator()
        return ((0..<n).map { _ in Double.random(in: -1...1, using: &generator) },
                (0..<n).map { _ in Double.random(in: -1...1, using: &generator) })
    }

    /// Every bin for small lengths; sampled bins beyond one cache tile (2^14), where the
    /// streaming passes run too; and the inverse restores the input.
    @Test(arguments: [1, 2, 4, 8, 64, 512, 1 << 15, 1 << 17])
    func matchesTheDefinitionAndInverts(n: Int) {
        let (re, im) = random(n)
        let fft = FFT(count: n)
        var (fastRe, fastIm) = (re, im)
        fft.forwardToBitReversed(real: &fastRe, imaginary: &fastIm)
        let positions = n <= 512 ? Array(0..<n) : [0, 1, 2, 7, n / 4 + 3, n / 2, n - 1] + (0..<5).map { _ in Int.random(in: 0..<n) }
        var maxError = 0.0
        for p in positions {
            let (expectedRe, expectedIm) = dftBin(re, im, bin(atPosition: p, count: n))
            maxError = max(maxError, abs(fastRe[p] - expectedRe), abs(fastIm[p] - expectedIm))
        }
        #expect(maxError < 1e-13 * Double(n).squareRoot() * Double(max(n.trailingZeroBitCount, 1)), "max |FFT − DFT| = \(maxError)")
        fft.inverseFromBitReversed(real: &fastRe, imaginary: &fastIm)
        var roundTrip = 0.0
        for j in 0..<n { roundTrip = max(roundTrip, abs(fastRe[j] - re[j]), abs(fastIm[j] - im[j])) }
        #expect(roundTrip < 1e-14 * Double(max(n.trailingZeroBitCount, 1)), "max round-trip error = \(roundTrip)")
    }

    /// For real input X[−k] = conj(X[k]): the partner position must hold the conjugate.
    @Test func conjugatePositionHoldsTheNegativeBin() {
        let n = 256
        let (re, _) = random(n)
        var (fastRe, fastIm) = (re, [Double](repeating: 0, count: n))
        FFT(count: n).forwardToBitReversed(real: &fastRe, imaginary: &fastIm)
        for p in 0..<n {
            let q = FFT.conjugatePosition(p)
            #expect(bin(atPosition: q, count: n) == (n - bin(atPosition: p, count: n)) % n)
            #expect(abs(fastRe[q] - fastRe[p]) < 1e-12 && abs(fastIm[q] + fastIm[p]) < 1e-12)
        }
    }

    @Test func convolutionOfProbabilityVectorsIsExactToRounding() {
        // (½, ½) convolved with itself 10 times is Binomial(10, ½).
        let n = 16
        var re = [Double](repeating: 0, count: n), im = re
        re[0] = 0.5; re[1] = 0.5
        let fft = FFT(count: n)
        fft.forwardToBitReversed(real: &re, imaginary: &im)
        for k in 0..<n {
            var (pr, pi) = (1.0, 0.0)
            for _ in 0..<10 { (pr, pi) = (pr * re[k] - pi * im[k], pr * im[k] + pi * re[k]) }
            (re[k], im[k]) = (pr, pi)
        }
        fft.inverseFromBitReversed(real: &re, imaginary: &im)
        var binomial = 1.0
        for j in 0...10 {
            #expect(abs(re[j] - binomial / 1024) < 1e-15)
            binomial = binomial * Double(10 - j) / Double(j + 1)
        }
        #expect(abs(re[11]) < 1e-15)
    }

    @Test func lengthIsNextPowerOfTwo() {
        #expect(FFT.length(atLeast: 0) == 1)
        #expect(FFT.length(atLeast: 1) == 1)
        #expect(FFT.length(atLeast: 5) == 8)
        #expect(FFT.length(atLeast: 1024) == 1024)
        #expect(FFT.length(atLeast: 1025) == 2048)
    }
}
