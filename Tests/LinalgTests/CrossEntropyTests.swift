// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct CrossEntropyTests {
    let N = 3, V = 5
    let targets: [Int32] = [2, -1, 4]

    func losses(_ logits: [Float]) -> [Float] {
        var losses = [Float](repeating: 0, count: N), probs = [Float](repeating: 0, count: N * V)
        crossEntropyForward(losses: &losses, probs: &probs, logits: logits, targets: targets, N: N, V: V)
        return losses
    }

    @Test func ignoredRowsCostNothingAndGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 7)
        let logits = randomFloats(N * V, &rng, scale: 2), dlosses = randomFloats(N, &rng)
        #expect(losses(logits)[1] == 0)
        var probs = [Float](repeating: 0, count: N * V), l = [Float](repeating: 0, count: N)
        crossEntropyForward(losses: &l, probs: &probs, logits: logits, targets: targets, N: N, V: V)
        var dlogits = [Float](repeating: 0, count: N * V)
        crossEntropyBackward(dlogits: &dlogits, dlosses: dlosses, probs: probs, targets: targets, N: N, V: V)
        #expect(dlogits[V..<(2 * V)].allSatisfy { $0 == 0 })
        expectGradientMatchesFiniteDifferences(analytic: dlogits, at: logits, step: 1e-3) { dot(losses($0), dlosses) }
    }
}
