// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing
import Transformer

/// Records what an adapter on one dense layer would see: the batch weight gradient
/// `Σ_s G_sᵀX_s`, the bias gradient, and per-sample squared norms by both methods.
final class RecordingHook: LinearHook {
    var weightGradient: [Float] = []
    var biasGradient: [Float] = []
    var perSampleBias: [Float] = []          // (B, OC)
    var ghostSquaredNorms: [Float] = []      // (B)
    var instantiatedSquaredNorms: [Float] = []
    let perSample = PerSampleGradients()

    func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: LinearSite, batch: Int, seqLen: Int) {
        let IC = site.inFeatures, OC = site.outFeatures
        weightGradient = [Float](repeating: 0, count: IC * OC)
        biasGradient = [Float](repeating: 0, count: OC)
        perSampleBias = [Float](repeating: 0, count: batch * OC)
        ghostSquaredNorms = [Float](repeating: 0, count: batch)
        instantiatedSquaredNorms = [Float](repeating: 0, count: batch)
        let ones = [Float](repeating: 1, count: batch)
        perSample.accumulateClippedSum(into: &weightGradient, input: input, outputGradient: outputGradient, scales: ones,
                                       B: batch, T: seqLen, IC: IC, OC: OC, layout: site.weightLayout)
        PerSampleGradients.accumulateClippedBiasSum(into: &biasGradient, outputGradient: outputGradient, scales: ones,
                                                    B: batch, T: seqLen, OC: OC)
        PerSampleGradients.accumulateBiasGradients(into: &perSampleBias, outputGradient: outputGradient, B: batch, T: seqLen, OC: OC)
        perSample.accumulateSquaredNorms(into: &ghostSquaredNorms, input: input, outputGradient: outputGradient,
                                         B: batch, T: seqLen, IC: IC, OC: OC, method: .ghost)
        perSample.accumulateSquaredNorms(into: &instantiatedSquaredNorms, input: input, outputGradient: outputGradient,
                                         B: batch, T: seqLen, IC: IC, OC: OC, method: .instantiate)
    }
}

/// Adds a trainable bias `delta (OC)` to a dense layer's output and collects its gradient:
/// the smallest adapter, used for finite-difference checks of the whole backward pass.
final class BiasDeltaHook: LinearHook {
    var delta: [Float]
    var gradient: [Float]

    init(outFeatures: Int) {
        delta = [Float](repeating: 0, count: outFeatures)
        gradient = [Float](repeating: 0, count: outFeatures)
    }

    func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, site: LinearSite, batch: Int, seqLen: Int) {
        for n in 0..<(batch * seqLen) { for o in 0..<delta.count { output[n * delta.count + o] += delta[o] } }
    }

    func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: LinearSite, batch: Int, seqLen: Int) {
        for n in 0..<(batch * seqLen) { for o in 0..<delta.count { gradient[o] += outputGradient[n * delta.count + o] } }
    }
}

/// Records a norm layer's per-sample gradients: `Σ_t G⊙xhat` (weight) and `Σ_t G` (bias).
final class NormRecordingHook: NormHook {
    var perSampleWeight: [Float] = []   // (B, C)
    var perSampleBias: [Float] = []     // (B, C)

    func backward(normalizedGradient: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: NormSite, batch: Int, seqLen: Int) {
        let C = site.width
        perSampleWeight = [Float](repeating: 0, count: batch * C)
        perSampleBias = [Float](repeating: 0, count: batch * C)
        for n in 0..<(batch * seqLen) {
            for c in 0..<C {
                perSampleWeight[(n / seqLen) * C + c] += outputGradient[n * C + c] * normalized[n * C + c]
                perSampleBias[(n / seqLen) * C + c] += outputGradient[n * C + c]
            }
        }
    }
}

/// Trainable `Δw`, `Δb` on a layer norm: `out += xhat⊙Δw + Δb`.
final class NormShiftHook: NormHook {
    var scale: [Float], shift: [Float]
    var scaleGradient: [Float], shiftGradient: [Float]

    init(width: Int) {
        scale = [Float](repeating: 0, count: width)
        shift = scale
        scaleGradient = scale
        shiftGradient = scale
    }

