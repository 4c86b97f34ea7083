// SPDX-License-Identifier: Apache-2.0

/// How a byte-level BPE tokenizer cuts text into words before merging.
///
/// Named after llama.cpp's `tokenizer.ggml.pre` values, because a GGUF file names its
/// pre-tokenizer that way; `tokenizer.json` files map onto the same cases.
public enum PreTokenizerKind: String, Sendable, Hashable, CaseIterable {
    /// GPT-2's regex: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Every number scalar is a word of its own, then GPT-2's regex (SmolLM, StarCoder:
    /// Hugging Face `Sequence[Digits(individual_digits), ByteLevel]`).
    case smollm

    /// The kind a GGUF `tokenizer.ggml.pre` value names.
    ///
    /// - Throws: ``TokenizerError`` `.unsupportedConfiguration` naming the value.
    public init(ggufName name: String) throws {
        switch name {
        case "gpt2": self = .gpt2
        case "smollm", "starcoder", "refact": self = .smollm
        default:
            throw TokenizerError(.unsupportedConfiguration, "GGUF pre-tokenizer \"\(name)\" is not supported (known: gpt2, smollm)")
        }
    }
}
