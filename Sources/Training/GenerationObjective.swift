// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = examples in a chunk, T = the chunk's longest example, C = hidden width,
// V = vocabulary, M = scored positions (those whose next token is a response token).
import AdapterKit
import Foundation
import Linalg
import Tokenizers
import Transformer

/// `generate`: next-token cross entropy on the response tokens only, each predicted from
/// the position before it; an example's loss is the mean over its own response tokens, so
/// its gradient is its own and clipping bounds it. No head: the adapter alone trains.
///
/// Logits are formed only at the M scored positions: with a 49,152-token vocabulary the
/// full `(B·T, V)` logits would cost more than the backbone itself.
final class GenerationObjective: TrainingObjective {
    let model: LlamaModel
    let tokenizer: ByteLevelBPETokenizer
    let tasks: [String]
    /// The length limit of generated responses.
    let maxNewTokens: Int
    /// The length limit when the job sets none.
    static let defaultMaxNewTokens = 32
    let endOfTurn: Int32
    var backbone: any Backbone { model }
    let scoresOnReplicas = false

    private var gathered: [Float] = []     // (M, C), then ∂L/∂ of it
    private var logits: [Float] = []       // (M, V), then ∂L/∂logits
    private var probabilities: [Float] = []  // (M, V)
    private var hiddenGradient: [Float] = []  // (B, T, C)

