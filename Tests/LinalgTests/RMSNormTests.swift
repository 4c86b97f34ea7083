// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct RMSNormTests {
    let B = 2, T = 3, C = 5, epsilon: Float = 1e-5

    func forward(_ x: [Float], _ w: [Float]) -> (out: [Float], rstd: [Float]) {
        var out = [Float](repeating: 0, count: x.count), rstd = [Float](repeating: 0, count: B * T)
        rmsNormForward(out: &out, rstd: &rstd, input: x, weight: w, B: B, T: T, C: C, epsilon: epsilon)
        return (out, rstd)
    }

    /// Forward against the definition evaluated in Double.
    @Test func forwardMatchesDefinition() {
        let x = randomFloats(B * T * C, seed: 1).map { $0 * 3 }
        let w = randomFloats(C, seed: 2)
        let (out, rstd) = forward(x, w)
        for row in 0..<(B * T) {
            let slice = x[(row * C)..<((row + 1) * C)].map(Double.init)
            let r = 1 / (slice.map { $0 * $0 }.reduce(0, +) / Double(C) + Double(epsilon)).squareRoot()
            #expect(abs(Double(rstd[row]) - r) <= 1e-6 * r)
            for i in 0..<C {
                let expected = slice[i] * r * Double(w[i])
                #expect(abs(Double(out[row * C + i]) - expected) <= 1e-6 * max(1, abs(expected)))
            }
        }
    }

    @Test func backwardMatchesCentralDifferences() {
        let x = randomFloats(B * T * C, seed: 3)
        let w = randomFloats(C, seed: 4).map { $0 + 1.5 }
        let probe = randomFloats(B * T * C, seed: 5)
        let (_, rstd) = forward(x, w)
        // Backward accumulates: start from ones and subtract them afterwards.
        var dinp = [Float](repeating: 1, count: x.count), dweight = [Float](repeating: 1, count: C)
        rmsNormBackward(dinp: &dinp, dweight: &dweight, rstd: rstd, dout: probe, input: x, weight: w, B: B, T: T, C: C)
        expectGradientMatchesFiniteDifferences(analytic: dinp.map { $0 - 1 }, at: x, tolerance: 2e-3, loss: probeLoss({ forward($0, w).out }, probe: probe))
        expectGradientMatchesFiniteDifferences(analytic: dweight.map { $0 - 1 }, at: w, tolerance: 2e-3, loss: probeLoss({ forward(x, $0).out }, probe: probe))

        var fromZero = [Float](repeating: 0, count: x.count), frozen = fromZero
        var weightFromZero = [Float](repeating: 0, count: C)
        rmsNormBackward(dinp: &fromZero, dweight: &weightFromZero, rstd: rstd, dout: probe, input: x, weight: w, B: B, T: T, C: C)
        rmsNormBackward(dinp: &frozen, dweight: nil, rstd: rstd, dout: probe, input: x, weight: w, B: B, T: T, C: C)
        #expect(frozen == fromZero)
        #expect(dinp == fromZero.map { 1 + $0 })
        // dweight sums B·T rows, so adding the initial 1 first or last rounds differently.
        #expect(zip(dweight, weightFromZero).allSatisfy { abs($0 - (1 + $1)) < 1e-6 })
    }

    /// Llama's final norm hands it a buffer holding the previous step's values (or anything).
    @Test func backwardWithoutAccumulateOverwritesWhatWasThere() {
        let x = randomFloats(B * T * C, seed: 6)
        let w = randomFloats(C, seed: 7).map { $0 + 1.5 }
        let probe = randomFloats(B * T * C, seed: 8)
        let (_, rstd) = forward(x, w)
        var fromZero = [Float](repeating: 0, count: x.count), overwritten = [Float](repeating: .nan, count: x.count)
        rmsNormBackward(dinp: &fromZero, dweight: nil, rstd: rstd, dout: probe, input: x, weight: w, B: B, T: T, C: C)
        rmsNormBackward(dinp: &overwritten, dweight: nil, rstd: rstd, dout: probe, input: x, weight: w, B: B, T: T, C: C,
                        accumulate: false)
        #expect(overwritten == fromZero)
    }
}
