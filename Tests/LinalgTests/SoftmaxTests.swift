// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct SoftmaxTests {
    func forward(_ x: [Float], N: Int, K: Int) -> [Float] {
        var out = [Float](repeating: 0, count: N * K)
        softmaxForward(out: &out, input: x, N: N, K: K)
        return out
    }

    @Test func stableForLargeInputsAndMasked() {
        let x: [Float] = [1000, 1001, -.infinity, -.infinity, -.infinity, -.infinity]
        let y = forward(x, N: 2, K: 3)
        #expect(abs(y[0] - 0.26894142) < 1e-6)
        #expect(abs(y[1] - 0.73105858) < 1e-6)
        #expect(y[2] == 0)
        #expect(y[3...] == [0, 0, 0])
    }

    @Test func backwardMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 4)
        let N = 3, K = 5
        let x = randomFloats(N * K, &rng, scale: 3), r = randomFloats(N * K, &rng)
        let y = forward(x, N: N, K: K)
        var dx = [Float](repeating: 0, count: N * K)
        softmaxBackward(dinput: &dx, dout: r, out: y, N: N, K: K)
        expectGradientMatchesFiniteDifferences(analytic: dx, at: x, step: 1e-3) { dot(forward($0, N: N, K: K), r) }
    }

    /// Attention turns its score gradient into the pre-softmax gradient in the same buffer.
    @Test func backwardOverwritesAndMayRunInPlace() {
        var rng = SeededGenerator(seed: 6)
        let N = 4, K = 9
        let y = forward(randomFloats(N * K, &rng, scale: 3), N: N, K: K)
        expectOverwritesAndRunsInPlace(dout: randomFloats(N * K, &rng)) { dinput, dout in
            softmaxBackward(dinput: dinput, dout: dout, out: y, N: N, K: K)
        }
    }
}
