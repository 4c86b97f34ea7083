// SPDX-License-Identifier: Apache-2.0
import Foundation
@testable import Privacy
import Testing

@Suite struct FFTTests {
    /// The O(n²) definition X[k] = Σ_j x[j] e^{−2πi jk/n}, the oracle for the fast transform.
    private func naiveDFT(_ re: [Double], _ im: [Double]) -> ([Double], [Double]) {
        let n = re.count
        var outRe = [Double](repeating: 0, count: n), outIm = outRe
        for k in 0..<n {
            for j in 0..<n {
                let angle = -2 * Double.pi * Double((j * k) % n) / Double(n)
                outRe[k] += re[j] * cos(angle) - im[j] * sin(angle)
                outIm[k] += re[j] * sin(angle) + im[j] * cos(angle)
            }
        }
        return (outRe, outIm)
    }

    @Test(arguments: [1, 2, 4, 8, 64, 512])
    func matchesTheDefinitionAndInverts(n: Int) {
        var generator = SystemRandomNumberGenerator()
        let re = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
        let im = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
        let (expectedRe, expectedIm) = naiveDFT(re, im)
        let fft = FFT(count: n)
        var (fastRe, fastIm) = (re, im)
        fft.transform(real: &fastRe, imaginary: &fastIm, inverse: false)
        var maxError = 0.0
        for k in 0..<n { maxError = max(maxError, abs(fastRe[k] - expectedRe[k]), abs(fastIm[k] - expectedIm[k])) }
        #expect(maxError < 1e-12 * Double(max(n, 1)), "max |FFT − DFT| = \(maxError)")
        fft.transform(real: &fastRe, imaginary: &fastIm, inverse: true)
        var roundTrip = 0.0
        for k in 0..<n { roundTrip = max(roundTrip, abs(fastRe[k] - re[k]), abs(fastIm[k] - im[k])) }
        #expect(roundTrip < 1e-14, "max round-trip error = \(roundTrip)")
    }

    /// Lengths beyond one cache tile (2^14) run the streaming passes too: spot-check bins
    /// against the definition, and the inverse.
    @Test(arguments: [1 << 15, 1 << 17])
    func largeTransformsMatchTheDefinitionAtSampledBins(n: Int) {
        var generator = SystemRandomNumberGenerator()
        let re = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
        let im = (0..<n).map { _ in Double.random(in: -1...1, using: &generator) }
        let fft = FFT(count: n)
        var (fastRe, fastIm) = (re, im)
        fft.transform(real: &fastRe, imaginary: &fastIm, inverse: false)
        for k in [0, 1, 7, n / 4 + 3, n / 2, n - 1] + (0..<6).map({ _ in Int.random(in: 0..<n, using: &generator) }) {
            var (sumRe, sumIm) = (0.0, 0.0)
            for j in 0..<n {
                let angle = -2 * Double.pi * Double((j * k) % n) / Double(n)
                sumRe += re[j] * cos(angle) - im[j] * sin(angle)
                sumIm += re[j] * sin(angle) + im[j] * cos(angle)
            }
            #expect(abs(fastRe[k] - sumRe) < 1e-9 && abs(fastIm[k] - sumIm) < 1e-9, "bin \(k)")
        }
        fft.transform(real: &fastRe, imaginary: &fastIm, inverse: true)
        var roundTrip = 0.0
        for j in 0..<n { roundTrip = max(roundTrip, abs(fastRe[j] - re[j]), abs(fastIm[j] - im[j])) }
        #expect(roundTrip < 1e-13, "max round-trip error = \(roundTrip)")
    }

    @Test func convolutionOfProbabilityVectorsIsExactToRounding() {
        // (½, ½) convolved with itself 10 times is Binomial(10, ½).
        let n = 16
        var re = [Double](repeating: 0, count: n), im = re
        re[0] = 0.5; re[1] = 0.5
        let fft = FFT(count: n)
        fft.transform(real: &re, imaginary: &im, inverse: false)
        for k in 0..<n {
            var (pr, pi) = (1.0, 0.0)
            for _ in 0..<10 { (pr, pi) = (pr * re[k] - pi * im[k], pr * im[k] + pi * re[k]) }
            (re[k], im[k]) = (pr, pi)
        }
        fft.transform(real: &re, imaginary: &im, inverse: true)
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
