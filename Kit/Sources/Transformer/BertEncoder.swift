// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden size, NH = heads, I = intermediate
// size, L = layers, V = vocabulary, P = max positions.
import Foundation
import Linalg

/// A frozen BERT encoder (post-LayerNorm, exact GELU, absolute positions, dropout off).
///
/// Block `l` (input `x`, boundary `l`):
///
///     q, k, v = x·Wq,k,vᵀ + b               sites query, key, value
///     ctx     = attention(q, k, v, mask)
///     r1      = ctx·Woᵀ + bo + x            site attentionOutput
///     h1      = LN1(r1)
///     f       = h1·Wiᵀ + bi                 site intermediate
///     r2      = gelu(f)·Wo2ᵀ + bo2 + h1     site output
///     out     = LN2(r2)                     boundary l+1
///
/// - Important: not thread-safe; one training loop owns it.
public final class BertEncoder: ReplicableBackbone, ContextLimitedBackbone {
    public let config: BertConfig
    public let linearSites: [LinearSite]
    public let normSites: [NormSite]
    public var hiddenSize: Int { config.hiddenSize }
    public var parameterCount: Int { file.entries.values.reduce(0) { $0 + $1.elementCount } }
    public var layerCount: Int { config.numHiddenLayers }
    public var maxSequenceLength: Int { config.maxPositionEmbeddings }

    struct LayerWeights {
        var query: FrozenWeight, queryBias: UnsafePointer<Float>
        var key: FrozenWeight, keyBias: UnsafePointer<Float>
        var value: FrozenWeight, valueBias: UnsafePointer<Float>
        var attentionOutput: FrozenWeight, attentionOutputBias, norm1, norm1Bias: UnsafePointer<Float>
        var intermediate: FrozenWeight, intermediateBias: UnsafePointer<Float>
        var output: FrozenWeight, outputBias, norm2, norm2Bias: UnsafePointer<Float>
    }

    private let file: SafetensorsFile
    private let weightOwner: WeightReader
    private let wordEmbeddings: UnsafePointer<Float>          // (V, C)
    private let positionEmbeddings: UnsafePointer<Float>      // (P, C)
    private let tokenTypeEmbeddings: UnsafePointer<Float>     // (2, C)
    private let embeddingNorm, embeddingNormBias: UnsafePointer<Float>  // (C)
    private let poolerWeight: FrozenWeight?                     // (C, C)
    private let poolerBias: UnsafePointer<Float>?               // (C)
    private let layers: [LayerWeights]
    private let siteWeights: [LinearSite: UnsafePointer<Float>]

    private let hooks: BackboneHooks

    private let activations = ActivationSlab()
    private let gradients = ActivationSlab()
    private var layout = Layout(B: 0, T: 0, workers: 0, config: nil)
    private var ids: [Int32] = []
    private var tokenTypes: [Int32] = []
    private let positions: [Int32]
    private var B = 0, T = 0

    /// Loads `config.json` and `model.safetensors` from a Hugging Face model directory.
    ///
    /// - Throws: ``ModelLoadingError`` or ``SafetensorsError`` naming the bad file or tensor.
    public convenience init(directory: URL) throws {
        guard case .bert(let config) = try ModelConfig(directory: directory) else {
            throw ModelLoadingError(.unsupportedArchitecture, "\(directory.path): config.json is not a BERT model")
        }
        try self.init(config: config, weights: SafetensorsFile(url: directory.appendingPathComponent("model.safetensors")))
    }

