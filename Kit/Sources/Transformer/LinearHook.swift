// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, IC/OC = the site's in/out features.

/// The seam through which an adapter joins a frozen dense layer `Y = X·Wᵀ + b`.
///
/// Forward runs after the frozen product, so the hook sees the layer's output and may
/// add to it (LoRA: `Y += s·(X Aᵀ) Bᵀ`). Backward runs once per batch with the layer's
/// input `X`, its output gradient `G = ∂L/∂Y`, and the token mask; from these the hook
/// forms its parameter gradients (per sample `i`: `G_iᵀX_i` for a weight delta,
/// `G_iᵀ1` for a bias) and may add its own path to `dX` (LoRA: `dX += s·(G B) A`).
/// Rows of `G` at padding tokens are exactly zero, so per-sample sums over all `T`
/// rows already exclude them.
///
/// Only hooks produce parameter gradients: the backbone computes activation gradients
/// alone, and skips backward below the lowest layer that has a hook.
///
/// - Important: the pointers are valid only during the call; copy what must outlive it.
///   Hooks are called on the thread that calls `forward`/`backward`.
public protocol LinearHook: AnyObject {
    /// Called after `output = input·Wᵀ + b`; may add to `output`.
    ///
    /// - Parameters:
    ///   - output: `(B, T, OC)`
    ///   - input: `(B, T, IC)`
    func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                 site: LinearSite, batch: Int, seqLen: Int)

    /// Called during backward, before the gradient flows further down.
    ///
    /// - Parameters:
    ///   - inputGradient: `(B, T, IC)`: already holds `G·W`; add the adapter's own path
    ///   - input: `(B, T, IC)`, the `X` of forward (after any earlier hook's change)
    ///   - outputGradient: `(B, T, OC)`, `G`, zero at padding tokens
    ///   - mask: `(B, T)`, 1 for real tokens, 0 for padding
    func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                  outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                  site: LinearSite, batch: Int, seqLen: Int)
}

extension LinearHook {
    public func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                        site: LinearSite, batch: Int, seqLen: Int) {}
    public func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                         outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                         site: LinearSite, batch: Int, seqLen: Int) {}
}
