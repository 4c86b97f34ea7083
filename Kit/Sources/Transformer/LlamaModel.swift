// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden size, NH = query heads, NKV = key/value
// heads, HD = head width, Q = NH·HD, KV = NKV·HD, I = intermediate size, L = layers,
// V = vocabulary, P = positions covered by the RoPE tables (the context length).
import Foundation
import Linalg

/// A frozen Llama-family decoder (pre-RMSNorm, RoPE in Hugging Face's `rotate_half` form,
/// grouped-query causal attention, SwiGLU MLP, `nn.Linear` weights `(out, in)` without biases).
///
/// Block `l` (input `x`, boundary `l`):
///
///     a1  = RMSNorm1(x)                                   norm input_layernorm
///     q   = rope(a1·Wqᵀ), k = rope(a1·Wkᵀ), v = a1·Wvᵀ    sites q_proj (B,T,Q), k_proj, v_proj (B,T,KV)
///     r1  = attention(q, k, v, causal)·Woᵀ + x            site o_proj
///     a2  = RMSNorm2(r1)                                  norm post_attention_layernorm
///     out = (silu(a2·Wgᵀ) ⊙ a2·Wuᵀ)·Wdᵀ + r1              sites gate_proj, up_proj, down_proj; boundary l+1
///
/// The last hidden state is `RMSNorm_f(boundary L)`, as in Hugging Face's `LlamaModel`; the LM
/// head (``logitsForward(logits:hidden:N:)``) is tied to the token embeddings unless the
/// checkpoint has its own. Hooks on q and k see the projections before RoPE, as PEFT's LoRA
/// does. All weights are held as Float32 in one allocation (GGUF files are dequantized on load).
///
/// Token positions are counted over real tokens only (`cumsum(mask) - 1`), so a right- or
/// left-padded row is computed as the same row alone at its real length.
///
/// - Important: not thread-safe; one training or generation loop owns it.
public final class LlamaModel: ReplicableBackbone, ContextLimitedBackbone {
    public let config: LlamaConfig
    public let linearSites: [LinearSite]
    public let normSites: [NormSite]
    public var hiddenSize: Int { config.hiddenSize }
    public var layerCount: Int { config.layerCount }
    public var maxSequenceLength: Int { config.contextLength }
    public var parameterCount: Int {
        let (C, I, V) = (config.hiddenSize, config.intermediateSize, config.vocabSize)
        let q = config.headCount * config.headDim, kv = config.kvHeadCount * config.headDim
        let block = 2 * C + C * q + 2 * C * kv + q * C + 3 * C * I
        return V * C * (config.tieWordEmbeddings ? 1 : 2) + C + config.layerCount * block
    }

    struct LayerWeights {
        let inputNorm: UnsafePointer<Float>, query, key, value, output: FrozenWeight
        let postAttentionNorm: UnsafePointer<Float>, gate, up, down: FrozenWeight
    }

    private let parameters: ActivationSlab     // every weight, in load order
    let tokenEmbeddings: UnsafePointer<Float>   // (V, C)
    let lmHead: FrozenWeight                    // (V, C): tokenEmbeddings when tied
    let finalNorm: UnsafePointer<Float>         // (C)
    let layers: [LayerWeights]
    private let siteWeights: [LinearSite: UnsafePointer<Float>]
    let ropeCos: [Float], ropeSin: [Float]      // (P, HD/2)

    let hooks: BackboneHooks

    private let activations = ActivationSlab()
    private let gradients = ActivationSlab()
    private var layout = Layout(B: 0, T: 0, workers: 0, config: nil)
    private var ids: [Int32] = []
    private var positions: [Int32] = []
    private var B = 0, T = 0
    /// Scratch of ``decodeForward(tokens:cache:)``, apart from the activations saved for backward.
    let decodeScratch = ActivationSlab()
    var decodePositions: [Int32] = []

    /// Reads one weight into `out`; `rotaryHeads` is the head count of a q or k projection
    /// (GGUF stores those permuted).
    typealias WeightSource = (_ name: WeightName, _ shape: [Int], _ rotaryHeads: Int?,
                              _ out: UnsafeMutableBufferPointer<Float>) throws -> Void

    /// A weight as Hugging Face and llama.cpp call it.
    struct WeightName {
        let huggingFace: String
        let gguf: String
    }

