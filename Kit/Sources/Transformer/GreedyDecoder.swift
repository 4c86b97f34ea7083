// SPDX-License-Identifier: Apache-2.0
// Dimensions: V = vocabulary.

/// Greedy (argmax) generation for one sequence with a key/value cache: the prompt runs once,
/// then one token per step, until a stop token or the length limit.
///
/// Forward hooks on the model apply during generation (see
/// ``LlamaModel/decodeForward(tokens:cache:)``), so a fine-tuned adapter is evaluated as trained.
///
/// - Important: not thread-safe; it drives its model, which must not run anything else meanwhile.
public final class GreedyDecoder {
    public let model: LlamaModel
    /// Tokens that end generation (end of turn, end of text); the one produced is returned.
    public let stopTokens: Set<Int32>
    private var cache: KeyValueCache?

    public init(model: LlamaModel, stopTokens: Set<Int32>) {
        self.model = model
        self.stopTokens = stopTokens
    }

    /// Continues `prompt` greedily.
    ///
    /// - Parameters:
    ///   - prompt: token ids, at least one
    ///   - maxNewTokens: the most tokens to produce; fewer when the context length is reached
    ///   - continuing: asked after each token that is not a stop token, with all tokens so
    ///     far; false ends generation there (a caller scoring against a reference stops once
    ///     the response can no longer match)
    /// - Returns: the new tokens, the last one a stop token if one was produced.
    public func generate(prompt: [Int32], maxNewTokens: Int, while continuing: ([Int32]) -> Bool = { _ in true }) -> [Int32] {
        let context = model.config.contextLength
        precondition(!prompt.isEmpty && prompt.count <= context, "prompt of \(prompt.count) tokens must be in 1...\(context)")
        precondition(maxNewTokens >= 0, "maxNewTokens must not be negative; found \(maxNewTokens)")
        guard maxNewTokens > 0 else { return [] }
        // The last token produced is never fed back, so one position less suffices.
        let capacity = min(prompt.count + maxNewTokens - 1, context)
        let cache: KeyValueCache
        if let existing = self.cache, existing.capacity >= capacity {
            cache = existing
        } else {
            cache = KeyValueCache(config: model.config, capacity: capacity)
            self.cache = cache
        }
        cache.removeAll()
        var generated: [Int32] = []
        generated.reserveCapacity(maxNewTokens)
        var logits = prompt.withUnsafeBufferPointer { model.decodeForward(tokens: $0, cache: cache) }
        while true {
            let token = argmax(logits)
            generated.append(token)
            if stopTokens.contains(token) || generated.count == maxNewTokens || cache.count == cache.capacity
                || !continuing(generated) {
                return generated
            }
            logits = withUnsafePointer(to: token) {
                model.decodeForward(tokens: UnsafeBufferPointer(start: $0, count: 1), cache: cache)
            }
        }
    }
}

/// The index of the largest value, the first one on ties (as `torch.argmax`).
///
/// - Parameters:
///   - values: `(V)`
func argmax(_ values: UnsafeBufferPointer<Float>) -> Int32 {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return Int32(best)
}
