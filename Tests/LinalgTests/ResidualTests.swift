// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct ResidualTests {
    @Test func forwardAddsAndBackwardAccumulatesIntoBoth() {
        var rng = SeededGenerator(seed: 6)
        let a = randomFloats(8, &rng), b = randomFloats(8, &rng), r = randomFloats(8, &rng)
        var out = [Float](repeating: 0, count: 8)
        residualForward(out: &out, a: a, b: b, N: 8)
        for i in 0..<8 { #expect(out[i] == a[i] + b[i]) }
        var da = [Float](repeating: 1, count: 8), db = [Float](repeating: 0, count: 8)
        residualBackward(da: &da, db: &db, dout: r, N: 8)
        let forwardSum: ([Float], [Float]) -> Double = { x, y in
            var o = [Float](repeating: 0, count: 8)
            residualForward(out: &o, a: x, b: y, N: 8)
            return dot(o, r)
        }
        expectGradientMatchesFiniteDifferences(analytic: da.map { $0 - 1 }, at: a) { forwardSum($0, b) }
        expectGradientMatchesFiniteDifferences(analytic: db, at: b) { forwardSum(a, $0) }
    }
}
