// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden width, P = trainable parameters.
import AdapterKit
import Foundation
import Linalg
import Testing
import TestSupport
import Transformer

/// A bundled strategy loaded through the real loader from its built `lib<product>.so`.
func bundledStrategy(_ product: String) throws -> any AdapterStrategy {
    let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
    return try PluginLoader(stagingDirectory: staging).load(BuildProducts.library(product)).strategy
}

/// A job configuration with `optionsJSON` checked against `strategy`'s schema.
func jobConfiguration(_ strategy: any AdapterStrategy, optionsJSON: String = "", seed: UInt64 = 7) throws -> AdapterConfiguration {
    AdapterConfiguration(options: try StrategyOptions(json: optionsJSON, schema: strategy.options), objective: .classify,
                         tasks: ["sentiment"], labels: ["sentiment": ["negative", "positive"]], seed: seed, clip: 1,
                         epsilon: 8, delta: 1e-5)
}

/// A backbone that only lists sites (for option checks without model files); it cannot run.
final class SiteListBackbone: Backbone {
    let hiddenSize = 8
    let layerCount: Int
    var parameterCount: Int { linearSites.reduce(0) { $0 + $1.inFeatures * $1.outFeatures } }
    let linearSites: [LinearSite]
    let normSites: [NormSite]

    init(layerCount: Int, linearSites: [LinearSite], normSites: [NormSite] = []) {
        self.layerCount = layerCount
        self.linearSites = linearSites
        self.normSites = normSites
    }

    func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>? { nil }

    /// Llama's shape: four attention projections per block, no biases, no layer norms.
    static func llamaLike(layers: Int = 2) -> SiteListBackbone {
        SiteListBackbone(layerCount: layers, linearSites: (0..<layers).flatMap { l in
            [LinearModule.qProj, .kProj, .vProj, .oProj].map {
                LinearSite(layer: l, module: $0, inFeatures: 8, outFeatures: 8, weightLayout: .outIn,
                           parameterName: "model.layers.\(l).\($0.rawValue)")
            }
        })
    }

    func setHook(_ hook: (any LinearHook)?, for site: LinearSite) {}
    func setNormHook(_ hook: (any NormHook)?, for site: NormSite) {}
    func setHiddenStateHook(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int) {}
    func forward(inputIDs: [Int32], tokenTypeIDs: [Int32]?, attentionMask: [Int32], batch: Int, seqLen: Int) -> UnsafeBufferPointer<Float> {
        preconditionFailure("a site list cannot run")
    }
    func backward(lastHiddenGradient: UnsafePointer<Float>) {
        preconditionFailure("a site list cannot run")
    }
}

/// MiniLM from the shared fixtures.
func miniLM() throws -> BertEncoder {
    try BertEncoder(directory: SharedFixtures.url("models/minilm-l6"))
}

/// The trainer's use of an adapter, checked (STYLE 31): declare, seal with random
/// non-zero values, attach; the per-sample rows of one padded batch equal batches of one
/// (each sample at its real length), and their sum equals central differences of
/// `L = Σ_real h·R` at `probes` parameters spread over the slab.
func expectAdapterGradientsMatchBatchesOfOneAndFiniteDifferences(
    _ adapter: any Adapter, backbone: any Backbone, ids: [Int32], lengths: [Int], T: Int, seed: UInt64, probes: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let parameters = TrainableParameters()
    adapter.declareParameters(in: parameters)
    var rng = SeededGenerator(seed: seed)
    parameters.seal(generator: &rng)
    for i in parameters.flatValues.indices { parameters.flatValues[i] = Float.random(in: -0.05...0.05, using: &rng) }
    adapter.attach(to: backbone, parameters: parameters)
    defer { adapter.detach(from: backbone) }
    let B = lengths.count, C = backbone.hiddenSize, P = parameters.count
    let r = (0..<(B * T * C)).map { _ in Float.random(in: -1...1, using: &rng) }
    let mask = (0..<(B * T)).map { Int32($0 % T < lengths[$0 / T] ? 1 : 0) }

    _ = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T)
    parameters.reserveBatch(B)
    backbone.backward(lastHiddenGradient: r)
    let rows = Array(parameters.flatSampleGradients)
    for s in 0..<B {
        let n = lengths[s]
        _ = backbone.forward(inputIDs: Array(ids[(s * T)..<(s * T + n)]), tokenTypeIDs: nil,
                             attentionMask: [Int32](repeating: 1, count: n), batch: 1, seqLen: n)
        parameters.reserveBatch(1)
        backbone.backward(lastHiddenGradient: Array(r[(s * T * C)..<((s * T + n) * C)]))
        let one = Array(parameters.flatSampleGradients), batched = rows[(s * P)..<((s + 1) * P)]
        let scale = one.map(abs).max() ?? 0
        let difference = zip(one, batched).map { abs($0 - $1) }.max() ?? 0
        #expect(scale > 0 && difference <= 1e-4 * max(1, scale), "sample \(s): max |Δ| \(difference) (scale \(scale))",
                sourceLocation: sourceLocation)
    }

    func loss() -> Double {
        let h = backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T)
        var total: Double = 0
        for n in 0..<(B * T) where mask[n] != 0 {
            for c in 0..<C { total += Double(h[n * C + c]) * Double(r[n * C + c]) }
        }
        return total
    }
    let values = parameters.flatValues, step: Float = 1e-2
    var worst: Double = 0, scale: Double = 1e-6
    for probe in 0..<probes {
        let p = (probe * P) / probes + Int.random(in: 0..<max(1, P / probes), using: &rng)
        var analytic: Double = 0
        for s in 0..<B { analytic += Double(rows[s * P + p]) }
        let original = values[p]
        values[p] = original + step
        let plus = loss()
        values[p] = original - step
        let minus = loss()
        values[p] = original
        let numeric = (plus - minus) / Double(2 * step)
        worst = max(worst, abs(numeric - analytic))
        scale = max(scale, abs(numeric))
    }
    #expect(worst / scale < 5e-3, "max |analytic - numeric| = \(worst) (scale \(scale))", sourceLocation: sourceLocation)
}
