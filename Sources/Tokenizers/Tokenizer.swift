// SPDX-License-Identifier: Apache-2.0

/// What training and evaluation need from any tokenizer, whatever its algorithm.
///
/// - Important: Conforming types are immutable after loading except for internal,
///   lock-protected caches, so one instance may be shared by every task of a job.
public protocol Tokenizer: Sendable {
    /// One more than the largest token id, i.e. the number of rows of the embedding matrix.
    var vocabularySize: Int { get }

    /// Special tokens (those never produced by splitting ordinary text) by their content,
    /// e.g. `"[CLS]"` or `"<|im_end|>"`.
    var specialTokenIDs: [String: Int32] { get }

    /// The ids of `text`, including whatever special tokens the model's post-processor adds
    /// (BERT: `[CLS] … [SEP]`); special-token text inside `text` maps to its special id.
    func encode(_ text: String) -> [Int32]

    /// The text of `ids`; ids outside the vocabulary are ignored, as Hugging Face does.
    func decode(_ ids: [Int32], skippingSpecialTokens: Bool) -> String
}

extension Tokenizer {
    public func decode(_ ids: [Int32]) -> String { decode(ids, skippingSpecialTokens: false) }

    public func specialTokenID(_ name: String) -> Int32? { specialTokenIDs[name] }
}
