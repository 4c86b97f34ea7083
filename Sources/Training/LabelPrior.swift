// SPDX-License-Identifier: Apache-2.0
// Dimensions: K = the labels of one task, C = hidden width.

/// A public starting point for the classification heads: each label's row points at the
/// pooled representation of the label's own text.
///
/// A DP head starts from nothing and must learn every class from noisy gradients; with 77
/// intents and a few dozen records each, most never get there. The label names are public
/// (the manifest declares them), and a sentence encoder maps "card arrival" near messages
/// about a card's arrival, so starting from their features costs no privacy and gives
/// the head a zero-shot guess that training then corrects.
///
/// For task k with label features e_1 … e_K (through the backbone and the adapter as it is
/// before the first step), the head starts at w_j = γ·(e_j − ē) with ē their mean, b = 0.
/// Centring removes what all labels share, so it cannot favour a class; γ makes the
/// average logit margin of a label's own text over the mean logit equal `margin`
/// (that margin is γ·‖e_j − ē‖² on average, since the centred rows sum to zero).
public struct LabelPrior: Sendable {
    /// One example per label, from ``ClassificationExampleEncoder/labelExamples()``.
    public var examples: [TrainingExample]
    /// The mean logit margin of each label's own text at the start.
    public var margin: Double

    public init(examples: [TrainingExample], margin: Double = 4) {
        self.examples = examples
        self.margin = margin
    }

    /// The head rows `(K, C)` of one task from its labels' pooled features `(K, C)`.
    static func weights(features: [Float], labelCount K: Int, width C: Int, margin: Double) -> [Float] {
        var mean = [Double](repeating: 0, count: C)
        for j in 0..<K { for c in 0..<C { mean[c] += Double(features[j * C + c]) / Double(K) } }
        var centred = [Double](repeating: 0, count: K * C)
        var energy = 0.0
        for j in 0..<K {
            for c in 0..<C {
                let value = Double(features[j * C + c]) - mean[c]
                centred[j * C + c] = value
                energy += value * value / Double(K)
            }
        }
        let scale = energy > 0 ? margin / energy : 0
        return centred.map { Float(scale * $0) }
    }
}