    public init(config: BertConfig, weights file: SafetensorsFile) throws {
        self.config = config
        self.file = file
        let C = config.hiddenSize, I = config.intermediateSize
        var reader = WeightReader(file: file, prefixes: ["", "bert."])
        wordEmbeddings = try reader.load("embeddings.word_embeddings.weight", shape: [config.vocabSize, C])
        positionEmbeddings = try reader.load("embeddings.position_embeddings.weight", shape: [config.maxPositionEmbeddings, C])
        tokenTypeEmbeddings = try reader.load("embeddings.token_type_embeddings.weight", shape: [config.typeVocabSize, C])
        embeddingNorm = try reader.load("embeddings.LayerNorm.weight", shape: [C])
        embeddingNormBias = try reader.load("embeddings.LayerNorm.bias", shape: [C])
        if file.entries["pooler.dense.weight"] != nil || file.entries["bert.pooler.dense.weight"] != nil {
            poolerWeight = FrozenWeight(try reader.load("pooler.dense.weight", shape: [C, C]), IC: C, OC: C, layout: .outIn)
            poolerBias = try reader.load("pooler.dense.bias", shape: [C])
        } else {
            poolerWeight = nil
            poolerBias = nil
        }
        var layers: [LayerWeights] = []
        var sites: [LinearSite] = []
        var siteWeights: [LinearSite: UnsafePointer<Float>] = [:]
        var norms = [NormSite(layer: 0, module: .embeddings, width: C, parameterName: "embeddings.LayerNorm")]
        for l in 0..<config.numHiddenLayers {
            let p = "encoder.layer.\(l)."
            norms.append(NormSite(layer: l, module: .attentionOutputNorm, width: C, parameterName: p + "attention.output.LayerNorm"))
            norms.append(NormSite(layer: l, module: .outputNorm, width: C, parameterName: p + "output.LayerNorm"))
            func dense(_ module: LinearModule, _ inFeatures: Int, _ outFeatures: Int) throws -> (FrozenWeight, UnsafePointer<Float>) {
                let site = LinearSite(layer: l, module: module, inFeatures: inFeatures, outFeatures: outFeatures,
                                      weightLayout: .outIn, parameterName: p + module.rawValue)
                sites.append(site)
                let weight = try reader.load(p + module.rawValue + ".weight", shape: [outFeatures, inFeatures])
                siteWeights[site] = weight
                return (FrozenWeight(weight, IC: inFeatures, OC: outFeatures, layout: .outIn),
                        try reader.load(p + module.rawValue + ".bias", shape: [outFeatures]))
            }
            let q = try dense(.query, C, C), k = try dense(.key, C, C), v = try dense(.value, C, C)
            let ao = try dense(.attentionOutput, C, C)
            let n1 = (try reader.load(p + "attention.output.LayerNorm.weight", shape: [C]),
                      try reader.load(p + "attention.output.LayerNorm.bias", shape: [C]))
            let i = try dense(.intermediate, C, I), o = try dense(.output, I, C)
            let n2 = (try reader.load(p + "output.LayerNorm.weight", shape: [C]),
                      try reader.load(p + "output.LayerNorm.bias", shape: [C]))
            layers.append(LayerWeights(query: q.0, queryBias: q.1, key: k.0, keyBias: k.1, value: v.0, valueBias: v.1,
                                       attentionOutput: ao.0, attentionOutputBias: ao.1, norm1: n1.0, norm1Bias: n1.1,
                                       intermediate: i.0, intermediateBias: i.1, output: o.0, outputBias: o.1,
                                       norm2: n2.0, norm2Bias: n2.1))
        }
        self.layers = layers
        self.linearSites = sites
        self.siteWeights = siteWeights
        self.normSites = norms
        self.hooks = BackboneHooks(layerCount: layers.count, linearSites: linearSites, normSites: normSites, width: C)
        self.weightOwner = reader
        self.positions = (0..<Int32(config.maxPositionEmbeddings)).map { $0 }
    }

