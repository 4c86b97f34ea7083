// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden width.

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
