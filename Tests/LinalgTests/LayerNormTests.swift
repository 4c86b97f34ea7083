// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct LayerNormTests {
    let N = 3, C = 7

    func forward(_ x: [Float], _ w: [Float], _ b: [Float]) -> (out: [Float], mean: [Float], rstd: [Float]) {
        var out = [Float](repeating: 0, count: N * C)
        var mean = [Float](repeating: 0, count: N), rstd = [Float](repeating: 0, count: N)
        layerNormForward(out: &out, mean: &mean, rstd: &rstd, input: x, weight: w, bias: b, N: N, C: C, eps: 1e-5)
        return (out, mean, rstd)
    }

    @Test func forwardNormalizesEachRow() {
        var rng = SeededGenerator(seed: 1)
        let x = randomFloats(N * C, &rng, scale: 3)
        let ones = [Float](repeating: 1, count: C), zeros = [Float](repeating: 0, count: C)
        let (out, mean, _) = forward(x, ones, zeros)
        for n in 0..<N {
            let row = out[(n * C)..<((n + 1) * C)]
            let m = row.reduce(0, +) / Float(C)
            let v = row.reduce(0) { $0 + $1 * $1 } / Float(C)
            #expect(abs(m) < 1e-5)
            #expect(abs(v - 1) < 1e-3)
            #expect(abs(mean[n] - x[(n * C)..<((n + 1) * C)].reduce(0, +) / Float(C)) < 1e-5)
        }
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 2)
        let x = randomFloats(N * C, &rng, scale: 2)
        let w = randomFloats(C, &rng), b = randomFloats(C, &rng)
        let r = randomFloats(N * C, &rng)
        let (_, mean, rstd) = forward(x, w, b)
        var dx = [Float](repeating: 0.5, count: N * C)   // backward accumulates onto this
        var dw = [Float](repeating: 0, count: C), db = [Float](repeating: 0, count: C)
        layerNormBackward(dinput: &dx, dweight: &dw, dbias: &db, dout: r, input: x, weight: w,
                          mean: mean, rstd: rstd, N: N, C: C)
        expectGradientMatchesFiniteDifferences(analytic: dx.map { $0 - 0.5 }, at: x) { dot(forward($0, w, b).out, r) }
        expectGradientMatchesFiniteDifferences(analytic: dw, at: w) { dot(forward(x, $0, b).out, r) }
        expectGradientMatchesFiniteDifferences(analytic: db, at: b) { dot(forward(x, w, $0).out, r) }
    }

    /// The backbones hand it a buffer holding an earlier layer's values (or anything).
    @Test func backwardWithoutAccumulateOverwritesWhatWasThere() {
        var rng = SeededGenerator(seed: 3)
        let x = randomFloats(N * C, &rng, scale: 2), w = randomFloats(C, &rng), r = randomFloats(N * C, &rng)
        let (_, mean, rstd) = forward(x, w, randomFloats(C, &rng))
        var fromZero = [Float](repeating: 0, count: N * C)
        var overwritten = [Float](repeating: .nan, count: N * C)
        layerNormBackward(dinput: &fromZero, dweight: nil, dbias: nil, dout: r, input: x, weight: w,
                          mean: mean, rstd: rstd, N: N, C: C)
        layerNormBackward(dinput: &overwritten, dweight: nil, dbias: nil, dout: r, input: x, weight: w,
                          mean: mean, rstd: rstd, N: N, C: C, accumulate: false)
        #expect(overwritten == fromZero)
    }
}