    /// An instance over `other`'s weights (the mapped file, converted tensors and packed
    /// operands), which it keeps alive.
    private init(sharingWeightsOf other: BertEncoder) {
        config = other.config
        file = other.file
        weightOwner = other.weightOwner
        wordEmbeddings = other.wordEmbeddings
        positionEmbeddings = other.positionEmbeddings
        tokenTypeEmbeddings = other.tokenTypeEmbeddings
        embeddingNorm = other.embeddingNorm
        embeddingNormBias = other.embeddingNormBias
        poolerWeight = other.poolerWeight
        poolerBias = other.poolerBias
        layers = other.layers
        linearSites = other.linearSites
        siteWeights = other.siteWeights
        normSites = other.normSites
        hooks = BackboneHooks(layerCount: layers.count, linearSites: linearSites, normSites: normSites,
                              width: config.hiddenSize)
        positions = other.positions
    }

    /// Shares the weights instead of converting and packing them again, and starts with
    /// this instance's activation capacity, so that it does not grow (and zero) its slabs
    /// during the steps that follow.
    public func replica() throws -> any Backbone {
        let replica = BertEncoder(sharingWeightsOf: self)
        replica.activations.reserve(activations.count)
        replica.gradients.reserve(gradients.count)
        return replica
    }

    public func setHook(_ hook: (any LinearHook)?, for site: LinearSite) {
        hooks.set(hook, for: site)
    }

    public func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>? {
        siteWeights[site].map { UnsafeBufferPointer(start: $0, count: site.inFeatures * site.outFeatures) }
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
        let C = config.hiddenSize, I = config.intermediateSize, NH = config.numAttentionHeads
        precondition(batch >= 1 && seqLen >= 1, "batch \(batch) and seqLen \(seqLen) must be positive")
        precondition(seqLen <= config.maxPositionEmbeddings, "seqLen \(seqLen) exceeds \(config.maxPositionEmbeddings) positions")
        precondition(inputIDs.count == batch * seqLen && attentionMask.count == batch * seqLen
                     && (tokenTypeIDs?.count ?? batch * seqLen) == batch * seqLen, "inputs must hold batch·seqLen values")
        reserve(batch: batch, seqLen: seqLen)
        B = batch
        T = seqLen
        let BT = B * T
        let a = activations.base
        let mask = a + layout.mask
        for i in 0..<BT { mask[i] = attentionMask[i] != 0 ? 1 : 0 }
        ids.replaceSubrange(0..<BT, with: inputIDs)
        if let tokenTypeIDs {
            tokenTypes.replaceSubrange(0..<BT, with: tokenTypeIDs)
        } else {
            for i in 0..<BT { tokenTypes[i] = 0 }
        }

        let x0 = boundary(0), sum = a + layout.embeddingSum, normalized = a + layout.normalized
        sum.update(repeating: 0, count: BT * C)
        embeddingForward(out: sum, ids: ids, table: wordEmbeddings, N: BT, V: config.vocabSize, C: C)
        for b in 0..<B {
            embeddingForward(out: sum + b * T * C, ids: positions, table: positionEmbeddings, N: T,
                             V: config.maxPositionEmbeddings, C: C)
        }
        embeddingForward(out: sum, ids: tokenTypes, table: tokenTypeEmbeddings, N: BT, V: config.typeVocabSize, C: C)
        layerNormForward(out: x0, mean: a + layout.embeddingMean, rstd: a + layout.embeddingRstd, input: sum,
                         weight: embeddingNorm, bias: embeddingNormBias, N: BT, C: C, eps: config.layerNormEps)
        hooks.norms.forward(0, .embeddings, out: x0, scratch: normalized, input: sum, mean: a + layout.embeddingMean,
                          rstd: a + layout.embeddingRstd, B: B, T: T, C: C)
        hooks.hidden[0]?.forward(hidden: x0, mask: mask, batch: B, seqLen: T, width: C)

        for l in 0..<layerCount {
            let w = layers[l], s = layerActivations(l), x = boundary(l), out = boundary(l + 1)
            dense(l, .query, out: s.q, input: x, weight: w.query, bias: w.queryBias)
            dense(l, .key, out: s.k, input: x, weight: w.key, bias: w.keyBias)
            dense(l, .value, out: s.v, input: x, weight: w.value, bias: w.valueBias)
            attentionForward(out: s.ctx, att: s.att, q: s.q, k: s.k, v: s.v, ld: C, mask: mask,
                             B: B, T: T, C: C, NH: NH, causal: false)
            dense(l, .attentionOutput, out: s.r1, input: s.ctx, weight: w.attentionOutput, bias: w.attentionOutputBias)
            residualForward(out: s.r1, a: s.r1, b: x, N: BT * C)
            layerNormForward(out: s.h1, mean: s.mean1, rstd: s.rstd1, input: s.r1, weight: w.norm1, bias: w.norm1Bias,
                             N: BT, C: C, eps: config.layerNormEps)
            hooks.norms.forward(l, .attentionOutputNorm, out: s.h1, scratch: normalized, input: s.r1, mean: s.mean1,
                              rstd: s.rstd1, B: B, T: T, C: C)
            dense(l, .intermediate, out: s.f, input: s.h1, weight: w.intermediate, bias: w.intermediateBias)
            let g = a + layout.gelu   // (B, T, I), recomputed by backward: saves L·B·T·I floats
            geluForward(out: g, input: s.f, N: BT * I, form: config.geluForm)
            dense(l, .output, out: s.r2, input: g, weight: w.output, bias: w.outputBias)
            residualForward(out: s.r2, a: s.r2, b: s.h1, N: BT * C)
            layerNormForward(out: out, mean: s.mean2, rstd: s.rstd2, input: s.r2, weight: w.norm2, bias: w.norm2Bias,
                             N: BT, C: C, eps: config.layerNormEps)
            hooks.norms.forward(l, .outputNorm, out: out, scratch: normalized, input: s.r2, mean: s.mean2, rstd: s.rstd2,
                              B: B, T: T, C: C)
            hooks.hidden[l + 1]?.forward(hidden: out, mask: mask, batch: B, seqLen: T, width: C)
        }
        return UnsafeBufferPointer(start: boundary(layerCount), count: BT * C)
    }