    func forward(output: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>, site: NormSite, batch: Int, seqLen: Int) {
        let C = site.width
        for n in 0..<(batch * seqLen) { for c in 0..<C { output[n * C + c] += normalized[n * C + c] * scale[c] + shift[c] } }
    }

    func backward(normalizedGradient: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: NormSite, batch: Int, seqLen: Int) {
        let C = site.width
        for n in 0..<(batch * seqLen) {
            for c in 0..<C {
                let g = outputGradient[n * C + c]
                scaleGradient[c] += g * normalized[n * C + c]
                shiftGradient[c] += g
                normalizedGradient[n * C + c] += g * scale[c]
            }
        }
    }
}

/// Adds `delta (C)` to the hidden states at a boundary and keeps their value and gradient.
final class HiddenShiftHook: HiddenStateHook {
    var delta: [Float]
    var gradient: [Float]
    var hidden: [Float] = []
    var hiddenGradient: [Float] = []

    init(width: Int) {
        delta = [Float](repeating: 0, count: width)
        gradient = [Float](repeating: 0, count: width)
    }

    func forward(hidden: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        for n in 0..<(batch * seqLen) { for c in 0..<width { hidden[n * width + c] += delta[c] } }
        self.hidden = Array(UnsafeBufferPointer(start: hidden, count: batch * seqLen * width))
    }

    func backward(hiddenGradient: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        self.hiddenGradient = Array(UnsafeBufferPointer(start: hiddenGradient, count: batch * seqLen * width))
        for n in 0..<(batch * seqLen) { for c in 0..<width { gradient[c] += hiddenGradient[n * width + c] } }
    }
}

/// Flattens a JSON array (of arrays) of numbers.
func floats(_ value: Any?) throws -> [Float] {
    if let numbers = value as? [NSNumber] { return numbers.map(\.floatValue) }
    let nested = try #require(value as? [Any], "expected a JSON array")
    return try nested.flatMap { try floats($0) }
}

func int32s(_ value: Any?) throws -> [Int32] {
    try floats(value).map { Int32($0) }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

func l2(_ a: [Float]) -> Double {
    a.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
}

func randomFloats(_ count: Int, _ rng: inout SeededGenerator, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
}

/// Checks every hook gradient of `backbone` against central differences of
/// `loss = Σ last_hidden · R` (padding masked), where the hooks add trainable shifts.
func expectHookGradientsMatchFiniteDifferences(
    backbone: any Backbone, ids: [Int32], mask: [Int32], B: Int, T: Int, seed: UInt64,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var rng = SeededGenerator(seed: seed)
    let C = backbone.hiddenSize
    let r = randomFloats(B * T * C, &rng)
    var linearHooks: [BiasDeltaHook] = []
    for site in backbone.linearSites where site.layer == 0 || site.layer == backbone.layerCount - 1 {
        let hook = BiasDeltaHook(outFeatures: site.outFeatures)
        hook.delta = randomFloats(site.outFeatures, &rng, scale: 0.1)
        backbone.setHook(hook, for: site)
        linearHooks.append(hook)
    }
    var normHooks: [NormShiftHook] = []
    for site in backbone.normSites where site.layer == 0 || site.layer >= backbone.layerCount - 1 {
        let hook = NormShiftHook(width: site.width)
        hook.scale = randomFloats(site.width, &rng, scale: 0.2)
        hook.shift = randomFloats(site.width, &rng, scale: 0.1)
        backbone.setNormHook(hook, for: site)
        normHooks.append(hook)
    }
    let shift = HiddenShiftHook(width: C)
    shift.delta = randomFloats(C, &rng, scale: 0.1)
    backbone.setHiddenStateHook(shift, atBoundary: 0)

    func loss() -> Double {
        let h = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T)
        var total: Double = 0
        for n in 0..<(B * T) where mask[n] != 0 {
            for c in 0..<C { total += Double(h[n * C + c]) * Double(r[n * C + c]) }
        }
        return total
    }
    _ = loss()
    let dLast = (0..<(B * T * C)).map { mask[$0 / C] != 0 ? r[$0] : 100 }   // padding rows must be ignored
    backbone.backward(lastHiddenGradient: dLast)

    var worst: Double = 0, scale: Double = 1e-6
    let step: Float = 1e-2
    func probe(_ get: () -> Float, _ set: (Float) -> Void, analytic: Float) {
        let original = get()
        set(original + step)
        let plus = loss()
        set(original - step)
        let minus = loss()
        set(original)
        let numeric = (plus - minus) / Double(2 * step)
        worst = max(worst, abs(numeric - Double(analytic)))
        scale = max(scale, abs(numeric))
    }
    for hook in linearHooks {
        for o in stride(from: 0, to: hook.delta.count, by: max(1, hook.delta.count / 5)) {
            probe({ hook.delta[o] }, { hook.delta[o] = $0 }, analytic: hook.gradient[o])
        }
    }
    for hook in normHooks {
        for c in stride(from: 0, to: C, by: max(1, C / 4)) {
            probe({ hook.scale[c] }, { hook.scale[c] = $0 }, analytic: hook.scaleGradient[c])
            probe({ hook.shift[c] }, { hook.shift[c] = $0 }, analytic: hook.shiftGradient[c])
        }
    }
    #expect(normHooks.count >= 3, sourceLocation: sourceLocation)
    for c in stride(from: 0, to: C, by: max(1, C / 8)) {
        probe({ shift.delta[c] }, { shift.delta[c] = $0 }, analytic: shift.gradient[c])
    }
    #expect(worst / scale < 5e-3, "max |analytic - numeric| = \(worst) (scale \(scale))", sourceLocation: sourceLocation)
    for site in backbone.linearSites { backbone.setHook(nil, for: site) }
    for site in backbone.normSites { backbone.setNormHook(nil, for: site) }
    backbone.setHiddenStateHook(nil, atBoundary: 0)
}

