// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = width.
import Linalg

extension NormModule {
    // Llama (pre-RMSNorm, no bias: a hook's shift is a new parameter of the adapter)
    public static let inputLayerNorm = NormModule(rawValue: "input_layernorm")
    public static let postAttentionLayerNorm = NormModule(rawValue: "post_attention_layernorm")
    public static let finalRMSNorm = NormModule(rawValue: "norm")
}

/// Norm hooks on RMSNorm layers `out = xhat·w`, `xhat = x·rstd`: the same ``NormHook``
/// contract as for layer norms, with `xhat` lacking the mean subtraction.
extension NormHookTable {
    /// After `rmsNormForward` wrote `out`: lets a hook add to it.
    ///
    /// - Parameters:
    ///   - out: `(B, T, C)`
    ///   - scratch: `(B, T, C)` workspace for `xhat`
    ///   - input: `(B, T, C)`
    ///   - rstd: `(B, T)` saved by forward
    func forwardRMS(_ layer: Int, _ module: NormModule, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                    input: UnsafePointer<Float>, rstd: UnsafePointer<Float>, B: Int, T: Int, C: Int) {
        guard let entry = hooks[NormKey(layer: layer, module: module)] else { return }
        rmsNormNormalized(out: scratch, input: input, rstd: rstd, N: B * T, C: C)
        entry.hook.forward(output: out, normalized: scratch, site: entry.site, batch: B, seqLen: T)
    }

    /// `dinput (+)= RMSNorm'(dout)`, plus the hook's `∂L/∂xhat` path.
    ///
    /// RMSNorm backward is linear in `∂L/∂xhat = dout·w`, so the hook's extra `∂L/∂xhat`
    /// goes through the same kernel with unit weights.
    ///
    /// - Parameters:
    ///   - dinput: `(B, T, C)`, accumulated when `accumulate` (a pre-norm block's residual), else overwritten
    ///   - scratch: `(2, B, T, C)` workspace for `xhat` and the hook's `∂L/∂xhat`
    ///   - dout: `(B, T, C)`
    ///   - weight: `(C)`
    ///   - mask: `(B, T)`
    func backwardRMS(_ layer: Int, _ module: NormModule, dinput: UnsafeMutablePointer<Float>, accumulate: Bool,
                     scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, input: UnsafePointer<Float>,
                     weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                     B: Int, T: Int, C: Int) {
        let N = B * T
        rmsNormBackward(dinp: dinput, dweight: nil, rstd: rstd, dout: dout, input: input, weight: weight, B: 1, T: N, C: C,
                        accumulate: accumulate)
        guard let entry = hooks[NormKey(layer: layer, module: module)] else { return }
        let xhat = scratch, dxhat = scratch + N * C
        rmsNormNormalized(out: xhat, input: input, rstd: rstd, N: N, C: C)
        dxhat.update(repeating: 0, count: N * C)
        entry.hook.backward(normalizedGradient: dxhat, normalized: xhat, outputGradient: dout, mask: mask,
                            site: entry.site, batch: B, seqLen: T)
        rmsNormBackward(dinp: dinput, dweight: nil, rstd: rstd, dout: dxhat, input: input, weight: ones, B: 1, T: N, C: C)
    }
}

/// `xhat = input·rstd`, recomputed for norm hooks from what forward saved.
///
/// - Parameters:
///   - out: `(N, C)`
///   - input: `(N, C)`
///   - rstd: `(N)`
func rmsNormNormalized(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int, C: Int) {
    for n in 0..<N {
        let s = rstd[n], x = input + n * C, y = out + n * C
        for c in 0..<C { y[c] = x[c] * s }
    }
}