    /// The token mask of the last `forward` `(B, T)`, as floats (1 real, 0 padding).
    public var mask: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: activations.base + layout.mask, count: B * T)
    }

    /// BERT's pooler on the last forward: `tanh(W·h[b, 0] + bias)` per sample, `(B, C)`,
    /// or nil when the checkpoint has no pooler weights.
    public func pooledOutput() -> [Float]? {
        guard let poolerWeight, let poolerBias else { return nil }
        let C = config.hiddenSize
        let last = boundary(layerCount)
        var cls = [Float](repeating: 0, count: B * C), out = [Float](repeating: 0, count: B * C)
        for b in 0..<B { for c in 0..<C { cls[b * C + c] = last[b * T * C + c] } }
        linearForward(out: &out, input: cls, weight: poolerWeight, bias: poolerBias, N: B)
        return out.map { tanh($0) }
    }

    // MARK: backward

    public func backward(lastHiddenGradient: UnsafePointer<Float>) {
        let C = config.hiddenSize, I = config.intermediateSize, NH = config.numAttentionHeads
        let BT = B * T
        precondition(BT > 0, "backward called before forward")
        let a = activations.base
        let mask = UnsafePointer(a + layout.mask)
        let g = gradients.base
        // dCur holds ∂L/∂(block output); the block's gradient for its input x builds up in
        // dNext, then the two swap. Every buffer is written before it is read, so none is
        // zeroed, and the residual branches accumulate in place instead of being copied.
        var dCur = g + layout.dCur, dNext = g + layout.dNext
        for n in 0..<BT {
            let m = mask[n]
            for c in 0..<C { dCur[n * C + c] = m * lastHiddenGradient[n * C + c] }
        }
        hooks.hidden[layerCount]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        let dr2 = g + layout.dr2, dctx = g + layout.dctx
        let dq = g + layout.dq, dk = g + layout.dk, dv = g + layout.dv, dg = g + layout.dg
        let scratch = g + layout.scratch, normScratch = g + layout.normScratch
        let gelu = a + layout.gelu
        let lowest = hooks.lowestHookedLayer
        for l in stride(from: layerCount - 1, through: lowest, by: -1) {
            let w = layers[l], s = layerActivations(l), x = boundary(l)
            // out = LN2(r2)
            hooks.norms.backward(l, .outputNorm, dinput: dr2, accumulate: false, scratch: normScratch, dout: dCur,
                                 input: s.r2, weight: w.norm2, mean: s.mean2, rstd: s.rstd2, mask: mask, B: B, T: T, C: C)
            // r2 = g·Wo2ᵀ + bo2 + h1
            if hooks.hasLinearHook(layer: l, module: .output) {
                // only a hook on this layer reads its input gelu(f)
                geluForward(out: gelu, input: s.f, N: BT * I, form: config.geluForm)
            }
            denseBackward(l, .output, dinput: dg, accumulate: false, dout: dr2, input: gelu, weight: w.output)
            // g = gelu(f), its gradient turned into f's in place
            geluBackward(dinput: dg, dout: dg, input: s.f, N: BT * I, form: config.geluForm)
            // f = h1·Wiᵀ + bi; h1 also feeds r2, so ∂L/∂h1 = dr2 + this, built in dr2
            let dh1 = dr2
            denseBackward(l, .intermediate, dinput: dh1, accumulate: true, dout: dg, input: s.h1, weight: w.intermediate)
            // h1 = LN1(r1); x also feeds r1, so ∂L/∂x starts as ∂L/∂r1
            let dr1 = dNext
            hooks.norms.backward(l, .attentionOutputNorm, dinput: dr1, accumulate: false, scratch: normScratch, dout: dh1,
                                 input: s.r1, weight: w.norm1, mean: s.mean1, rstd: s.rstd1, mask: mask, B: B, T: T, C: C)
            // r1 = ctx·Woᵀ + bo + x
            denseBackward(l, .attentionOutput, dinput: dctx, accumulate: false, dout: dr1, input: s.ctx,
                          weight: w.attentionOutput)
            // ctx = attention(q, k, v)
            attentionBackward(dq: dq, dk: dk, dv: dv, scratch: scratch, dout: dctx, att: s.att,
                              q: s.q, k: s.k, v: s.v, ld: C, B: B, T: T, C: C, NH: NH,
                              workers: layout.workers)
            // q, k, v = x·Wᵀ + b
            denseBackward(l, .query, dinput: dNext, accumulate: true, dout: dq, input: x, weight: w.query)
            denseBackward(l, .key, dinput: dNext, accumulate: true, dout: dk, input: x, weight: w.key)
            denseBackward(l, .value, dinput: dNext, accumulate: true, dout: dv, input: x, weight: w.value)
            swap(&dCur, &dNext)
            hooks.hidden[l]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        }
        if lowest == 0 {
            // x0 = LN(sum of embeddings); the embeddings themselves are frozen
            hooks.norms.backward(0, .embeddings, dinput: nil, accumulate: false, scratch: normScratch, dout: dCur,
                                 input: a + layout.embeddingSum, weight: embeddingNorm, mean: a + layout.embeddingMean,
                                 rstd: a + layout.embeddingRstd, mask: mask, B: B, T: T, C: C)
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
        var mask = 0, embeddingSum = 0, normalized = 0, embeddingMean = 0, embeddingRstd = 0, boundaries = 0, layers = 0, layerStride = 0
        var q = 0, k = 0, v = 0, att = 0, ctx = 0, r1 = 0, mean1 = 0, rstd1 = 0, h1 = 0, f = 0
        var gelu = 0, r2 = 0, mean2 = 0, rstd2 = 0
        var activationCount = 0
        var dCur = 0, dNext = 0, dr2 = 0, dctx = 0, dq = 0, dk = 0, dv = 0, dg = 0, scratch = 0, normScratch = 0
        var gradientCount = 0

        init(B: Int, T: Int, workers: Int, config: BertConfig?) {
            guard let config else { return }
            self.B = B
            self.T = T
            self.workers = workers
            let BT = B * T, C = config.hiddenSize, I = config.intermediateSize, NH = config.numAttentionHeads
            let L = config.numHiddenLayers
            var cursor = SlabCursor()
            mask = cursor.take(BT)                       // (B, T)
            embeddingSum = cursor.take(BT * C)           // (B, T, C)
            normalized = cursor.take(BT * C)             // (B, T, C): xhat for norm hooks
            gelu = cursor.take(BT * I)                   // (B, T, I): gelu(f) of the current block
            embeddingMean = cursor.take(BT)              // (B, T)
            embeddingRstd = cursor.take(BT)              // (B, T)
            boundaries = cursor.take((L + 1) * BT * C)   // (L+1, B, T, C)
            var block = SlabCursor()
            q = block.take(BT * C)                       // (B, T, C)
            k = block.take(BT * C)                       // (B, T, C)
            v = block.take(BT * C)                       // (B, T, C)
            att = block.take(B * NH * T * T)             // (B, NH, T, T)
            ctx = block.take(BT * C)                     // (B, T, C)
            r1 = block.take(BT * C)                      // (B, T, C)
            mean1 = block.take(BT)                       // (B, T)
            rstd1 = block.take(BT)                       // (B, T)
            h1 = block.take(BT * C)                      // (B, T, C)
            f = block.take(BT * I)                       // (B, T, I)
            r2 = block.take(BT * C)                      // (B, T, C)
            mean2 = block.take(BT)                       // (B, T)
            rstd2 = block.take(BT)                       // (B, T)
            layerStride = block.offset
            layers = cursor.take(L * layerStride)        // (L, layerStride)
            activationCount = cursor.offset
            var grads = SlabCursor()
            dCur = grads.take(BT * C)                    // (B, T, C)
            dNext = grads.take(BT * C)                   // (B, T, C)
            dr2 = grads.take(BT * C)                     // (B, T, C): then ∂L/∂h1
            dctx = grads.take(BT * C)                    // (B, T, C)
            dq = grads.take(BT * C)                      // (B, T, C)
            dk = grads.take(BT * C)                      // (B, T, C)
            dv = grads.take(BT * C)                      // (B, T, C)
            dg = grads.take(BT * I)                      // (B, T, I): then ∂L/∂f
            scratch = grads.take(workers * T * T)        // (workers, T, T): attention backward
            normScratch = grads.take(2 * BT * C)         // (2, B, T, C): xhat and ∂L/∂xhat for norm hooks
            gradientCount = grads.offset
        }
    }

    struct LayerActivations {
        let q, k, v, att, ctx, r1, mean1, rstd1, h1, f, r2, mean2, rstd2: UnsafeMutablePointer<Float>
    }

    /// Lays the slabs out for exactly this batch shape (``SlabLayout/fit(batch:seqLen:config:activations:gradients:)``).
    private func reserve(batch: Int, seqLen: Int) {
        guard layout.fit(batch: batch, seqLen: seqLen, config: config, activations: activations, gradients: gradients),
              ids.count < batch * seqLen else { return }
        ids = [Int32](repeating: 0, count: batch * seqLen)
        tokenTypes = ids
    }

    private func boundary(_ k: Int) -> UnsafeMutablePointer<Float> {
        activations.base + layout.boundaries + k * layout.B * layout.T * config.hiddenSize
    }

    private func layerActivations(_ l: Int) -> LayerActivations {
        let p = activations.base + layout.layers + l * layout.layerStride
        return LayerActivations(q: p + layout.q, k: p + layout.k, v: p + layout.v, att: p + layout.att, ctx: p + layout.ctx,
                                r1: p + layout.r1, mean1: p + layout.mean1, rstd1: p + layout.rstd1, h1: p + layout.h1,
                                f: p + layout.f, r2: p + layout.r2, mean2: p + layout.mean2,
                                rstd2: p + layout.rstd2)
    }
}
