// SPDX-License-Identifier: Apache-2.0

/// Gradient checks for the kernels' backward passes.
///
/// The loss is `L = Σ out · probe`, accumulated in Double over a Float forward pass, so the
/// analytic gradient with `dout = probe` must match `(L(x + h) - L(x - h)) / 2h` per element.
enum CentralDifference {
    /// Deterministic values in [-1, 1) (a fixed LCG; tests must not depend on a global seed).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    /// The numerical gradient of `Σ forward(x) · probe` with respect to every element of `x`.
    static func gradient(of forward: ([Float]) -> [Float], at x: [Float], probe: [Float], step h: Float = 1e-2) -> [Double] {
        func loss(_ x: [Float]) -> Double {
            zip(forward(x), probe).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        return x.indices.map { j in
            var plus = x, minus = x
            plus[j] += h
            minus[j] -= h
            return (loss(plus) - loss(minus)) / (Double(plus[j]) - Double(minus[j]))
        }
    }

    /// Largest |numerical − analytic| relative to max(1, |analytic|), printed for the log.
    static func maxError(_ numerical: [Double], _ analytic: [Float], _ label: String) -> Double {
        let error = zip(numerical, analytic).map { abs($0 - Double($1)) / max(1, abs(Double($1))) }.max() ?? 0
        print("\(label): max relative gradient error \(error)")
        return error
    }
}