    /// Opens a GGUF file (`general.architecture` "llama"), dequantizing every weight to Float32.
    ///
    /// - Throws: ``GGUFError``, ``LlamaConfigError`` or ``ModelLoadingError`` naming the file and the tensor.
    public convenience init(ggufPath path: String) throws {
        let file = try GGUFFile(contentsOf: path)
        try self.init(config: LlamaConfig(gguf: file), gguf: file)
    }

    /// Builds the model from the tensors of `file` (llama.cpp names; q and k un-permuted for
    /// `rotate_half`).
    public convenience init(config: LlamaConfig, gguf file: GGUFFile) throws {
        try self.init(config: config) { name, shape, rotaryHeads, out in
            guard let tensor = file.tensor(named: name.gguf) else {
                throw ModelLoadingError(.missingWeight, "\(file.path): no tensor \(name.gguf) (\(name.huggingFace))")
            }
            guard tensor.shape == shape else {
                throw ModelLoadingError(.weightShapeMismatch, "\(file.path): \(name.gguf) has shape \(tensor.shape); the config implies \(shape)")
            }
            if let rotaryHeads {
                try file.dequantize(tensor, unpermutingRotaryHeads: rotaryHeads, into: out)
            } else {
                try file.dequantize(tensor, into: out)
            }
        }
    }

    /// Builds the model from a Hugging Face `model.safetensors` (any float dtype it can convert).
    public convenience init(config: LlamaConfig, weights file: SafetensorsFile) throws {
        try self.init(config: config) { name, shape, _, out in
            guard let entry = file.entries[name.huggingFace] else {
                throw ModelLoadingError(.missingWeight, "\(file.url.path): no tensor \(name.huggingFace)")
            }
            guard entry.shape == shape else {
                throw ModelLoadingError(.weightShapeMismatch, "\(file.url.path): \(entry.name) has shape \(entry.shape); the config implies \(shape)")
            }
            _ = try file.tensor(entry.name).withUnsafeBufferPointer { out.update(fromContentsOf: $0) }
        }
    }

