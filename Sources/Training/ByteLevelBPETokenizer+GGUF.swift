// SPDX-License-Identifier: Apache-2.0
import Tokenizers
import Transformer

extension ByteLevelBPETokenizer {
    /// The tokenizer a GGUF file carries, so that a model distributed as one `.gguf` file
    /// trains and predicts without a `tokenizer.json` beside it.
    ///
    /// The verbatim-matched tokens are the file's control tokens (type 3): llama.cpp's
    /// converter writes Hugging Face's special added tokens with that type.
    ///
    /// - Throws: ``TrainingError`` `.invalidConfiguration` for a tokenizer model other than
    ///   byte-level BPE (`gpt2`); ``TokenizerError`` for an unknown pre-tokenizer or broken merges.
    init(gguf metadata: GGUFTokenizerMetadata, path: String) throws {
        guard metadata.model == "gpt2" else {
            throw TrainingError(.invalidConfiguration, "\(path): tokenizer.ggml.model \"\(metadata.model)\" is not supported; generate needs a byte-level BPE tokenizer (\"gpt2\")")
        }
        let controlTokenType = 3
        let special = metadata.tokenTypes.map { types in types.indices.filter { types[$0] == controlTokenType }.map { Int32($0) } } ?? []
        try self.init(tokens: metadata.tokens, merges: metadata.merges, specialTokenIDs: special,
                      preTokenizer: PreTokenizerKind(ggufName: metadata.preTokenizer ?? "gpt2"))
    }
}
