// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Testing
@testable import Training
import Transformer

/// The response-only loss and its per-example gradients, on a small random Llama with LoRA on q and v.
@Suite struct GenerationObjectiveTests {
    let model: LlamaModel
    let objective: GenerationObjective
    let parameters: TrainableParameters

    init() throws {
        BLAS.setThreadCount(2)
        model = try SmallLlamaFixture.model(seed: 71)
        objective = try GenerationObjective(model: model, tokenizer: SmallLlamaFixture.tokenizer(), tasks: ["t"],
                                            maxNewTokens: 8)
        parameters = SmallLlamaFixture.lowRankParameters(on: model, seed: 72).0
    }

    static func example(_ ids: [Int32], response: Range<Int>, unit: Int = 0) -> TrainingExample {
        let isResponse = ids.indices.map { response.contains($0) }
        return TrainingExample(ids: ids, tokenTypeIDs: [], task: 0, target: .response(isResponse: isResponse), unit: unit)
    }

    /// Three examples of different lengths and response spans (one followed by prompt tokens).
    static let examples = [
        example([3, 9, 14, 2, 7, 0], response: 4..<6),
        example([5, 1, 1, 8, 20, 13, 4, 0, 11, 2], response: 5..<8),
        example([12, 6, 0], response: 1..<3),
    ]

    /// Losses and per-sample rows `(B, count)` of one chunk.
    func run(_ examples: [TrainingExample]) -> (losses: [Float], rows: [Float]) {
        parameters.reserveBatch(examples.count)
        let losses = objective.lossAndBackward(examples[...], parameters: parameters)
        return (losses, Array(parameters.flatSampleGradients))
    }

    @Test func perSampleRowsEqualBatchesOfOne() throws {
        let batched = run(Self.examples)
        let P = parameters.count
        for (s, example) in Self.examples.enumerated() {
            let alone = run([example])
            let row = Array(batched.rows[(s * P)..<((s + 1) * P)])
            let scale = alone.rows.map(abs).max() ?? 0
            let difference = maxAbsDifference(row, alone.rows)
            print("example \(s): per-sample row max |Δ| = \(difference) (max |g| \(scale))")
            #expect(scale > 0)
            #expect(difference <= 1e-5 * max(1, scale))
            #expect(abs(batched.losses[s] - alone.losses[0]) <= 1e-5 * max(1, alone.losses[0]))
        }
    }

    /// Tokens that are neither response tokens nor before one cannot matter; a response token does.
    @Test func onlyResponseTokensCarryLoss() throws {
        let base = Self.examples[1]
        let reference = run([base])
        var promptChanged = base
        promptChanged.ids[8] = 17  // prompt tokens after the response: targets of positions 7 and 8
        promptChanged.ids[9] = 22
        let same = run([promptChanged])
        #expect(same.losses == reference.losses)
        #expect(same.rows == reference.rows)
        var responseChanged = base
        responseChanged.ids[6] = 19
        #expect(run([responseChanged]).losses[0] != reference.losses[0])
        var unscored = base
        unscored.target = .response(isResponse: [Bool](repeating: false, count: base.ids.count))
        let nothing = run([unscored])
        #expect(nothing.losses == [0])
        #expect(nothing.rows.allSatisfy { $0 == 0 })
    }