    /// Opens a Hugging Face directory: `config.json` (`model_type` "llama") with `model.safetensors`,
    /// or, lacking the safetensors, the one `.gguf` file beside it.
    ///
    /// - Throws: ``ModelLoadingError``, ``LlamaConfigError``, ``SafetensorsError`` or ``GGUFError``.
    public convenience init(directory: URL) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            try self.init(ggufPath: try singleGGUF(in: directory).path)
            return
        }
        let data: Data
        do {
            data = try Data(contentsOf: configURL)
        } catch {
            throw ModelLoadingError(.badConfig, "\(configURL.path): cannot read (\(error.localizedDescription))")
        }
        try self.init(config: LlamaConfig(huggingFaceConfig: data, source: configURL.path),
                      weights: SafetensorsFile(url: weightsURL))
    }

    init(config: LlamaConfig, source: WeightSource) throws {
        self.config = config
        let C = config.hiddenSize, I = config.intermediateSize, V = config.vocabSize
        let HD = config.headDim, Q = config.headCount * HD, KV = config.kvHeadCount * HD, L = config.layerCount
        let perLayer = 2 * C + Q * C + 2 * KV * C + C * Q + 3 * I * C
        let parameters = ActivationSlab()
        parameters.reserve(V * C * (config.tieWordEmbeddings ? 1 : 2) + C + L * perLayer)
        self.parameters = parameters
        var cursor = 0
        let base = parameters.base
        func load(_ huggingFace: String, _ gguf: String, _ shape: [Int], rotaryHeads: Int? = nil) throws -> UnsafePointer<Float> {
            let count = shape.reduce(1, *)
            let out = base + cursor
            try source(WeightName(huggingFace: huggingFace, gguf: gguf), shape, rotaryHeads,
                       UnsafeMutableBufferPointer(start: out, count: count))
            cursor += count
            return UnsafePointer(out)
        }
        tokenEmbeddings = try load("model.embed_tokens.weight", "token_embd.weight", [V, C])
        finalNorm = try load("model.norm.weight", "output_norm.weight", [C])
        lmHead = FrozenWeight(try config.tieWordEmbeddings ? tokenEmbeddings : load("lm_head.weight", "output.weight", [V, C]),
                              IC: C, OC: V, layout: .outIn)
        var layers: [LayerWeights] = []
        var sites: [LinearSite] = []
        var siteWeights: [LinearSite: UnsafePointer<Float>] = [:]
        var norms: [NormSite] = []
        for l in 0..<L {
            let hf = "model.layers.\(l).", blk = "blk.\(l)."
            func dense(_ module: LinearModule, _ gguf: String, _ inFeatures: Int, _ outFeatures: Int,
                       rotaryHeads: Int? = nil) throws -> FrozenWeight {
                let site = LinearSite(layer: l, module: module, inFeatures: inFeatures, outFeatures: outFeatures,
                                      weightLayout: .outIn, parameterName: hf + module.rawValue)
                sites.append(site)
                let weight = try load(hf + module.rawValue + ".weight", blk + gguf + ".weight", [outFeatures, inFeatures],
                                      rotaryHeads: rotaryHeads)
                siteWeights[site] = weight
                return FrozenWeight(weight, IC: inFeatures, OC: outFeatures, layout: .outIn)
            }
            func norm(_ module: NormModule, _ gguf: String) throws -> UnsafePointer<Float> {
                norms.append(NormSite(layer: l, module: module, width: C, parameterName: hf + module.rawValue))
                return try load(hf + module.rawValue + ".weight", blk + gguf + ".weight", [C])
            }
            let inputNorm = try norm(.inputLayerNorm, "attn_norm")
            let query = try dense(.qProj, "attn_q", C, Q, rotaryHeads: config.headCount)
            let key = try dense(.kProj, "attn_k", C, KV, rotaryHeads: config.kvHeadCount)
            let value = try dense(.vProj, "attn_v", C, KV)
            let output = try dense(.oProj, "attn_output", Q, C)
            let postAttentionNorm = try norm(.postAttentionLayerNorm, "ffn_norm")
            let gate = try dense(.gateProj, "ffn_gate", C, I)
            let up = try dense(.upProj, "ffn_up", C, I)
            let down = try dense(.downProj, "ffn_down", I, C)
            layers.append(LayerWeights(inputNorm: inputNorm, query: query, key: key, value: value, output: output,
                                       postAttentionNorm: postAttentionNorm, gate: gate, up: up, down: down))
        }
        precondition(cursor <= parameters.count, "parameter slab of \(parameters.count) floats overrun (\(cursor))")
        self.layers = layers
        linearSites = sites
        self.siteWeights = siteWeights
        normSites = norms + [NormSite(layer: L, module: .finalRMSNorm, width: C, parameterName: "model.norm")]
        hooks = BackboneHooks(layerCount: L, linearSites: linearSites, normSites: normSites, width: C)
        let P = config.contextLength, half = HD / 2
        var cosTable = [Float](repeating: 0, count: P * half), sinTable = cosTable
        rotaryTables(cos: &cosTable, sin: &sinTable, theta: config.ropeTheta, P: P, HD: HD)
        ropeCos = cosTable
        ropeSin = sinTable
    }

    /// An instance over `other`'s dequantized weights, which it keeps alive.
    private init(sharingWeightsOf other: LlamaModel) {
        config = other.config
        parameters = other.parameters
        tokenEmbeddings = other.tokenEmbeddings
        lmHead = other.lmHead
        finalNorm = other.finalNorm
        layers = other.layers
        linearSites = other.linearSites
        siteWeights = other.siteWeights
        normSites = other.normSites
        hooks = BackboneHooks(layerCount: config.layerCount, linearSites: linearSites, normSites: normSites,
                              width: config.hiddenSize)
        ropeCos = other.ropeCos
        ropeSin = other.ropeSin
    }

    /// Shares the dequantized weights instead of reading and dequantizing them again, and
    /// starts with this instance's activation capacity.
    public func replica() throws -> any Backbone {
        let replica = LlamaModel(sharingWeightsOf: self)
        replica.activations.reserve(activations.count)
        replica.gradients.reserve(gradients.count)
        return replica
    }

    public func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>? {
        siteWeights[site].map { UnsafeBufferPointer(start: $0, count: site.inFeatures * site.outFeatures) }
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
        let C = config.hiddenSize
        precondition(batch >= 1 && seqLen >= 1, "batch \(batch) and seqLen \(seqLen) must be positive")
        precondition(seqLen <= config.contextLength, "seqLen \(seqLen) exceeds the context length \(config.contextLength)")
        precondition(inputIDs.count == batch * seqLen && attentionMask.count == batch * seqLen,
                     "inputs must hold batch·seqLen values")
        reserve(batch: batch, seqLen: seqLen)
        B = batch
        T = seqLen
        let BT = B * T
        let a = activations.base
        let mask = a + layout.mask
        for b in 0..<B {
            var real: Int32 = 0
            for t in 0..<T {
                let n = b * T + t
                mask[n] = attentionMask[n] != 0 ? 1 : 0
                if attentionMask[n] != 0 { real += 1 }
                positions[n] = max(real - 1, 0)
            }
        }
        ids.replaceSubrange(0..<BT, with: inputIDs)

        let x0 = boundary(0)
        x0.update(repeating: 0, count: BT * C)
        embeddingForward(out: x0, ids: ids, table: tokenEmbeddings, N: BT, V: config.vocabSize, C: C)
        hooks.hidden[0]?.forward(hidden: x0, mask: mask, batch: B, seqLen: T, width: C)
        for l in 0..<layerCount {
            let s = layerBuffers(l)
            blockForward(l, out: boundary(l + 1), x: boundary(l), s: s, swiglu: a + layout.swiglu,
                         normalized: a + layout.normalized, keys: s.k, values: s.v, keyMask: mask, mask: mask,
                         positions: positions, B: B, T: T, TK: T, offset: 0)
        }
        let last = a + layout.final
        rmsNormForward(out: last, rstd: a + layout.finalRstd, input: boundary(layerCount), weight: finalNorm,
                       B: 1, T: BT, C: C, epsilon: config.rmsNormEpsilon)
        hooks.norms.forwardRMS(layerCount, .finalRMSNorm, out: last, scratch: a + layout.normalized,
                               input: boundary(layerCount), rstd: a + layout.finalRstd, B: B, T: T, C: C)
        return UnsafeBufferPointer(start: last, count: BT * C)
    }

    /// Where one block's forward writes what it computes: saved per layer for backward in
    /// training, shared scratch in decoding (where `k` and `v` point into the cache).
    struct BlockBuffers {
        let a1, rstd1, q, k, v, att, ctx, r1, a2, rstd2, gate, up: UnsafeMutablePointer<Float>
    }

    /// One block, calling every hook; shared by training and cached decoding.
    ///
    /// - Parameters:
    ///   - out, x: `(B, T, C)`
    ///   - swiglu: `(B, T, I)` workspace
    ///   - normalized: `(B, T, C)` workspace for norm hooks
    ///   - keys, values: `(B, TK, KV)`; this block's new keys and values are written to `s.k`, `s.v`,
    ///     which are their rows `offset ..< offset + T`
    ///   - keyMask: `(B, TK)` or nil
    ///   - mask: `(B, T)`, for hidden-state hooks
    ///   - positions: `(B, T)`
    func blockForward(
        _ l: Int, out: UnsafeMutablePointer<Float>, x: UnsafeMutablePointer<Float>, s: BlockBuffers,
        swiglu: UnsafeMutablePointer<Float>, normalized: UnsafeMutablePointer<Float>,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, keyMask: UnsafePointer<Float>?, mask: UnsafePointer<Float>,
        positions: UnsafePointer<Int32>, B: Int, T: Int, TK: Int, offset: Int
    ) {
        let C = config.hiddenSize, I = config.intermediateSize, NH = config.headCount, NKV = config.kvHeadCount
        let HD = config.headDim, BT = B * T, w = layers[l]
        rmsNormForward(out: s.a1, rstd: s.rstd1, input: x, weight: w.inputNorm, B: 1, T: BT, C: C, epsilon: config.rmsNormEpsilon)
        hooks.norms.forwardRMS(l, .inputLayerNorm, out: s.a1, scratch: normalized, input: x, rstd: s.rstd1, B: B, T: T, C: C)
        dense(l, .qProj, out: s.q, input: s.a1, weight: w.query, B: B, T: T)
        dense(l, .kProj, out: s.k, input: s.a1, weight: w.key, B: B, T: T)
        dense(l, .vProj, out: s.v, input: s.a1, weight: w.value, B: B, T: T)
        rotaryForward(out: s.q, input: s.q, positions: positions, cos: ropeCos, sin: ropeSin,
                      B: B, T: T, NH: NH, HD: HD, P: config.contextLength)
        rotaryForward(out: s.k, input: s.k, positions: positions, cos: ropeCos, sin: ropeSin,
                      B: B, T: T, NH: NKV, HD: HD, P: config.contextLength)
        groupedQueryAttentionForward(out: s.ctx, att: s.att, q: s.q, k: keys, v: values, keyMask: keyMask,
                                     B: B, TQ: T, TK: TK, NH: NH, NKV: NKV, HD: HD, offset: offset)
        dense(l, .oProj, out: s.r1, input: s.ctx, weight: w.output, B: B, T: T)
        residualForward(out: s.r1, a: s.r1, b: x, N: BT * C)
        rmsNormForward(out: s.a2, rstd: s.rstd2, input: s.r1, weight: w.postAttentionNorm, B: 1, T: BT, C: C,
                       epsilon: config.rmsNormEpsilon)
        hooks.norms.forwardRMS(l, .postAttentionLayerNorm, out: s.a2, scratch: normalized, input: s.r1, rstd: s.rstd2,
                               B: B, T: T, C: C)
        dense(l, .gateProj, out: s.gate, input: s.a2, weight: w.gate, B: B, T: T)
        dense(l, .upProj, out: s.up, input: s.a2, weight: w.up, B: B, T: T)
        swigluForward(out: swiglu, gate: s.gate, up: s.up, B: 1, T: BT, H: I)
        dense(l, .downProj, out: out, input: swiglu, weight: w.down, B: B, T: T)
        residualForward(out: out, a: out, b: s.r1, N: BT * C)
        hooks.hidden[l + 1]?.forward(hidden: out, mask: mask, batch: B, seqLen: T, width: C)
    }

    /// The LM head: `logits = hidden · Wᵀ`, `W` the token embeddings when tied.
    ///
    /// - Parameters:
    ///   - logits: `(N, V)`, overwritten
    ///   - hidden: `(N, C)`
    public func logitsForward(logits: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>, N: Int) {
        linearForward(out: logits, input: hidden, weight: lmHead, bias: nil, N: N)
    }

    /// `dhidden += dlogits · W`, the gradient of ``logitsForward(logits:hidden:N:)``.
    ///
    /// - Parameters:
    ///   - dhidden: `(N, C)`, accumulated
    ///   - dlogits: `(N, V)`
    public func logitsBackward(dhidden: UnsafeMutablePointer<Float>, dlogits: UnsafePointer<Float>, N: Int) {
        linearBackward(dinput: dhidden, dout: dlogits, weight: lmHead, N: N, accumulate: true)
    }

    // MARK: backward

    public func backward(lastHiddenGradient: UnsafePointer<Float>) {
        let C = config.hiddenSize, I = config.intermediateSize, NH = config.headCount, NKV = config.kvHeadCount
        let HD = config.headDim, P = config.contextLength
        let BT = B * T
        precondition(BT > 0, "backward called before forward")
        let a = activations.base
        let mask = UnsafePointer(a + layout.mask)
        let g = gradients.base
        // dCur is the residual stream's gradient: ∂L/∂out of a block, then ∂L/∂r1, then
        // ∂L/∂x, each branch's norm backward accumulating into it, so it is never copied.
        // Every other buffer is written before it is read, except dq, dk, dv (below).
        let dCur = g + layout.dCur, dLast = g + layout.dLast, dctx = g + layout.dctx
        let da1 = g + layout.da1, da2 = g + layout.da2
        let dq = g + layout.dq, dk = g + layout.dk, dv = g + layout.dv
        let dh = g + layout.dh, dup = g + layout.dup
        let scratch = g + layout.scratch, normScratch = g + layout.normScratch, swiglu = a + layout.swiglu
        // last = RMSNorm_f(x_L), with padding rows dropped
        for n in 0..<BT {
            let m = mask[n]
            for c in 0..<C { dLast[n * C + c] = m * lastHiddenGradient[n * C + c] }
        }
        hooks.norms.backwardRMS(layerCount, .finalRMSNorm, dinput: dCur, accumulate: false, scratch: normScratch,
                                dout: dLast, input: boundary(layerCount), weight: finalNorm, rstd: a + layout.finalRstd,
                                mask: mask, B: B, T: T, C: C)
        hooks.hidden[layerCount]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        for l in stride(from: layerCount - 1, through: hooks.lowestHookedLayer, by: -1) {
            let w = layers[l], s = layerBuffers(l), x = boundary(l)
            // out = h·Wdᵀ + r1,  h = silu(gate) ⊙ up
            if hooks.hasLinearHook(layer: l, module: .downProj) {
                // only a hook on this layer reads its input h
                swigluForward(out: swiglu, gate: s.gate, up: s.up, B: 1, T: BT, H: I)
            }
            denseBackward(l, .downProj, dinput: dh, accumulate: false, dout: dCur, input: swiglu, weight: w.down)
            // h's gradient becomes gate's in place
            swigluBackward(dgate: dh, dup: dup, dout: dh, gate: s.gate, up: s.up, B: 1, T: BT, H: I)
            // gate = a2·Wgᵀ, up = a2·Wuᵀ
            denseBackward(l, .gateProj, dinput: da2, accumulate: false, dout: dh, input: s.a2, weight: w.gate)
            denseBackward(l, .upProj, dinput: da2, accumulate: true, dout: dup, input: s.a2, weight: w.up)
            // a2 = RMSNorm2(r1); r1 also feeds out: dCur becomes ∂L/∂r1
            hooks.norms.backwardRMS(l, .postAttentionLayerNorm, dinput: dCur, accumulate: true, scratch: normScratch,
                                    dout: da2, input: s.r1, weight: w.postAttentionNorm, rstd: s.rstd2, mask: mask,
                                    B: B, T: T, C: C)
            // r1 = ctx·Woᵀ + x
            denseBackward(l, .oProj, dinput: dctx, accumulate: false, dout: dCur, input: s.ctx, weight: w.output)
            // ctx = attention(q, k, v)
            groupedQueryAttentionBackward(dq: dq, dk: dk, dv: dv, scratch: scratch, dout: dctx, att: s.att,
                                          q: s.q, k: s.k, v: s.v, B: B, T: T, NH: NH, NKV: NKV, HD: HD,
                                          workers: layout.workers)
            // q = rope(a1·Wqᵀ), k = rope(a1·Wkᵀ): the rotations' gradients in place
            rotaryBackward(dinp: dq, dout: dq, positions: positions, cos: ropeCos, sin: ropeSin,
                           B: B, T: T, NH: NH, HD: HD, P: P)
            rotaryBackward(dinp: dk, dout: dk, positions: positions, cos: ropeCos, sin: ropeSin,
                           B: B, T: T, NH: NKV, HD: HD, P: P)
            denseBackward(l, .qProj, dinput: da1, accumulate: false, dout: dq, input: s.a1, weight: w.query)
            denseBackward(l, .kProj, dinput: da1, accumulate: true, dout: dk, input: s.a1, weight: w.key)
            denseBackward(l, .vProj, dinput: da1, accumulate: true, dout: dv, input: s.a1, weight: w.value)
            // a1 = RMSNorm1(x); x also feeds r1: dCur becomes ∂L/∂x
            hooks.norms.backwardRMS(l, .inputLayerNorm, dinput: dCur, accumulate: true, scratch: normScratch, dout: da1,
                                    input: x, weight: w.inputNorm, rstd: s.rstd1, mask: mask, B: B, T: T, C: C)
            hooks.hidden[l]?.backward(hiddenGradient: dCur, mask: mask, batch: B, seqLen: T, width: C)
        }
    }

    // MARK: dense layers with hooks

    private func dense(_ l: Int, _ module: LinearModule, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                       weight: FrozenWeight, B: Int, T: Int) {
        linearForward(out: out, input: input, weight: weight, bias: nil, N: B * T)
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
        var mask = 0, normalized = 0, swiglu = 0, boundaries = 0, final = 0, finalRstd = 0, layers = 0, layerStride = 0
        var a1 = 0, rstd1 = 0, q = 0, k = 0, v = 0, att = 0, ctx = 0, r1 = 0, a2 = 0, rstd2 = 0, gate = 0, up = 0
        var activationCount = 0
        var dCur = 0, dLast = 0, dctx = 0, da1 = 0, da2 = 0, dq = 0, dk = 0, dv = 0
        var dh = 0, dup = 0, scratch = 0, normScratch = 0
        var gradientCount = 0

        init(B: Int, T: Int, workers: Int, config: LlamaConfig?) {
            guard let config else { return }
            self.B = B
            self.T = T
            self.workers = workers
            let BT = B * T, C = config.hiddenSize, I = config.intermediateSize, NH = config.headCount
            let Q = NH * config.headDim, KV = config.kvHeadCount * config.headDim, L = config.layerCount
            var cursor = SlabCursor()
            mask = cursor.take(BT)                       // (B, T)
            normalized = cursor.take(BT * C)             // (B, T, C): xhat for norm hooks
            swiglu = cursor.take(BT * I)                 // (B, T, I): silu(gate)·up of the current block
            boundaries = cursor.take((L + 1) * BT * C)   // (L+1, B, T, C)
            final = cursor.take(BT * C)                  // (B, T, C)
            finalRstd = cursor.take(BT)                  // (B, T)
            var block = SlabCursor()
            a1 = block.take(BT * C)                      // (B, T, C)
            rstd1 = block.take(BT)                       // (B, T)
            q = block.take(BT * Q)                       // (B, T, Q), after RoPE
            k = block.take(BT * KV)                      // (B, T, KV), after RoPE
            v = block.take(BT * KV)                      // (B, T, KV)
            att = block.take(B * NH * T * T)             // (B, NH, T, T)
            ctx = block.take(BT * Q)                     // (B, T, Q)
            r1 = block.take(BT * C)                      // (B, T, C)
            a2 = block.take(BT * C)                      // (B, T, C)
            rstd2 = block.take(BT)                       // (B, T)
            gate = block.take(BT * I)                    // (B, T, I)
            up = block.take(BT * I)                      // (B, T, I)
            layerStride = block.offset
            layers = cursor.take(L * layerStride)        // (L, layerStride)
            activationCount = cursor.offset
            var grads = SlabCursor()
            dCur = grads.take(BT * C)                    // (B, T, C)
            dLast = grads.take(BT * C)                   // (B, T, C)
            dctx = grads.take(BT * Q)                    // (B, T, Q)
            da1 = grads.take(BT * C)                     // (B, T, C)
            da2 = grads.take(BT * C)                     // (B, T, C)
            dq = grads.take(BT * Q)                      // (B, T, Q)
            dk = grads.take(BT * KV)                     // (B, T, KV)
            dv = grads.take(BT * KV)                     // (B, T, KV)
            dh = grads.take(BT * I)                      // (B, T, I): h's gradient, then gate's
            dup = grads.take(BT * I)                     // (B, T, I)
            scratch = grads.take(workers * T * T)        // (workers, T, T): attention backward
            normScratch = grads.take(2 * BT * C)         // (2, B, T, C): xhat and ∂L/∂xhat for norm hooks
            gradientCount = grads.offset
        }
    }

    /// Lays the slabs out for exactly this batch shape (``SlabLayout/fit(batch:seqLen:config:activations:gradients:)``).
    private func reserve(batch: Int, seqLen: Int) {
        guard layout.fit(batch: batch, seqLen: seqLen, config: config, activations: activations, gradients: gradients),
              ids.count < batch * seqLen else { return }
        ids = [Int32](repeating: 0, count: batch * seqLen)
        positions = ids
    }

    private func boundary(_ k: Int) -> UnsafeMutablePointer<Float> {
        activations.base + layout.boundaries + k * layout.B * layout.T * config.hiddenSize
    }

    private func layerBuffers(_ l: Int) -> BlockBuffers {
        let p = activations.base + layout.layers + l * layout.layerStride
        return BlockBuffers(a1: p + layout.a1, rstd1: p + layout.rstd1, q: p + layout.q, k: p + layout.k, v: p + layout.v,
                            att: p + layout.att, ctx: p + layout.ctx, r1: p + layout.r1, a2: p + layout.a2,
                            rstd2: p + layout.rstd2, gate: p + layout.gate, up: p + layout.up)
    }
}

/// The one `.gguf` file in `directory`.
///
/// - Throws: ``ModelLoadingError`` `.missingWeight` when there is none or more than one.
public func singleGGUF(in directory: URL) throws -> URL {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    let ggufs = names.filter { $0.lowercased().hasSuffix(".gguf") }.sorted()
    guard ggufs.count == 1 else {
        throw ModelLoadingError(.missingWeight, "\(directory.path): needs config.json with model.safetensors, or exactly one .gguf file; found \(ggufs.isEmpty ? "none" : ggufs.joined(separator: ", "))")
    }
    return directory.appendingPathComponent(ggufs[0])
}
