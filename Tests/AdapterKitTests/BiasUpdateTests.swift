// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = width.
import AdapterKit
import Linalg
import Testing
import Transformer

@Suite struct BiasUpdateTests {
    static let linear = LinearSite(layer: 1, module: .value, inFeatures: 3, outFeatures: 4, weightLayout: .outIn,
                                   parameterName: "encoder.layer.1.attention.self.value")
    static let norm = NormSite(layer: 1, module: .outputNorm, width: 4, parameterName: "encoder.layer.1.output.LayerNorm")

    /// A sealed shift of width 4 with random values.
    static func makeUpdate(seed: UInt64) -> (BiasUpdate, TrainableParameters) {
        let parameters = TrainableParameters()
        let update = BiasUpdate(name: "encoder.layer.1.attention.self.value.bias", width: 4, parameters: parameters)
        var generator = SeededGenerator(seed: seed)
        parameters.seal(generator: &generator)
        #expect(parameters.flatValues.allSatisfy { $0 == 0 }, "a bias shift starts at zero")
        for i in 0..<4 { parameters.values(update.segment)[i] = Float.random(in: -1...1, using: &generator) }
        return (update, parameters)
    }

    static func random(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    @Test(arguments: [false, true])
    func forwardAddsTheShiftToEveryRow(onNorm: Bool) {
        let (update, parameters) = Self.makeUpdate(seed: 1)
        var rng = SeededGenerator(seed: 2)
        let base = Self.random(2 * 3 * 4, &rng)
        var output = base
        if onNorm {
            update.forward(output: &output, normalized: Self.random(2 * 3 * 4, &rng), site: Self.norm, batch: 2, seqLen: 3)
        } else {
            update.forward(output: &output, input: Self.random(2 * 3 * 3, &rng), site: Self.linear, batch: 2, seqLen: 3)
        }
        let shift = parameters.values(update.segment)
        #expect((0..<output.count).allSatisfy { abs(output[$0] - base[$0] - shift[$0 % 4]) < 1e-6 })
    }

    /// Per-sample gradients of a padded batch equal batches of one and, summed, the central
    /// differences of `L = Σ out·G`; the layer's input gradient is left alone.
    @Test(arguments: [false, true])
    func perSampleGradientsMatchBatchesOfOneAndFiniteDifferences(onNorm: Bool) {
        let (update, parameters) = Self.makeUpdate(seed: 3)
        var rng = SeededGenerator(seed: 4)
        let lengths = [3, 1], B = 2, T = 3, C = 4, IC = onNorm ? C : 3
        var g = Self.random(B * T * C, &rng)
        let x = Self.random(B * T * IC, &rng)
        var mask = [Float](repeating: 1, count: B * T)
        for s in 0..<B { for t in lengths[s]..<T { mask[s * T + t] = 0; for c in 0..<C { g[(s * T + t) * C + c] = 0 } } }

        func backward(_ g: [Float], _ x: [Float], batch: Int, seqLen: Int) -> [Float] {
            parameters.reserveBatch(batch)
            var dx = [Float](repeating: 0, count: batch * seqLen * IC)
            let mask = [Float](repeating: 1, count: batch * seqLen)
            if onNorm {
                update.backward(normalizedGradient: &dx, normalized: x, outputGradient: g, mask: mask, site: Self.norm,
                                batch: batch, seqLen: seqLen)
            } else {
                update.backward(inputGradient: &dx, input: x, outputGradient: g, mask: mask, site: Self.linear,
                                batch: batch, seqLen: seqLen)
            }
            #expect(dx.allSatisfy { $0 == 0 }, "a bias shift has no input path")
            return Array(parameters.flatSampleGradients)
        }
        let rows = backward(g, x, batch: B, seqLen: T)
        for s in 0..<B {
            let n = lengths[s]
            let one = backward(Array(g[(s * T * C)..<((s * T + n) * C)]), Array(x[(s * T * IC)..<((s * T + n) * IC)]),
                               batch: 1, seqLen: n)
            var want = [Float](repeating: 0, count: C)
            for t in 0..<n { for c in 0..<C { want[c] += g[(s * T + t) * C + c] } }
            #expect(zip(one, Array(rows[(s * C)..<((s + 1) * C)])).allSatisfy { abs($0 - $1) < 1e-5 }, "sample \(s)")
            #expect(zip(one, want).allSatisfy { abs($0 - $1) < 1e-5 }, "sample \(s): Σ_t G")
        }

        func loss() -> Double {
            var output = [Float](repeating: 0, count: B * T * C)
            if onNorm {
                update.forward(output: &output, normalized: x, site: Self.norm, batch: B, seqLen: T)
            } else {
                update.forward(output: &output, input: x, site: Self.linear, batch: B, seqLen: T)
            }
            return zip(output, g).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        let shift = parameters.values(update.segment), step: Float = 1e-2
        for c in 0..<C {
            let original = shift[c]
            shift[c] = original + step
            let plus = loss()
            shift[c] = original - step
            let minus = loss()
            shift[c] = original
            let numeric = (plus - minus) / Double(2 * step)
            #expect(abs(numeric - Double(rows[c] + rows[C + c])) < 1e-3, "Δb[\(c)]: \(numeric) vs \(rows[c] + rows[C + c])")
        }
    }
}
