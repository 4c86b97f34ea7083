// SPDX-License-Identifier: Apache-2.0
import Linalg

/// The partition of a dataset into training and held-out evaluation members.
///
/// Drawn with a public seed (DESIGN §4.3, invariant 6), so the split itself reveals
/// nothing about the data. Under user-level DP the members are privacy units, so no
/// unit has records on both sides.
public struct HeldOutSplit: Sendable, Equatable {
    /// Member indices used for training, increasing.
    public let training: [Int]
    /// Member indices held out for evaluation, increasing.
    public let heldOut: [Int]

    /// - Parameters:
    ///   - memberCount: the number of records (or units).
    ///   - heldOutFraction: the share held out, in [0, 1); at least one member stays in training.
    ///   - seed: the public seed.
    public init(memberCount: Int, heldOutFraction: Double, seed: UInt64) {
        precondition(memberCount > 0, "member count must be positive; found \(memberCount)")
        precondition(heldOutFraction >= 0 && heldOutFraction < 1,
                     "held-out fraction must be in [0, 1); found \(heldOutFraction)")
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<memberCount)
        order.shuffle(using: &generator)
        let heldOutCount = min(memberCount - 1, Int((Double(memberCount) * heldOutFraction).rounded()))
        heldOut = order.prefix(heldOutCount).sorted()
        training = order.dropFirst(heldOutCount).sorted()
    }
}
