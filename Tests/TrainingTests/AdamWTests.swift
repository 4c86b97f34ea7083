// SPDX-License-Identifier: Apache-2.0
import Testing
import Training

@Suite struct AdamWTests {
    /// With bias correction, Adam's first steps under a constant gradient move each
    /// parameter by lr·sign(g) (up to ε), and decoupled decay subtracts lr·λ·p.
    @Test func firstStepsMoveByLearningRateTimesSign() {
        var optimizer = AdamW(parameterCount: 3, learningRate: 0.1, epsilon: 0, weightDecay: 0.5)
        var parameters: [Float] = [1, -2, 0.5]
        let gradients: [Float] = [3, -0.25, 7]
        var expected = parameters
        for _ in 0..<3 {
            for i in 0..<3 { expected[i] -= 0.1 * ((gradients[i] > 0 ? 1 : -1) + 0.5 * expected[i]) }
            parameters.withUnsafeMutableBufferPointer { p in
                gradients.withUnsafeBufferPointer { optimizer.update(parameters: p, gradients: $0) }
            }
            for i in 0..<3 { #expect(abs(parameters[i] - expected[i]) < 1e-5) }
        }
        #expect(optimizer.step == 3)
    }

    @Test func restoredStateContinuesIdentically() {
        var a = AdamW(parameterCount: 2, learningRate: 0.01)
        var pa: [Float] = [0.3, -0.7]
        let grads: [[Float]] = [[0.1, -2], [0.5, 0.5], [-1, 0.25]]
        func apply(_ opt: inout AdamW, _ p: inout [Float], _ g: [Float]) {
            p.withUnsafeMutableBufferPointer { pp in g.withUnsafeBufferPointer { opt.update(parameters: pp, gradients: $0) } }
        }
        apply(&a, &pa, grads[0])
        var b = AdamW(restoring: a.state, learningRate: 0.01)
        var pb = pa
        apply(&a, &pa, grads[1]); apply(&a, &pa, grads[2])
        apply(&b, &pb, grads[1]); apply(&b, &pb, grads[2])
        #expect(pa == pb)
        #expect(a.state == b.state)
    }
}
