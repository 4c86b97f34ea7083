// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = n_embd, NH = heads, I = inner size,
// L = layers, V = vocabulary, P = positions.
import Foundation
import Linalg

/// A frozen GPT-2 decoder (pre-LayerNorm, causal, learned positions, tanh GELU,
/// Conv1D weights stored `(in, out)`, LM head tied to the token embeddings).
///
/// Block `l` (input `x`, boundary `l`):
///
///     a1  = LN1(x)
///     qkv = a1·Wattn + b                  site qkv       (B, T, 3C)
///     r1  = attention(qkv, causal)·Wproj + b + x          site attnProj
///     a2  = LN2(r1)
///     f   = a2·Wfc + b                    site fc
///     out = gelu(f)·Wmproj + b + r1       site proj       boundary l+1
///
/// The last hidden state is `LN_f(boundary L)`, as in Hugging Face's `GPT2Model`.
///
/// - Important: not thread-safe; one training loop owns it.
public final class GPT2Model: ReplicableBackbone, ContextLimitedBackbone {
    public let config: GPT2Config
    public let linearSites: [LinearSite]
    public let normSites: [NormSite]
    public var hiddenSize: Int { config.nEmbd }
    public var parameterCount: Int { file.entries.values.reduce(0) { $0 + $1.elementCount } }
    public var layerCount: Int { config.nLayer }
    public var maxSequenceLength: Int { config.nPositions }

    struct LayerWeights {
        var norm1, norm1Bias: UnsafePointer<Float>, attention: FrozenWeight, attentionBias: UnsafePointer<Float>
        var attentionProjection: FrozenWeight, attentionProjectionBias: UnsafePointer<Float>
        var norm2, norm2Bias: UnsafePointer<Float>, fc: FrozenWeight, fcBias: UnsafePointer<Float>
        var projection: FrozenWeight, projectionBias: UnsafePointer<Float>
    }

    private let file: SafetensorsFile
    private let weightOwner: WeightReader
    private let tokenEmbeddings: UnsafePointer<Float>      // (V, C)
    private let lmHead: FrozenWeight                       // the token embeddings, tied
    private let positionEmbeddings: UnsafePointer<Float>   // (P, C)
    private let finalNorm, finalNormBias: UnsafePointer<Float>  // (C)
    private let layers: [LayerWeights]
    private let siteWeights: [LinearSite: UnsafePointer<Float>]

    private let hooks: BackboneHooks

    private let activations = ActivationSlab()
    private let gradients = ActivationSlab()
    private var layout = Layout(B: 0, T: 0, workers: 0, config: nil)
    private var ids: [Int32] = []
    private let positions: [Int32]
    private var B = 0, T = 0

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model directory.
    ///
    /// - Throws: ``ModelLoadingError`` or ``SafetensorsError`` naming the bad file or tensor.
    public convenience init(directory: URL) throws {
        guard case .gpt2(let config) = try ModelConfig(directory: directory) else {
            throw ModelLoadingError(.unsupportedArchitecture, "\(directory.path): config.json is not a GPT-2 model")
        }
        try self.init(config: config, weights: SafetensorsFile(url: directory.appendingPathComponent("model.safetensors")))
    }

