// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing
import Transformer

@Suite struct PerSampleGradientsTests {
    /// Random `X (B, T, IC)`, `G (B, T, OC)` with the last tokens of some samples padded
    /// (their G rows zero, their X rows not).
    struct Case {
        let B: Int, T: Int, IC: Int, OC: Int
        let x: [Float], g: [Float]

        init(B: Int, T: Int, IC: Int, OC: Int, seed: UInt64) {
            self.B = B; self.T = T; self.IC = IC; self.OC = OC
            var rng = SeededGenerator(seed: seed)
            x = randomFloats(B * T * IC, &rng)
            var g = randomFloats(B * T * OC, &rng)
            for s in 0..<B {
                for t in max(1, T - s)..<T { for o in 0..<OC { g[(s * T + t) * OC + o] = 0 } }
            }
            self.g = g
        }

        /// The slow, obviously correct per-sample gradient `G_sᵀ X_s (OC, IC)`.
        func naiveGradient(_ s: Int) -> [Float] {
            var w = [Float](repeating: 0, count: OC * IC)
            for t in 0..<T { for o in 0..<OC { for i in 0..<IC {
                w[o * IC + i] += g[(s * T + t) * OC + o] * x[(s * T + t) * IC + i]
            } } }
            return w
        }
    }

    static let shapes: [(Int, Int, Int, Int)] = [(3, 4, 5, 6), (2, 7, 3, 2), (4, 1, 8, 8), (3, 9, 16, 4)]

    @Test(arguments: shapes.indices)
    func ghostEqualsInstantiatedEqualsLoopOverBatchesOfOne(shapeIndex: Int) {
        let (B, T, IC, OC) = Self.shapes[shapeIndex]
        let c = Case(B: B, T: T, IC: IC, OC: OC, seed: UInt64(30 + shapeIndex))
        let perSample = PerSampleGradients()
        var ghost = [Float](repeating: 0, count: B), instantiated = [Float](repeating: 1, count: B)
        perSample.accumulateSquaredNorms(into: &ghost, input: c.x, outputGradient: c.g, B: B, T: T, IC: IC, OC: OC, method: .ghost)
        perSample.accumulateSquaredNorms(into: &instantiated, input: c.x, outputGradient: c.g, B: B, T: T, IC: IC, OC: OC,
                                         method: .instantiate)
        for s in 0..<B {
            let want = c.naiveGradient(s).reduce(0) { $0 + $1 * $1 }
            #expect(abs(ghost[s] - want) <= 1e-4 * max(1, want))
            #expect(abs(instantiated[s] - 1 - want) <= 1e-4 * max(1, want))   // accumulated onto 1
            // batch of one through the same API
            var single: [Float] = [0]
            c.x.withUnsafeBufferPointer { x in
                c.g.withUnsafeBufferPointer { g in
                    perSample.accumulateSquaredNorms(into: &single, input: x.baseAddress! + s * T * IC,
                                                     outputGradient: g.baseAddress! + s * T * OC, B: 1, T: T, IC: IC, OC: OC)
                }
            }
            #expect(abs(single[0] - ghost[s]) <= 1e-4 * max(1, want))
        }
    }

    @Test func methodChoiceFollowsTheCostRule() {
        #expect(PerSampleGradients.method(seqLen: 128, inFeatures: 384, outFeatures: 384) == .ghost)
        #expect(PerSampleGradients.method(seqLen: 512, inFeatures: 384, outFeatures: 384) == .instantiate)
        #expect(PerSampleGradients.method(seqLen: 8, inFeatures: 8, outFeatures: 16) == .ghost)
        #expect(PerSampleGradients.method(seqLen: 9, inFeatures: 8, outFeatures: 16) == .instantiate)
    }

    @Test func biasGradientsSumToBatchGradient() {
        let c = Case(B: 3, T: 5, IC: 4, OC: 6, seed: 40)
        var perSampleBias = [Float](repeating: 0, count: c.B * c.OC), batch = [Float](repeating: 0, count: c.OC)
        PerSampleGradients.accumulateBiasGradients(into: &perSampleBias, outputGradient: c.g, B: c.B, T: c.T, OC: c.OC)
        Reductions.columnSums(out: &batch, c.g, N: c.B * c.T, K: c.OC)
        for o in 0..<c.OC {
            let sum = (0..<c.B).reduce(Float(0)) { $0 + perSampleBias[$1 * c.OC + o] }
            #expect(abs(sum - batch[o]) < 1e-5)
        }
        for s in 0..<c.B {
            for o in 0..<c.OC {
                let want = (0..<c.T).reduce(Float(0)) { $0 + c.g[(s * c.T + $1) * c.OC + o] }
                #expect(abs(perSampleBias[s * c.OC + o] - want) < 1e-5)
            }
        }
    }

    @Test(arguments: [WeightLayout.outIn, .inOut])
    func clippedSumIsTheScaledSumOfPerSampleGradients(layout: WeightLayout) {
        let c = Case(B: 4, T: 3, IC: 5, OC: 7, seed: 50)
        let scales: [Float] = [0.5, 1, 0.25, 2]
        var sum = [Float](repeating: 1, count: c.OC * c.IC)
        PerSampleGradients().accumulateClippedSum(into: &sum, input: c.x, outputGradient: c.g, scales: scales,
                                                  B: c.B, T: c.T, IC: c.IC, OC: c.OC, layout: layout)
        var want = [Float](repeating: 1, count: c.OC * c.IC)
        for s in 0..<c.B {
            let w = c.naiveGradient(s)
            for o in 0..<c.OC { for i in 0..<c.IC {
                let index = layout == .outIn ? o * c.IC + i : i * c.OC + o
                want[index] += scales[s] * w[o * c.IC + i]
            } }
        }
        #expect(maxAbsDifference(sum, want) < 1e-4)
        var bias = [Float](repeating: 0, count: c.OC), wantBias = [Float](repeating: 0, count: c.OC)
        PerSampleGradients.accumulateClippedBiasSum(into: &bias, outputGradient: c.g, scales: scales, B: c.B, T: c.T, OC: c.OC)
        for s in 0..<c.B { for t in 0..<c.T { for o in 0..<c.OC { wantBias[o] += scales[s] * c.g[(s * c.T + t) * c.OC + o] } } }
        #expect(maxAbsDifference(bias, wantBias) < 1e-5)
    }
}
