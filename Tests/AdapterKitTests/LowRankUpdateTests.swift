// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, IC/OC = in/out features, r = rank.
import AdapterKit
import Linalg
import Testing
import Transformer

@Suite struct LowRankUpdateTests {
    static let site = LinearSite(layer: 0, module: .query, inFeatures: 6, outFeatures: 5, weightLayout: .outIn,
                                 parameterName: "encoder.layer.0.attention.self.query")

    /// A sealed update with a random (non-zero) B, so that A's gradient is not trivially zero.
    static func makeUpdate(rank: Int = 3, scale: Float = 2, fixedDown: [Float]? = nil, seed: UInt64)
        -> (LowRankUpdate, TrainableParameters) {
        let parameters = TrainableParameters()
        let down: LowRankUpdate.DownProjection = fixedDown.map { .fixed($0) } ?? .trainable(name: "lora_A")
        let update = LowRankUpdate(site: site, rank: rank, scale: scale, down: down, upName: "lora_B", parameters: parameters)
        var generator = SeededGenerator(seed: seed)
        parameters.seal(generator: &generator)
        let up = parameters.values(update.upSegment)
        for i in 0..<(site.outFeatures * rank) { up[i] = Float.random(in: -1...1, using: &generator) }
        return (update, parameters)
    }