    public init(config: GPT2Config, weights file: SafetensorsFile) throws {
        self.config = config
        self.file = file
        let C = config.nEmbd, I = config.innerSize
        var reader = WeightReader(file: file, prefixes: ["transformer.", ""])
        tokenEmbeddings = try reader.load("wte.weight", shape: [config.vocabSize, C])
        lmHead = FrozenWeight(tokenEmbeddings, IC: C, OC: config.vocabSize, layout: .outIn)
        positionEmbeddings = try reader.load("wpe.weight", shape: [config.nPositions, C])
        finalNorm = try reader.load("ln_f.weight", shape: [C])
        finalNormBias = try reader.load("ln_f.bias", shape: [C])
        var layers: [LayerWeights] = []
        var sites: [LinearSite] = []
        var siteWeights: [LinearSite: UnsafePointer<Float>] = [:]
        var norms: [NormSite] = []
        for l in 0..<config.nLayer {
            let p = "h.\(l)."
            norms.append(NormSite(layer: l, module: .ln1, width: C, parameterName: "transformer." + p + "ln_1"))
            norms.append(NormSite(layer: l, module: .ln2, width: C, parameterName: "transformer." + p + "ln_2"))
            func dense(_ module: LinearModule, _ inFeatures: Int, _ outFeatures: Int) throws -> (FrozenWeight, UnsafePointer<Float>) {
                let site = LinearSite(layer: l, module: module, inFeatures: inFeatures, outFeatures: outFeatures,
                                      weightLayout: .inOut, parameterName: "transformer." + p + module.rawValue)
                sites.append(site)
                let weight = try reader.load(p + module.rawValue + ".weight", shape: [inFeatures, outFeatures])
                siteWeights[site] = weight
                return (FrozenWeight(weight, IC: inFeatures, OC: outFeatures, layout: .inOut),
                        try reader.load(p + module.rawValue + ".bias", shape: [outFeatures]))
            }
            let n1 = (try reader.load(p + "ln_1.weight", shape: [C]), try reader.load(p + "ln_1.bias", shape: [C]))
            let qkv = try dense(.qkv, C, 3 * C), ap = try dense(.attnProj, C, C)
            let n2 = (try reader.load(p + "ln_2.weight", shape: [C]), try reader.load(p + "ln_2.bias", shape: [C]))
            let fc = try dense(.fc, C, I), proj = try dense(.proj, I, C)
            layers.append(LayerWeights(norm1: n1.0, norm1Bias: n1.1, attention: qkv.0, attentionBias: qkv.1,
                                       attentionProjection: ap.0, attentionProjectionBias: ap.1, norm2: n2.0, norm2Bias: n2.1,
                                       fc: fc.0, fcBias: fc.1, projection: proj.0, projectionBias: proj.1))
        }
        self.layers = layers
        self.linearSites = sites
        self.siteWeights = siteWeights
        self.normSites = norms + [NormSite(layer: config.nLayer, module: .finalNorm, width: C, parameterName: "transformer.ln_f")]
        self.hooks = BackboneHooks(layerCount: layers.count, linearSites: linearSites, normSites: normSites, width: C)
        self.weightOwner = reader
        self.positions = (0..<Int32(config.nPositions)).map { $0 }
    }

    public func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>? {
        siteWeights[site].map { UnsafeBufferPointer(start: $0, count: site.inFeatures * site.outFeatures) }
    }

    /// An instance over `other`'s weights (the mapped file, converted tensors and packed
    /// operands), which it keeps alive.
    private init(sharingWeightsOf other: GPT2Model) {
        config = other.config
        file = other.file
        weightOwner = other.weightOwner
        tokenEmbeddings = other.tokenEmbeddings
        lmHead = other.lmHead
        positionEmbeddings = other.positionEmbeddings
        finalNorm = other.finalNorm
        finalNormBias = other.finalNormBias
        layers = other.layers
        linearSites = other.linearSites
        siteWeights = other.siteWeights
        normSites = other.normSites
        hooks = BackboneHooks(layerCount: layers.count, linearSites: linearSites, normSites: normSites,
                              width: config.nEmbd)
        positions = other.positions
    }

    /// Shares the weights instead of converting and packing them again, and starts with
    /// this instance's activation capacity, so that it does not grow (and zero) its slabs
    /// during the steps that follow.
    public func replica() throws -> any Backbone {
        let replica = GPT2Model(sharingWeightsOf: self)
        replica.activations.reserve(activations.count)
        replica.gradients.reserve(gradients.count)
        return replica
    }

    public func setHook(_ hook: (any LinearHook)?, for site: LinearSite) {
        hooks.set(hook, for: site)
    }

    public func setNormHook(_ hook: (any NormHook)?, for site: NormSite) {
        hooks.set(hook, for: site)
    }

    public func setHiddenStateHook(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int) {
        hooks.set(hook, atBoundary: boundary)
    }

    // MARK: forward

