// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing
import Transformer

@Suite struct MeanPoolingTests {
    let B = 2, T = 3, C = 4
    let mask: [Float] = [1, 1, 0, 1, 0, 0]

    func pool(_ hidden: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: B * C)
        meanPoolingForward(out: &out, hidden: hidden, mask: mask, B: B, T: T, C: C)
        return out
    }

    @Test func averagesRealTokensAndBackwardIsItsTranspose() {
        var rng = SeededGenerator(seed: 70)
        let hidden = randomFloats(B * T * C, &rng), dout = randomFloats(B * C, &rng)
        let out = pool(hidden)
        for c in 0..<C {
            #expect(abs(out[c] - (hidden[c] + hidden[C + c]) / 2) < 1e-6)
            #expect(abs(out[C + c] - hidden[T * C + c]) < 1e-6)
        }
        // pooling is linear, so ⟨pool(h), d⟩ = ⟨h, poolᵀ(d)⟩ for every h
        var dhidden = [Float](repeating: 0, count: B * T * C)
        meanPoolingBackward(dhidden: &dhidden, dout: dout, mask: mask, B: B, T: T, C: C)
        let lhs = zip(out, dout).reduce(0) { $0 + Double($1.0 * $1.1) }
        let rhs = zip(hidden, dhidden).reduce(0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(lhs - rhs) < 1e-5)
        for t in [2, 4, 5] { #expect(dhidden[(t * C)..<((t + 1) * C)].allSatisfy { $0 == 0 }) }
    }
}
