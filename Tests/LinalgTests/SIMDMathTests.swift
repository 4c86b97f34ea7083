// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing

@Suite struct SIMDMathTests {
    /// Every input in steps of 2⁻¹², over the whole range where erf is not ±1 in Float and beyond.
    static let grid: [Float] = stride(from: -6.0, through: 6.0, by: 1.0 / 4096).map { Float($0) }

    func apply(_ f: (SIMDMath.Vector) -> SIMDMath.Vector, _ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for i in stride(from: 0, to: x.count, by: 8) {
                    SIMDMath.store(f(SIMDMath.load(input.baseAddress!, i, end: x.count)), output.baseAddress!, i, end: x.count)
                }
            }
        }
        return out
    }

    @Test func erfIsWithinOnePointTwoTimesTenToTheMinusSeven() {
        let got = apply(SIMDMath.erf, Self.grid)
        let worst = zip(got, Self.grid).map { abs(Double($0) - Foundation.erf(Double($1))) }.max() ?? .infinity
        #expect(worst < 1.2e-7, "max |erf error| \(worst)")
        #expect(apply(SIMDMath.erf, [0, -0.0, 30, -30, .infinity, -.infinity]) == [0, -0.0, 1, -1, 1, -1])
    }

    /// `e^(-x²)` of the Float square: rounding x² already moves the exact value by up to
    /// x²·2⁻²⁴ relative (3e-6 at x = 6), as it would for `expf(-x * x)`.
    @Test func erfAndGaussianGivesExpOfMinusXSquared() {
        let gaussian = apply({ SIMDMath.erfAndGaussian($0).gaussian }, Self.grid)
        let worst = zip(gaussian, Self.grid).map { g, v in
            abs(Double(g) / Foundation.exp(-Double(v * v)) - 1)
        }.max() ?? .infinity
        #expect(worst < 3 * Double(Float.ulpOfOne), "max relative e^-x² error \(worst)")
    }

    @Test func expIsWithinThreeUlpAndUnderflowsToExactZero() {
        let x = stride(from: -87.0, through: 88.0, by: 1.0 / 512).map { Float($0) }
        let got = apply(SIMDMath.exp, x)
        let worst = zip(got, x).map { abs(Double($0) / Foundation.exp(Double($1)) - 1) }.max() ?? .infinity
        #expect(worst < 3 * Double(Float.ulpOfOne), "max relative exp error \(worst)")
        #expect(apply(SIMDMath.exp, [-.infinity, -100, 0]) == [0, 0, 1])
    }
}