    public func forward(inputIDs: [Int32], tokenTypeIDs: [Int32]?, attentionMask: [Int32],
                        batch: Int, seqLen: Int) -> UnsafeBufferPointer<Float> {
        let C = config.nEmbd, I = config.innerSize, NH = config.nHead
        precondition(batch >= 1 && seqLen >= 1, "batch \(batch) and seqLen \(seqLen) must be positive")
        precondition(seqLen <= config.nPositions, "seqLen \(seqLen) exceeds \(config.nPositions) positions")
        precondition(inputIDs.count == batch * seqLen && attentionMask.count == batch * seqLen,
                     "inputs must hold batch·seqLen values")
        reserve(batch: batch, seqLen: seqLen)
        B = batch
        T = seqLen
        let BT = B * T
        let a = activations.base
        let mask = a + layout.mask, normalized = a + layout.normalized
        for i in 0..<BT { mask[i] = attentionMask[i] != 0 ? 1 : 0 }
        ids.replaceSubrange(0..<BT, with: inputIDs)

        let x0 = boundary(0)
        x0.update(repeating: 0, count: BT * C)
        embeddingForward(out: x0, ids: ids, table: tokenEmbeddings, N: BT, V: config.vocabSize, C: C)
        for b in 0..<B {
            embeddingForward(out: x0 + b * T * C, ids: positions, table: positionEmbeddings, N: T, V: config.nPositions, C: C)
        }
        hooks.hidden[0]?.forward(hidden: x0, mask: mask, batch: B, seqLen: T, width: C)

        for l in 0..<layerCount {
            let w = layers[l], s = layerActivations(l), x = boundary(l), out = boundary(l + 1)
            layerNormForward(out: s.a1, mean: s.mean1, rstd: s.rstd1, input: x, weight: w.norm1, bias: w.norm1Bias,
                             N: BT, C: C, eps: config.layerNormEpsilon)
            hooks.norms.forward(l, .ln1, out: s.a1, scratch: normalized, input: x, mean: s.mean1, rstd: s.rstd1, B: B, T: T, C: C)
            dense(l, .qkv, out: s.qkv, input: s.a1, weight: w.attention, bias: w.attentionBias)
            attentionForward(out: s.ctx, att: s.att, q: s.qkv, k: s.qkv + C, v: s.qkv + 2 * C, ld: 3 * C, mask: mask,
                             B: B, T: T, C: C, NH: NH, causal: true)
            dense(l, .attnProj, out: s.r1, input: s.ctx, weight: w.attentionProjection, bias: w.attentionProjectionBias)
            residualForward(out: s.r1, a: s.r1, b: x, N: BT * C)
            layerNormForward(out: s.a2, mean: s.mean2, rstd: s.rstd2, input: s.r1, weight: w.norm2, bias: w.norm2Bias,
                             N: BT, C: C, eps: config.layerNormEpsilon)
            hooks.norms.forward(l, .ln2, out: s.a2, scratch: normalized, input: s.r1, mean: s.mean2, rstd: s.rstd2,
                              B: B, T: T, C: C)
            dense(l, .fc, out: s.f, input: s.a2, weight: w.fc, bias: w.fcBias)
            let g = a + layout.gelu   // (B, T, I), recomputed by backward: saves L·B·T·I floats
            geluForward(out: g, input: s.f, N: BT * I, form: config.geluForm)
            dense(l, .proj, out: out, input: g, weight: w.projection, bias: w.projectionBias)
            residualForward(out: out, a: out, b: s.r1, N: BT * C)
            hooks.hidden[l + 1]?.forward(hidden: out, mask: mask, batch: B, seqLen: T, width: C)
        }
        let last = a + layout.final
        layerNormForward(out: last, mean: a + layout.finalMean, rstd: a + layout.finalRstd, input: boundary(layerCount),
                         weight: finalNorm, bias: finalNormBias, N: BT, C: C, eps: config.layerNormEpsilon)
        hooks.norms.forward(layerCount, .finalNorm, out: last, scratch: normalized, input: boundary(layerCount),
                          mean: a + layout.finalMean, rstd: a + layout.finalRstd, B: B, T: T, C: C)
        return UnsafeBufferPointer(start: last, count: BT * C)
    }

    /// The LM head tied to the token embeddings: `logits = hidden · wteᵀ`.
    ///
    /// - Parameters:
    ///   - logits: `(N, V)`, overwritten
    ///   - hidden: `(N, C)`
    public func logitsForward(logits: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>, N: Int) {
        linearForward(out: logits, input: hidden, weight: lmHead, bias: nil, N: N)
    }

    /// `dhidden += dlogits · wte`, the gradient of ``logitsForward(logits:hidden:N:)``.
    ///
    /// - Parameters:
    ///   - dhidden: `(N, C)`, accumulated
    ///   - dlogits: `(N, V)`
    public func logitsBackward(dhidden: UnsafeMutablePointer<Float>, dlogits: UnsafePointer<Float>, N: Int) {
        linearBackward(dinput: dhidden, dout: dlogits, weight: lmHead, N: N, accumulate: true)
    }

    // MARK: backward

