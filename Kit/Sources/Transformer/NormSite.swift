// SPDX-License-Identifier: Apache-2.0
import Linalg

/// Which normalization layer of a backbone, named by its Hugging Face module path.
///
/// A struct rather than an enum so that new families add constants without breaking
/// plugins compiled against the old set.
public struct NormModule: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    // BERT (post-LN)
    public static let embeddings = NormModule(rawValue: "embeddings.LayerNorm")
    public static let attentionOutputNorm = NormModule(rawValue: "attention.output.LayerNorm")
    public static let outputNorm = NormModule(rawValue: "output.LayerNorm")
    // GPT-2 (pre-LN)
    public static let ln1 = NormModule(rawValue: "ln_1")
    public static let ln2 = NormModule(rawValue: "ln_2")
    public static let finalNorm = NormModule(rawValue: "ln_f")

    public var description: String { rawValue }
}

/// One normalization layer `out = xhat·w + b` where an adapter can attach a ``NormHook``
/// (BiTFiT trains the `b` of every such layer).
public struct NormSite: Sendable, Hashable, CustomStringConvertible {
    /// The block that owns it; the embedding norm counts as block 0 and GPT-2's final
    /// norm as block `layerCount`.
    public let layer: Int
    public let module: NormModule
    public let width: Int
    /// The checkpoint's name, e.g. `encoder.layer.3.output.LayerNorm` (append `.weight`/`.bias`).
    public let parameterName: String

    public init(layer: Int, module: NormModule, width: Int, parameterName: String) {
        self.layer = layer
        self.module = module
        self.width = width
        self.parameterName = parameterName
    }

    public var description: String { parameterName }
}

/// The seam through which an adapter joins a frozen layer norm `out = xhat·w + b`,
/// `xhat = (x - mean)·rstd`.
///
/// Forward may add to `out` given `xhat` (a bias delta: `out += Δb`; a scale delta:
/// `out += xhat·Δw`). Backward sees `G = ∂L/∂out` and `xhat` for the whole batch, forms
/// the adapter's gradients (per sample: `Σ_t G` for `Δb`, `Σ_t G⊙xhat` for `Δw`) and may
/// add its own path to `∂L/∂xhat` (for `Δw`: `G⊙Δw`), which the backbone then carries
/// through the normalization.
///
/// - Important: the pointers are valid only during the call.
public protocol NormHook: AnyObject {
    /// - Parameters:
    ///   - output: `(B, T, C)`, may be added to
    ///   - normalized: `(B, T, C)`, `xhat`
    func forward(output: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                 site: NormSite, batch: Int, seqLen: Int)

    /// - Parameters:
    ///   - normalizedGradient: `(B, T, C)`, zero on entry; add the adapter's `∂L/∂xhat` path
    ///   - normalized: `(B, T, C)`, `xhat`
    ///   - outputGradient: `(B, T, C)`, `G`, zero at padding tokens
    ///   - mask: `(B, T)`
    func backward(normalizedGradient: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: NormSite, batch: Int, seqLen: Int)
}

extension NormHook {
    public func forward(output: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                        site: NormSite, batch: Int, seqLen: Int) {}
    public func backward(normalizedGradient: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                         outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                         site: NormSite, batch: Int, seqLen: Int) {}
}

/// `xhat = (input - mean)·rstd`, recomputed for norm hooks from what forward saved.
///
/// - Parameters:
///   - out: `(N, C)`
///   - input: `(N, C)`
///   - mean, rstd: `(N)`
func layerNormNormalized(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let m = mean[n], s = rstd[n], x = input + n * C, y = out + n * C
        for c in 0..<C { y[c] = (x[c] - m) * s }
    }
}

/// The norm hooks of one backbone and the scratch they need, shared by every family so
/// that each backbone only says where its norms are.
final class NormHookTable {
    private(set) var hooks: [NormKey: (site: NormSite, hook: any NormHook)] = [:]
    let ones: [Float]

    struct NormKey: Hashable {
        let layer: Int
        let module: NormModule
    }

    init(width: Int) { ones = [Float](repeating: 1, count: width) }

    var layers: [Int] { hooks.keys.map(\.layer) }

    func set(_ hook: (any NormHook)?, for site: NormSite) {
        hooks[NormKey(layer: site.layer, module: site.module)] = hook.map { (site, $0) }
    }

    /// After `layerNormForward` wrote `out`: lets a hook add to it.
    ///
    /// - Parameters:
    ///   - scratch: `(B, T, C)` workspace for `xhat`
    func forward(_ layer: Int, _ module: NormModule, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                 input: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                 B: Int, T: Int, C: Int) {
        guard let entry = hooks[NormKey(layer: layer, module: module)] else { return }
        layerNormNormalized(out: scratch, input: input, mean: mean, rstd: rstd, N: B * T, C: C)
        entry.hook.forward(output: out, normalized: scratch, site: entry.site, batch: B, seqLen: T)
    }

    /// `dinput (+)= LN'(dout)` (when `dinput` is given), plus the hook's `∂L/∂xhat` path.
    ///
    /// Layer-norm backward is linear in `∂L/∂xhat = dout·w`, so the hook's extra
    /// `∂L/∂xhat` goes through the same kernel with unit weights.
    ///
    /// - Parameters:
    ///   - dinput: accumulated when `accumulate` (a pre-norm block's residual), else overwritten
    ///   - scratch: `(2, B, T, C)` workspace for `xhat` and the hook's `∂L/∂xhat`
    func backward(_ layer: Int, _ module: NormModule, dinput: UnsafeMutablePointer<Float>?, accumulate: Bool,
                  scratch: UnsafeMutablePointer<Float>,
                  dout: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                  mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  B: Int, T: Int, C: Int) {
        let N = B * T
        if let dinput {
            layerNormBackward(dinput: dinput, dweight: nil, dbias: nil, dout: dout, input: input, weight: weight,
                              mean: mean, rstd: rstd, N: N, C: C, accumulate: accumulate)
        }
        guard let entry = hooks[NormKey(layer: layer, module: module)] else { return }
        let xhat = scratch, dxhat = scratch + N * C
        layerNormNormalized(out: xhat, input: input, mean: mean, rstd: rstd, N: N, C: C)
        dxhat.update(repeating: 0, count: N * C)
        entry.hook.backward(normalizedGradient: dxhat, normalized: xhat, outputGradient: dout, mask: mask,
                            site: entry.site, batch: B, seqLen: T)
        if let dinput {
            layerNormBackward(dinput: dinput, dweight: nil, dbias: nil, dout: dxhat, input: input, weight: ones,
                              mean: mean, rstd: rstd, N: N, C: C)
        }
    }
}