    /// - Throws: ``TrainingError`` `.invalidConfiguration` when the tokenizer has no
    ///   `<|im_end|>` (generation could not stop at the end of the turn).
    init(model: LlamaModel, tokenizer: ByteLevelBPETokenizer, tasks: [String], maxNewTokens: Int) throws(TrainingError) {
        guard let endOfTurn = tokenizer.specialTokenIDs["<|im_end|>"] else {
            throw TrainingError(.invalidConfiguration, "objective generate needs a ChatML tokenizer; this one has no <|im_end|> token")
        }
        guard maxNewTokens >= 1 else {
            throw TrainingError(.invalidConfiguration, "the response length limit must be at least 1; found \(maxNewTokens)")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.tasks = tasks
        self.maxNewTokens = maxNewTokens
        self.endOfTurn = endOfTurn
    }

    func declareParameters(in parameters: TrainableParameters) {}

    func replica() throws -> (any TrainingObjective)? {
        guard let replica = try model.replica() as? LlamaModel else { return nil }
        return try GenerationObjective(model: replica, tokenizer: tokenizer, tasks: tasks, maxNewTokens: maxNewTokens)
    }

    /// The positions whose next token is a response token, in batch order.
    struct ScoredPositions {
        /// Row `b·T + t` of the hidden state.
        var rows: [Int] = []
        /// The token at `t + 1`.
        var targets: [Int32] = []
        /// The example each row belongs to.
        var sample: [Int] = []
        /// Scored positions per example.
        var counts: [Int]

        init(_ examples: ArraySlice<TrainingExample>, length T: Int) {
            counts = [Int](repeating: 0, count: examples.count)
            for (b, example) in examples.enumerated() {
                guard case .response(let isResponse) = example.target else {
                    preconditionFailure("a generate job was given a classification example")
                }
                for t in 0..<max(0, example.ids.count - 1) where isResponse[t + 1] {
                    rows.append(b * T + t)
                    targets.append(example.ids[t + 1])
                    sample.append(b)
                    counts[b] += 1
                }
            }
        }
    }

    func lossAndBackward(_ examples: ArraySlice<TrainingExample>, parameters: TrainableParameters) -> [Float] {
        let batch = PaddedBatch(examples)
        let B = batch.count, T = batch.length, C = model.hiddenSize, V = model.vocabularySize
        let scored = ScoredPositions(examples, length: T)
        let M = scored.rows.count
        let hidden = model.forward(inputIDs: batch.ids, tokenTypeIDs: nil, attentionMask: batch.mask, batch: B, seqLen: T)
        var losses = [Float](repeating: 0, count: B)
        guard M > 0 else { return losses }
        reserve(M: M, C: C, V: V, hiddenRows: B * T)
        for (m, n) in scored.rows.enumerated() {
            for c in 0..<C { gathered[m * C + c] = hidden[n * C + c] }
        }
        var rowLosses = [Float](repeating: 0, count: M)
        model.logitsForward(logits: &logits, hidden: gathered, N: M)
        crossEntropyForward(losses: &rowLosses, probs: &probabilities, logits: logits, targets: scored.targets, N: M, V: V)
        // loss_b = (1/M_b) Σ_{m ∈ b} rowLoss_m
        let weights = scored.sample.map { 1 / Float(scored.counts[$0]) }
        for m in 0..<M { losses[scored.sample[m]] += weights[m] * rowLosses[m] }
        logits.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        crossEntropyBackward(dlogits: &logits, dlosses: weights, probs: probabilities, targets: scored.targets, N: M, V: V)
        gathered.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        model.logitsBackward(dhidden: &gathered, dlogits: logits, N: M)
        hiddenGradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        for (m, n) in scored.rows.enumerated() {
            for c in 0..<C { hiddenGradient[n * C + c] = gathered[m * C + c] }
        }
        model.backward(lastHiddenGradient: hiddenGradient)
        return losses
    }

    private func reserve(M: Int, C: Int, V: Int, hiddenRows: Int) {
        if gathered.count != M * C { gathered = [Float](repeating: 0, count: M * C) }
        if logits.count != M * V {
            logits = [Float](repeating: 0, count: M * V)
            probabilities = [Float](repeating: 0, count: M * V)
        }
        if hiddenGradient.count != hiddenRows * C { hiddenGradient = [Float](repeating: 0, count: hiddenRows * C) }
    }

    /// Exact match of the greedy response (stopped at `<|im_end|>` or the length limit)
    /// with the example's last response, both normalized by ``normalized(_:)``.
    ///
    /// Generation stops as soon as the response can no longer match
    /// (``canStillMatch(_:normalizedReference:)``), and at the latest `slack` tokens past the
    /// reference's length: a longer response could match only through a run of that many
    /// whitespace tokens. Rambling answers of an untrained model would otherwise cost the
    /// whole limit each, and decoding one token reads every weight of the model.
    /// Greedy decoding runs on this objective's model alone.
    func accuracy(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int,
                  replicas: [any TrainingObjective]) -> [String: Double] {
        let decoder = GreedyDecoder(model: model, stopTokens: [endOfTurn])
        let slack = 8
        let hits = examples.map { example in
            let (prompt, reference) = Self.lastTurn(of: example)
            let expected = Self.normalized(tokenizer.decode(reference, skippingSpecialTokens: true))
            let generated = decoder.generate(prompt: prompt, maxNewTokens: min(maxNewTokens, reference.count + slack)) {
                Self.canStillMatch(tokenizer.decode($0, skippingSpecialTokens: true), normalizedReference: expected)
            }
            return Self.normalized(tokenizer.decode(generated, skippingSpecialTokens: true)) == expected
        }
        return Self.tally(tasks: tasks, examples: examples, hits: hits)
    }

    /// Whether some continuation of the partial response `text` normalizes to `reference`.
    ///
    /// Only text before the last character decides: a token may end inside a multi-byte
    /// character (decoded as U+FFFD until completed), or the next may add a combining mark
    /// to it. Case folding (`lowercased()`, scalar by scalar) commutes with appending. So
    /// this never answers false for a response that would match; it may answer true one
    /// token longer than necessary.
    static func canStillMatch(_ text: String, normalizedReference reference: String) -> Bool {
        let settled = text.drop { $0.unicodeScalars.allSatisfy(CharacterSet.whitespacesAndNewlines.contains) }.dropLast()
        let folded = String(settled).lowercased()
        if reference.hasPrefix(folded) { return true }
        guard folded.hasPrefix(reference) else { return false }
        return folded.dropFirst(reference.count).unicodeScalars.allSatisfy(CharacterSet.whitespacesAndNewlines.contains)
    }

    /// The greedy response to each prompt, as text without the end-of-turn token.
    func responses(to prompts: [[Int32]]) -> [String] {
        let decoder = GreedyDecoder(model: model, stopTokens: [endOfTurn])
        return prompts.map { tokenizer.decode(decoder.generate(prompt: $0, maxNewTokens: maxNewTokens), skippingSpecialTokens: true) }
    }

    /// The tokens before the example's last response and that response's tokens.
    static func lastTurn(of example: TrainingExample) -> (prompt: [Int32], reference: [Int32]) {
        guard case .response(let isResponse) = example.target, let last = isResponse.lastIndex(of: true) else {
            return (example.ids, [])
        }
        var start = last
        while start > 1, isResponse[start - 1] { start -= 1 }
        return (Array(example.ids[..<start]), Array(example.ids[start...last]))
    }

    /// Trimmed of surrounding whitespace and case-folded, as exact match compares responses.
    static func normalized(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }
}