    public func backward(lastHiddenGradient: UnsafePointer<Float>) {
        let C = config.nEmbd, I = config.innerSize, NH = config.nHead
        let BT = B * T
        precondition(BT > 0, "backward called before forward")
        let a = activations.base
        let mask = UnsafePointer(a + layout.mask)
        let g = gradients.base
        // dCur is the residual stream's gradient: ∂L/∂out of a block, then ∂L/∂r1, then
        // ∂L/∂x, each branch's norm backward accumulating into it, so it is never copied.
        // Every other buffer is written before it is read, so none is zeroed.
        let dCur = g + layout.dCur, dLast = g + layout.dLast, dctx = g + layout.dctx
        let da1 = g + layout.da1, da2 = g + layout.da2
        let dqkv = g + layout.dqkv, dg = g + layout.dg, scratch = g + layout.scratch
        let normScratch = g + layout.normScratch, gelu = a + layout.gelu
        // last = LN_f(x_L), with padding rows dropped
        for n in 0..<BT {
            let m = mask[n]
            for c in 0..<C { dLast[n * C + c] = m * lastHiddenGradient[n * C + c] }
        }
        hooks.norms.backward(layerCount, .finalNorm, dinput: dCur, accumulate: false, scratch: normScratch, dout: dLast,
                             input: boundary(layerCount), weight: finalNorm, mean: a + layout.finalMean,
                             rstd: a + layout.finalRstd, mask: mask, B: B, T: T, C: C)
        hooks.hidden[layerCount]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        for l in stride(from: layerCount - 1, through: hooks.lowestHookedLayer, by: -1) {
            let w = layers[l], s = layerActivations(l), x = boundary(l)
            // out = g·Wmproj + b + r1
            if hooks.hasLinearHook(layer: l, module: .proj) {
                // only a hook on this layer reads its input gelu(f)
                geluForward(out: gelu, input: s.f, N: BT * I, form: config.geluForm)
            }
            denseBackward(l, .proj, dinput: dg, accumulate: false, dout: dCur, input: gelu, weight: w.projection)
            // g = gelu(f), its gradient turned into f's in place
            geluBackward(dinput: dg, dout: dg, input: s.f, N: BT * I, form: config.geluForm)
            // f = a2·Wfc + b
            denseBackward(l, .fc, dinput: da2, accumulate: false, dout: dg, input: s.a2, weight: w.fc)
            // a2 = LN2(r1); r1 also feeds out: dCur becomes ∂L/∂r1
            hooks.norms.backward(l, .ln2, dinput: dCur, accumulate: true, scratch: normScratch, dout: da2, input: s.r1,
                                 weight: w.norm2, mean: s.mean2, rstd: s.rstd2, mask: mask, B: B, T: T, C: C)
            // r1 = ctx·Wproj + b + x
            denseBackward(l, .attnProj, dinput: dctx, accumulate: false, dout: dCur, input: s.ctx,
                          weight: w.attentionProjection)
            // ctx = attention(qkv)
            attentionBackward(dq: dqkv, dk: dqkv + C, dv: dqkv + 2 * C, scratch: scratch, dout: dctx, att: s.att,
                              q: s.qkv, k: s.qkv + C, v: s.qkv + 2 * C, ld: 3 * C, B: B, T: T, C: C, NH: NH,
                              workers: layout.workers)
            // qkv = a1·Wattn + b
            denseBackward(l, .qkv, dinput: da1, accumulate: false, dout: dqkv, input: s.a1, weight: w.attention)
            // a1 = LN1(x); x also feeds r1: dCur becomes ∂L/∂x
            hooks.norms.backward(l, .ln1, dinput: dCur, accumulate: true, scratch: normScratch, dout: da1, input: x,
                                 weight: w.norm1, mean: s.mean1, rstd: s.rstd1, mask: mask, B: B, T: T, C: C)
            hooks.hidden[l]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        }
    }

    // MARK: dense layers with hooks

    private func dense(_ l: Int, _ module: LinearModule, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                       weight: FrozenWeight, bias: UnsafePointer<Float>) {
        linearForward(out: out, input: input, weight: weight, bias: bias, N: B * T)
        hooks.forward(layer: l, module: module, output: out, input: input, batch: B, seqLen: T)
    }

    private func denseBackward(_ l: Int, _ module: LinearModule, dinput: UnsafeMutablePointer<Float>, accumulate: Bool,
                               dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: FrozenWeight) {
        linearBackward(dinput: dinput, dout: dout, weight: weight, N: B * T, accumulate: accumulate)
        hooks.backward(layer: l, module: module, inputGradient: dinput, input: input, outputGradient: dout,
                       mask: activations.base + layout.mask, batch: B, seqLen: T)
    }

    // MARK: slab layout

