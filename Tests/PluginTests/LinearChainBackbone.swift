// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden width, H = inner width, V = vocabulary.
import Linalg
import Transformer

/// The smallest backbone adapters can attach to: token embeddings followed, per layer, by
/// a frozen `query` (C → H) and `value` (H → C) dense layer, nothing else.
///
/// Every operation is row-wise per token, so a sample's output depends on that sample
/// alone, and the whole model is linear: per-sample gradients can be checked against
/// batches of one and against finite differences in milliseconds, where MiniLM takes
/// seconds. Hooks run exactly as the real backbones run them.
final class LinearChainBackbone: Backbone {
    let hiddenSize: Int
    let layerCount: Int
    var parameterCount: Int { linearSites.reduce(0) { $0 + $1.inFeatures * $1.outFeatures } }
    let linearSites: [LinearSite]
    let normSites: [NormSite] = []
    private let weights: [UnsafeMutableBufferPointer<Float>]   // per site (OC, IC)
    private let embedding: [Float]          // (V, C)
    private var hooks: [LinearSite: any LinearHook] = [:]
    private var inputs: [[Float]] = []      // per site (B, T, IC)
    private var mask: [Float] = []          // (B, T)
    private var output = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)   // (B, T, C)
    private var batch = 0, seqLen = 0

    init(layers: Int, hidden C: Int, inner H: Int, vocabulary V: Int, seed: UInt64) {
        hiddenSize = C
        layerCount = layers
        linearSites = (0..<layers).flatMap { l in
            [LinearSite(layer: l, module: .query, inFeatures: C, outFeatures: H, weightLayout: .outIn,
                        parameterName: "encoder.layer.\(l).attention.self.query"),
             LinearSite(layer: l, module: .value, inFeatures: H, outFeatures: C, weightLayout: .outIn,
                        parameterName: "encoder.layer.\(l).attention.self.value")]
        }
        var generator = SeededGenerator(seed: seed)
        embedding = (0..<(V * C)).map { _ in Float(generator.nextStandardNormal()) }
        weights = linearSites.map { site in
            let scale = 1 / Double(site.inFeatures).squareRoot()
            let weight = UnsafeMutableBufferPointer<Float>.allocate(capacity: site.inFeatures * site.outFeatures)
            for i in weight.indices { weight[i] = Float(scale * generator.nextStandardNormal()) }
            return weight
        }
    }

    deinit {
        output.deallocate()
        for weight in weights { weight.deallocate() }
    }

    func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>? {
        linearSites.firstIndex(of: site).map { UnsafeBufferPointer(weights[$0]) }
    }

    func setHook(_ hook: (any LinearHook)?, for site: LinearSite) { hooks[site] = hook }
    func setNormHook(_ hook: (any NormHook)?, for site: NormSite) {}
    func setHiddenStateHook(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int) {}

    /// The hooks currently installed, by site.
    var installedHooks: [LinearSite: any LinearHook] { hooks }

    func forward(inputIDs: [Int32], tokenTypeIDs: [Int32]?, attentionMask: [Int32],
                 batch: Int, seqLen: Int) -> UnsafeBufferPointer<Float> {
        self.batch = batch
        self.seqLen = seqLen
        let N = batch * seqLen, C = hiddenSize
        mask = attentionMask.map(Float.init)
        var x = [Float](repeating: 0, count: N * C)
        for n in 0..<N { for c in 0..<C { x[n * C + c] = embedding[Int(inputIDs[n]) * C + c] } }
        inputs = []
        for (site, weight) in zip(linearSites, weights) {
            inputs.append(x)
            var y = [Float](repeating: 0, count: N * site.outFeatures)
            // y = x·Wᵀ
            BLAS.sgemm(transB: true, m: N, n: site.outFeatures, k: site.inFeatures,
                       a: x, lda: site.inFeatures, b: weight.baseAddress!, ldb: site.inFeatures, c: &y, ldc: site.outFeatures)
            hooks[site]?.forward(output: &y, input: x, site: site, batch: batch, seqLen: seqLen)
            x = y
        }
        output.deallocate()
        output = .allocate(capacity: x.count)
        _ = output.initialize(from: x)
        return UnsafeBufferPointer(output)
    }

    func backward(lastHiddenGradient: UnsafePointer<Float>) {
        let N = batch * seqLen, C = hiddenSize
        var gradient = (0..<(N * C)).map { lastHiddenGradient[$0] * mask[$0 / C] }
        for (index, site) in linearSites.enumerated().reversed() {
            var inputGradient = [Float](repeating: 0, count: N * site.inFeatures)
            // ∂L/∂x = ∂L/∂y · W for y = x·Wᵀ
            BLAS.sgemm(m: N, n: site.inFeatures, k: site.outFeatures, a: gradient, lda: site.outFeatures,
                       b: weights[index].baseAddress!, ldb: site.inFeatures, c: &inputGradient, ldc: site.inFeatures)
            hooks[site]?.backward(inputGradient: &inputGradient, input: inputs[index], outputGradient: gradient,
                                  mask: mask, site: site, batch: batch, seqLen: seqLen)
            gradient = inputGradient
        }
    }
}
