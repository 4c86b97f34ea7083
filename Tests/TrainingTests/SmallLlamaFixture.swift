// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import TestSupport
import Tokenizers
import Transformer

/// A small random Llama (GQA: 4 query heads over 2 key/value heads, vocabulary 27) with LoRA
/// hooks on q and v, and a tokenizer over the same ids whose id 0 is `<|im_end|>`.
enum SmallLlamaFixture {
    static let vocabulary = 27

    static func model(seed: UInt64) throws -> LlamaModel {
        let directory = try SmallLlamaCheckpoint.directory(
            tensors: SmallLlamaCheckpoint.tensors(seed: seed, vocabulary: vocabulary),
            config: SmallLlamaCheckpoint.config(vocabulary: vocabulary))
        defer { try? FileManager.default.removeItem(at: directory) }
        return try LlamaModel(directory: directory)
    }

    /// `<|im_end|>` then the letters a…z, no merges.
    static func tokenizer() throws -> ByteLevelBPETokenizer {
        let letters = "abcdefghijklmnopqrstuvwxyz".map(String.init)
        return try ByteLevelBPETokenizer(tokens: ["<|im_end|>"] + letters, merges: [], specialTokenIDs: [0], preTokenizer: .gpt2)
    }

    /// Rank-2 LoRA on every q and v projection, with A and B drawn at random (B is zero at a
    /// real start, which would leave A's gradient zero), attached to `model`.
    static func lowRankParameters(on model: LlamaModel, seed: UInt64) -> (TrainableParameters, [LowRankUpdate]) {
        let parameters = TrainableParameters()
        let updates = model.linearSites.filter { $0.module == .qProj || $0.module == .vProj }.map { site in
            LowRankUpdate(site: site, rank: 2, scale: 2, down: .trainable(name: site.parameterName + ".A"),
                          upName: site.parameterName + ".B", parameters: parameters)
        }
        var generator = SeededGenerator(seed: seed)
        parameters.seal(generator: &generator)
        for i in parameters.flatValues.indices { parameters.flatValues[i] = Float(generator.nextStandardNormal()) * 0.3 }
        for update in updates { model.setHook(update, for: update.site) }
        return (parameters, updates)
    }
}
