// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows (positions), C = hidden size, V = vocabulary.

/// A decoder backbone with its language-model head, so that a trainer can score next tokens
/// (a response-only cross-entropy) and send the loss gradient back through the hooks.
///
/// The head is frozen like the rest: backward forms `∂L/∂hidden` only.
public protocol CausalLanguageModel: Backbone {
    var vocabularySize: Int { get }

    /// `logits = hidden · Wᵀ`.
    ///
    /// - Parameters:
    ///   - logits: `(N, V)`, overwritten
    ///   - hidden: `(N, C)`, rows of the last hidden state
    func logitsForward(logits: UnsafeMutablePointer<Float>, hidden: UnsafePointer<Float>, N: Int)

    /// `dhidden += dlogits · W`.
    ///
    /// - Parameters:
    ///   - dhidden: `(N, C)`, accumulated
    ///   - dlogits: `(N, V)`
    func logitsBackward(dhidden: UnsafeMutablePointer<Float>, dlogits: UnsafePointer<Float>, N: Int)
}

extension GPT2Model: CausalLanguageModel {
    public var vocabularySize: Int { config.vocabSize }
}

extension LlamaModel: CausalLanguageModel {
    public var vocabularySize: Int { config.vocabSize }
}