    /// Offsets (in floats) of every region for one batch shape.
    struct Layout: SlabLayout {
        var B = 0, T = 0, workers = 0
        var mask = 0, normalized = 0, gelu = 0, boundaries = 0, final = 0, finalMean = 0, finalRstd = 0, layers = 0, layerStride = 0
        var a1 = 0, mean1 = 0, rstd1 = 0, qkv = 0, att = 0, ctx = 0, r1 = 0, a2 = 0, mean2 = 0, rstd2 = 0, f = 0
        var activationCount = 0
        var dCur = 0, dLast = 0, dctx = 0, da1 = 0, da2 = 0, dqkv = 0, dg = 0, scratch = 0, normScratch = 0
        var gradientCount = 0

        init(B: Int, T: Int, workers: Int, config: GPT2Config?) {
            guard let config else { return }
            self.B = B
            self.T = T
            self.workers = workers
            let BT = B * T, C = config.nEmbd, I = config.innerSize, NH = config.nHead, L = config.nLayer
            var cursor = SlabCursor()
            mask = cursor.take(BT)                       // (B, T)
            normalized = cursor.take(BT * C)             // (B, T, C): xhat for norm hooks
            gelu = cursor.take(BT * I)                   // (B, T, I): gelu(f) of the current block
            boundaries = cursor.take((L + 1) * BT * C)   // (L+1, B, T, C)
            final = cursor.take(BT * C)                  // (B, T, C)
            finalMean = cursor.take(BT)                  // (B, T)
            finalRstd = cursor.take(BT)                  // (B, T)
            var block = SlabCursor()
            a1 = block.take(BT * C)                      // (B, T, C)
            mean1 = block.take(BT)                       // (B, T)
            rstd1 = block.take(BT)                       // (B, T)
            qkv = block.take(BT * 3 * C)                 // (B, T, 3C)
            att = block.take(B * NH * T * T)             // (B, NH, T, T)
            ctx = block.take(BT * C)                     // (B, T, C)
            r1 = block.take(BT * C)                      // (B, T, C)
            a2 = block.take(BT * C)                      // (B, T, C)
            mean2 = block.take(BT)                       // (B, T)
            rstd2 = block.take(BT)                       // (B, T)
            f = block.take(BT * I)                       // (B, T, I)
            layerStride = block.offset
            layers = cursor.take(L * layerStride)        // (L, layerStride)
            activationCount = cursor.offset
            var grads = SlabCursor()
            dCur = grads.take(BT * C)                    // (B, T, C)
            dLast = grads.take(BT * C)                   // (B, T, C)
            dctx = grads.take(BT * C)                    // (B, T, C)
            da1 = grads.take(BT * C)                     // (B, T, C)
            da2 = grads.take(BT * C)                     // (B, T, C)
            dqkv = grads.take(BT * 3 * C)                // (B, T, 3C)
            dg = grads.take(BT * I)                      // (B, T, I): then ∂L/∂f
            scratch = grads.take(workers * T * T)        // (workers, T, T): attention backward
            normScratch = grads.take(2 * BT * C)         // (2, B, T, C): xhat and ∂L/∂xhat for norm hooks
            gradientCount = grads.offset
        }
    }

    struct LayerActivations {
        let a1, mean1, rstd1, qkv, att, ctx, r1, a2, mean2, rstd2, f: UnsafeMutablePointer<Float>
    }

    /// Lays the slabs out for exactly this batch shape (``SlabLayout/fit(batch:seqLen:config:activations:gradients:)``).
    private func reserve(batch: Int, seqLen: Int) {
        guard layout.fit(batch: batch, seqLen: seqLen, config: config, activations: activations, gradients: gradients),
              ids.count < batch * seqLen else { return }
        ids = [Int32](repeating: 0, count: batch * seqLen)
    }

    private func boundary(_ k: Int) -> UnsafeMutablePointer<Float> {
        activations.base + layout.boundaries + k * layout.B * layout.T * config.nEmbd
    }

    private func layerActivations(_ l: Int) -> LayerActivations {
        let p = activations.base + layout.layers + l * layout.layerStride
        return LayerActivations(a1: p + layout.a1, mean1: p + layout.mean1, rstd1: p + layout.rstd1, qkv: p + layout.qkv,
                                att: p + layout.att, ctx: p + layout.ctx, r1: p + layout.r1, a2: p + layout.a2,
                                mean2: p + layout.mean2, rstd2: p + layout.rstd2, f: p + layout.f)
    }
}
