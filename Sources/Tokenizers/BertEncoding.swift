// SPDX-License-Identifier: Apache-2.0

/// The three parallel arrays a BERT-family encoder takes for one example.
///
/// ```
/// ids            [CLS] a1 a2 [SEP] b1 b2 [SEP] [PAD] [PAD]
/// tokenTypeIDs     0   0  0    0   1  1    1     0     0
/// attentionMask    1   1  1    1   1  1    1     0     0
/// ```
public struct BertEncoding: Sendable, Hashable {
    public var ids: [Int32]
    public var tokenTypeIDs: [Int32]
    public var attentionMask: [Int32]

    public init(ids: [Int32], tokenTypeIDs: [Int32], attentionMask: [Int32]) {
        self.ids = ids
        self.tokenTypeIDs = tokenTypeIDs
        self.attentionMask = attentionMask
    }

    /// The number of real (non-padding) tokens.
    public var realTokenCount: Int { attentionMask.reduce(0) { $0 + Int($1) } }

    /// How many tokens of a pair to keep under `budget`, as Hugging Face's `LongestFirst`.
    ///
    /// With n1 ≤ n2: nothing is cut if both fit; else the longer one is cut to what the
    /// shorter leaves; if even that is not enough, both get half the budget and the longer
    /// one the odd token. (This differs from the slow Python tokenizer's one-at-a-time
    /// loop on ties; the fast tokenizer, which wrote `tokenizer.json`, is the reference.)
    static func longestFirstLengths(_ first: Int, _ second: Int, budget: Int) -> (Int, Int) {
        guard first + second > budget else { return (first, second) }
        let swapped = first > second
        var n1 = min(first, second)
        var n2: Int
        if n1 > budget {
            n2 = n1
        } else {
            n2 = max(n1, budget - n1)
        }
        if n1 + n2 > budget {
            n1 = budget / 2
            n2 = n1 + budget % 2
        }
        return swapped ? (n2, n1) : (n1, n2)
    }
}