    /// The oracle: logits at every position, cross entropy with non-response targets masked,
    /// each example's rows weighted by one over its response count.
    @Test func responsePositionLogitsEqualFullSequenceLogits() throws {
        let examples = Self.examples
        let gathered = run(examples)
        let B = examples.count, T = examples.map(\.ids.count).max() ?? 0, V = model.vocabularySize, C = model.hiddenSize
        var ids = [Int32](repeating: 0, count: B * T), mask = [Int32](repeating: 0, count: B * T)
        var targets = [Int32](repeating: -1, count: B * T), weights = [Float](repeating: 0, count: B * T)
        for (b, example) in examples.enumerated() {
            guard case .response(let isResponse) = example.target else { continue }
            let count = Float(isResponse.dropFirst().filter { $0 }.count)
            for (t, id) in example.ids.enumerated() {
                ids[b * T + t] = id
                mask[b * T + t] = 1
                if t + 1 < example.ids.count, isResponse[t + 1] {
                    targets[b * T + t] = example.ids[t + 1]
                    weights[b * T + t] = 1 / count
                }
            }
        }
        parameters.reserveBatch(B)
        let hidden = Array(model.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T))
        var logits = [Float](repeating: 0, count: B * T * V), probabilities = logits
        var rowLosses = [Float](repeating: 0, count: B * T)
        model.logitsForward(logits: &logits, hidden: hidden, N: B * T)
        crossEntropyForward(losses: &rowLosses, probs: &probabilities, logits: logits, targets: targets, N: B * T, V: V)
        var dlogits = [Float](repeating: 0, count: B * T * V), dhidden = [Float](repeating: 0, count: B * T * C)
        crossEntropyBackward(dlogits: &dlogits, dlosses: weights, probs: probabilities, targets: targets, N: B * T, V: V)
        model.logitsBackward(dhidden: &dhidden, dlogits: dlogits, N: B * T)
        model.backward(lastHiddenGradient: dhidden)
        let full = Array(parameters.flatSampleGradients)
        for b in 0..<B {
            let loss = (0..<T).reduce(Float(0)) { $0 + weights[b * T + $1] * rowLosses[b * T + $1] }
            #expect(abs(loss - gathered.losses[b]) <= 1e-5 * max(1, loss), "example \(b): \(gathered.losses[b]) vs \(loss)")
        }
        let difference = maxAbsDifference(full, gathered.rows)
        print("gathered vs full-sequence logits: per-sample rows max |Δ| = \(difference)")
        #expect(difference <= 1e-5 * max(1, full.map(abs).max() ?? 0))
    }

    /// Stopping once a response cannot match changes no verdict: on references that are the
    /// model's own greedy responses, and on the same with one token changed, accuracy equals
    /// that of decoding to the limit.
    @Test func earlyStopKeepsEveryVerdict() throws {
        let decoder = GreedyDecoder(model: model, stopTokens: [objective.endOfTurn])
        var examples: [TrainingExample] = []
        var expectedHits = 0
        for (index, prompt) in [[3, 9, 14], [5, 1, 1, 8], [12, 6], [20, 4, 17, 2, 2], [7]].enumerated() {
            let own = decoder.generate(prompt: prompt.map(Int32.init), maxNewTokens: 8)
            var changed = own
            changed[index % own.count] = changed[index % own.count] % 26 + 1
            for reference in [own, changed] {
                let ids = prompt.map(Int32.init) + reference
                examples.append(Self.example(ids, response: prompt.count..<ids.count))
                let full = decoder.generate(prompt: prompt.map(Int32.init), maxNewTokens: min(8, reference.count + 8))
                let tokenizer = objective.tokenizer
                if GenerationObjective.normalized(tokenizer.decode(full, skippingSpecialTokens: true))
                    == GenerationObjective.normalized(tokenizer.decode(reference, skippingSpecialTokens: true)) {
                    expectedHits += 1
                }
            }
        }
        #expect(expectedHits >= 5, "the model's own responses match themselves")
        let accuracy = try #require(objective.accuracy(examples, parameters: parameters, chunkSize: 4, replicas: [])["t"])
        #expect(abs(accuracy - Double(expectedHits) / Double(examples.count)) < 1e-12)
    }

    @Test func partialResponsesThatCanStillMatch() {
        let reference = "very positive"
        for (text, verdict) in [
            ("", true), ("  \n", true), (" Very", true), ("VERY POS", true), ("very positive", true),
            ("very positive \n ", true), ("Very posit\u{FFFD}", true), ("vert", true), ("verz x", false),
            ("The answer", false), ("very positive!", true), ("very positive!x", false), ("very positive  x", true), ("very positive  xy", false),
            ("e\u{301}", true),
        ] {
            #expect(GenerationObjective.canStillMatch(text, normalizedReference: reference) == verdict, "\(text.debugDescription)")
        }
        #expect(GenerationObjective.canStillMatch("cafe", normalizedReference: "caf\u{E9}"))
        #expect(!GenerationObjective.canStillMatch("cafe x", normalizedReference: "caf\u{E9}"))
    }

    @Test func lastTurnSplitsPromptAndReference() {
        let (prompt, reference) = GenerationObjective.lastTurn(of: Self.example([1, 2, 3, 4, 5, 6, 7], response: 2..<4))
        #expect(prompt == [1, 2])
        #expect(reference == [3, 4])
        let twoTurns = TrainingExample(ids: [1, 2, 3, 4, 5, 6], tokenTypeIDs: [], task: 0,
                                       target: .response(isResponse: [false, true, false, false, true, true]), unit: 0)
        #expect(GenerationObjective.lastTurn(of: twoTurns).prompt == [1, 2, 3, 4])
        #expect(GenerationObjective.normalized("  Positive\n") == "positive")
    }
}

/// The largest elementwise |a − b|.
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
