// SPDX-License-Identifier: Apache-2.0
import Testing

/// A small deterministic generator so kernel tests are reproducible without Foundation.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomFloats(_ count: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
}

/// Checks an analytic gradient against central differences of `loss` at `x`.
///
/// `loss` is evaluated in Float by the kernel under test and summed in Double; the step
/// is large enough for Float round-off and small enough for the curvature of our kernels.
func expectGradientMatchesFiniteDifferences(
    analytic: [Float], at x: [Float], step: Float = 1e-2, tolerance: Double = 2e-3,
    loss: ([Float]) -> Double, sourceLocation: SourceLocation = #_sourceLocation
) {
    var worst: Double = 0
    var scale: Double = 1e-6
    for i in x.indices {
        var plus = x, minus = x
        plus[i] += step
        minus[i] -= step
        let numeric = (loss(plus) - loss(minus)) / Double(plus[i] - minus[i])
        worst = max(worst, abs(numeric - Double(analytic[i])))
        scale = max(scale, abs(numeric))
    }
    #expect(worst / scale <= tolerance, "max |analytic - numeric| = \(worst) (scale \(scale))",
            sourceLocation: sourceLocation)
}

/// `Σ a[i]·b[i]` in Double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}