    static func random(_ count: Int, _ rng: inout SeededGenerator, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    /// `(OC, IC)`: the merged delta s·B·A, by loops.
    static func mergedDelta(_ update: LowRankUpdate, _ parameters: TrainableParameters, down: [Float]? = nil) -> [Float] {
        let IC = site.inFeatures, OC = site.outFeatures, r = update.rank
        let a = down ?? Array(UnsafeBufferPointer(start: parameters.values(update.downSegment ?? 0), count: r * IC))
        let b = parameters.values(update.upSegment)
        var delta = [Float](repeating: 0, count: OC * IC)
        for o in 0..<OC { for i in 0..<IC { for k in 0..<r { delta[o * IC + i] += update.scale * b[o * r + k] * a[k * IC + i] } } }
        return delta
    }

    static func forwardDelta(_ update: LowRankUpdate, input: [Float], batch: Int, seqLen: Int) -> [Float] {
        var output = [Float](repeating: 0, count: batch * seqLen * site.outFeatures)
        update.forward(output: &output, input: input, site: site, batch: batch, seqLen: seqLen)
        return output
    }

    @Test func forwardAddsTheMergedDelta() {
        let (update, parameters) = Self.makeUpdate(seed: 1)
        #expect(parameters.segments.map(\.shape) == [[3, 6], [5, 3]])
        #expect(parameters.segments.map(\.name) == ["lora_A", "lora_B"])
        var rng = SeededGenerator(seed: 2)
        let N = 2 * 4, IC = Self.site.inFeatures, OC = Self.site.outFeatures
        let x = Self.random(N * IC, &rng), base = Self.random(N * OC, &rng)
        var output = base
        update.forward(output: &output, input: x, site: Self.site, batch: 2, seqLen: 4)
        let delta = Self.mergedDelta(update, parameters)
        var worst: Float = 0
        for n in 0..<N {
            for o in 0..<OC {
                var want = base[n * OC + o]
                for i in 0..<IC { want += x[n * IC + i] * delta[o * IC + i] }
                worst = max(worst, abs(output[n * OC + o] - want))
            }
        }
        #expect(worst < 1e-5, "max |Δ| = \(worst)")
    }

    /// PEFT's initialization: B zeros (the update starts as the identity), A uniform in ±1/√IC.
    @Test func initializationFollowsPEFT() {
        let parameters = TrainableParameters()
        let update = LowRankUpdate(site: Self.site, rank: 4, scale: 1, down: .trainable(name: "A"), upName: "B",
                                   parameters: parameters)
        var generator = SeededGenerator(seed: 3)
        parameters.seal(generator: &generator)
        let a = UnsafeBufferPointer(start: parameters.values(update.downSegment ?? 0), count: 4 * 6)
        let b = UnsafeBufferPointer(start: parameters.values(update.upSegment), count: 5 * 4)
        let bound = 1 / Float(6).squareRoot()
        #expect(a.allSatisfy { abs($0) <= bound } && a.contains { abs($0) > bound / 2 })
        #expect(b.allSatisfy { $0 == 0 })
    }

    /// STYLE 31: the per-sample rows of one padded batch equal batches of one (each sample
    /// at its real length), and their sum equals central differences of
    /// `L = Σ ΔY·G`; huge inputs at padding tokens change nothing.
    @Test(arguments: [false, true])
    func perSampleGradientsMatchBatchesOfOneAndFiniteDifferences(fixed: Bool) {
        let IC = Self.site.inFeatures, OC = Self.site.outFeatures, r = 3, T = 4
        var rng = SeededGenerator(seed: 4)
        let fixedDown = fixed ? Self.random(r * IC, &rng) : nil
        let (update, parameters) = Self.makeUpdate(rank: r, fixedDown: fixedDown, seed: 5)
        #expect((update.downSegment == nil) == fixed)
        #expect(parameters.count == (fixed ? OC * r : (OC + IC) * r))
        let lengths = [4, 2, 3], B = lengths.count
        var x = Self.random(B * T * IC, &rng), g = Self.random(B * T * OC, &rng)
        var mask = [Float](repeating: 1, count: B * T)
        for s in 0..<B {
            for t in lengths[s]..<T {
                mask[s * T + t] = 0
                for i in 0..<IC { x[(s * T + t) * IC + i] = 1000 * Float(i + 1) }
                for o in 0..<OC { g[(s * T + t) * OC + o] = 0 }
            }
        }
        parameters.reserveBatch(B)
        var dx = [Float](repeating: 0, count: B * T * IC)
        update.backward(inputGradient: &dx, input: x, outputGradient: g, mask: mask, site: Self.site, batch: B, seqLen: T)
        let rows = Array(parameters.flatSampleGradients)
        let P = parameters.count

        for s in 0..<B {
            let n = lengths[s]
            parameters.reserveBatch(1)
            var dxOne = [Float](repeating: 0, count: n * IC)
            update.backward(inputGradient: &dxOne, input: Array(x[(s * T * IC)..<((s * T + n) * IC)]),
                            outputGradient: Array(g[(s * T * OC)..<((s * T + n) * OC)]),
                            mask: [Float](repeating: 1, count: n), site: Self.site, batch: 1, seqLen: n)
            let one = Array(parameters.flatSampleGradients)
            let batched = Array(rows[(s * P)..<((s + 1) * P)])
            #expect(zip(one, batched).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($0)) }, "sample \(s)")
            #expect(batched.contains { $0 != 0 })
            let dxBatched = Array(dx[(s * T * IC)..<((s * T + n) * IC)])
            #expect(zip(dxOne, dxBatched).allSatisfy { abs($0 - $1) <= 1e-4 }, "dX of sample \(s)")
        }

        // L = Σ ΔY·G is linear in each of A, B and X: central differences are exact up to rounding.
        func loss() -> Double {
            zip(Self.forwardDelta(update, input: x, batch: B, seqLen: T), g).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var summed = [Float](repeating: 0, count: P)
        for s in 0..<B { for p in 0..<P { summed[p] += rows[s * P + p] } }
        let step: Float = 1e-2
        var worst: Double = 0
        let values = parameters.flatValues
        for p in 0..<P {
            let original = values[p]
            values[p] = original + step
            let plus = loss()
            values[p] = original - step
            let minus = loss()
            values[p] = original
            worst = max(worst, abs((plus - minus) / Double(2 * step) - Double(summed[p])))
        }
        for index in stride(from: 0, to: x.count, by: 5) where mask[index / IC] == 1 {
            let original = x[index]
            x[index] = original + step
            let plus = loss()
            x[index] = original - step
            let minus = loss()
            x[index] = original
            worst = max(worst, abs((plus - minus) / Double(2 * step) - Double(dx[index])))
        }
        #expect(worst < 2e-3, "max |analytic - numeric| = \(worst)")
    }

    /// Backward adds to dX and to the sample rows instead of overwriting them.
    @Test func backwardAccumulates() {
        let (update, parameters) = Self.makeUpdate(seed: 6)
        var rng = SeededGenerator(seed: 7)
        let IC = Self.site.inFeatures, OC = Self.site.outFeatures
        let x = Self.random(2 * IC, &rng), g = Self.random(2 * OC, &rng)
        parameters.reserveBatch(1)
        var dx = [Float](repeating: 0, count: 2 * IC)
        update.backward(inputGradient: &dx, input: x, outputGradient: g, mask: [1, 1], site: Self.site, batch: 1, seqLen: 2)
        let once = Array(parameters.flatSampleGradients), dxOnce = dx
        update.backward(inputGradient: &dx, input: x, outputGradient: g, mask: [1, 1], site: Self.site, batch: 1, seqLen: 2)
        #expect(zip(parameters.flatSampleGradients, once).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
        #expect(zip(dx, dxOnce).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }
}
