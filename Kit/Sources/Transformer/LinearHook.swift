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

/// A hook on the hidden states between two blocks (DP-Forward perturbs them here).
///
/// Boundary `k` is the input of block `k`: 0 is the embedding output, `layerCount` is
/// the output of the last block (before GPT-2's final layer norm; for BERT it is the last
/// hidden state itself).
///
/// - Important: the pointers are valid only during the call.
public protocol HiddenStateHook: AnyObject {
    /// May transform the hidden states in place.
    ///
    /// - Parameters:
    ///   - hidden: `(B, T, C)`
    ///   - mask: `(B, T)`
    func forward(hidden: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int)

    /// Maps, in place, the gradient with respect to the transformed states into the
    /// gradient with respect to the states forward received.
    ///
    /// - Parameters:
    ///   - hiddenGradient: `(B, T, C)`
    func backward(hiddenGradient: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int)
}

/// A frozen transformer whose dense layers and block boundaries accept hooks.
///
/// The verbs follow the training step: `forward` saves what `backward` needs in one
/// activation slab that is reused (and grown only when a batch is larger than any seen).
public protocol Backbone: AnyObject {
    var hiddenSize: Int { get }
    var layerCount: Int { get }
    /// Every dense layer, in forward order.
    var linearSites: [LinearSite] { get }
    func setHook(_ hook: (any LinearHook)?, for site: LinearSite)
    func setHiddenStateHook(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int)

    /// Runs the backbone on a right- or left-padded batch.
    ///
    /// - Parameters:
    ///   - inputIDs: `(B, T)`
    ///   - tokenTypeIDs: `(B, T)` or nil (all zero); ignored by decoders
    ///   - attentionMask: `(B, T)`, 1 for real tokens, 0 for padding
    /// - Returns: the last hidden state `(B, T, C)`, valid until the next `forward`.
    func forward(inputIDs: [Int32], tokenTypeIDs: [Int32]?, attentionMask: [Int32],
                 batch: Int, seqLen: Int) -> UnsafeBufferPointer<Float>

    /// Back-propagates `∂L/∂(last hidden state)` `(B, T, C)` of the last `forward`
    /// through the frozen blocks, calling the hooks. Rows at padding tokens are ignored.
    func backward(lastHiddenGradient: UnsafePointer<Float>)
}