/// STYLE 31: per-sample norms and bias gradients from one padded batch equal those of a
/// loop over batches of one (each sample alone at its real length), at every site.
func expectPerSampleQuantitiesMatchBatchesOfOne(
    backbone: any Backbone, ids: [Int32], lengths: [Int], T: Int, seed: UInt64,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let B = lengths.count, C = backbone.hiddenSize
    var rng = SeededGenerator(seed: seed)
    let r = randomFloats(B * T * C, &rng)
    let hooks = backbone.linearSites.map { site -> RecordingHook in
        let hook = RecordingHook()
        backbone.setHook(hook, for: site)
        return hook
    }
    let mask = (0..<(B * T)).map { Int32($0 % T < lengths[$0 / T] ? 1 : 0) }
    _ = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T)
    backbone.backward(lastHiddenGradient: r)
    let batchNorms = hooks.map(\.ghostSquaredNorms), batchBias = hooks.map(\.perSampleBias)
    for s in 0..<B {
        let n = lengths[s]
        _ = backbone.forward(inputIDs: Array(ids[(s * T)..<(s * T + n)]), tokenTypeIDs: nil,
                             attentionMask: [Int32](repeating: 1, count: n), batch: 1, seqLen: n)
        backbone.backward(lastHiddenGradient: Array(r[(s * T * C)..<((s * T + n) * C)]))
        for (index, hook) in hooks.enumerated() {
            let want = hook.instantiatedSquaredNorms[0], got = batchNorms[index][s]
            #expect(abs(got - want) <= 1e-4 * max(1, want), "\(backbone.linearSites[index]) sample \(s): \(got) vs \(want)",
                    sourceLocation: sourceLocation)
            let OC = backbone.linearSites[index].outFeatures
            let bias = Array(batchBias[index][(s * OC)..<((s + 1) * OC)])
            // Relative, like the norms: OpenBLAS's Haswell SGEMM (the products on a CPU without
            // AVX-512F) rounds a row differently with the number of rows in the product, so
            // SmolLM2's bias gradients (up to ~270) differ from the batch-of-one ones by ~6e-6
            // of their size.
            let scale = hook.perSampleBias.map(abs).max() ?? 0
            #expect(maxAbsDifference(bias, hook.perSampleBias) <= 1e-4 * max(1, scale),
                    "\(backbone.linearSites[index]) sample \(s): bias gradients of size \(scale)", sourceLocation: sourceLocation)
        }
    }
    for site in backbone.linearSites { backbone.setHook(nil, for: site) }
}
