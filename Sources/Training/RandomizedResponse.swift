// SPDX-License-Identifier: Apache-2.0
import Foundation

/// k-ary randomized response: the true label with probability e^ε/(e^ε + k − 1), each other
/// label with probability 1/(e^ε + k − 1) (ε-DP for the label; `DpEvent.randomizedResponse`).
public enum RandomizedResponse {
    /// - Throws: ``TrainingError`` `.invalidConfiguration` for ε ≤ 0 or fewer than two labels
    ///   with a label outside them.
    public static func draw<G: RandomNumberGenerator>(label: Int, labelCount k: Int, epsilon: Double,
                                                      using generator: inout G) throws(TrainingError) -> Int {
        guard epsilon > 0, epsilon.isFinite, k >= 1, (0..<k).contains(label) else {
            throw TrainingError(.invalidConfiguration, "randomized response needs ε > 0 and a label in 0..<\(k); found ε \(epsilon), label \(label)")
        }
        if k == 1 { return label }
        if Double.random(in: 0..<1, using: &generator) < keepProbability(labelCount: k, epsilon: epsilon) { return label }
        let other = Int.random(in: 0..<(k - 1), using: &generator)
        return other < label ? other : other + 1
    }

    /// The probability of reporting the true label.
    public static func keepProbability(labelCount k: Int, epsilon: Double) -> Double {
        exp(epsilon) / (exp(epsilon) + Double(k - 1))
    }
}
