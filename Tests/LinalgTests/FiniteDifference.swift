// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

func randomFloats(_ count: Int, _ rng: inout SeededGenerator, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
}

/// Deterministic values in [-1, 1] from `seed`, for tests that want one array per seed.
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SeededGenerator(seed: seed)
    return randomFloats(count, &rng)
}

/// The loss `L = Σ forward(x) · probe` (in Double), whose gradient with respect to `x` is the
/// kernel's backward applied to `dout = probe`.
func probeLoss(_ forward: @escaping ([Float]) -> [Float], probe: [Float]) -> ([Float]) -> Double {
    { x in zip(forward(x), probe).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
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

/// Checks that a backward kernel overwrites `dinput` (a NaN-filled buffer comes back finite)
/// and gives the same bits when `dinput` is `dout` itself.
///
/// - Parameter backward: `(dinput, dout)`, the kernel with every other argument bound
func expectOverwritesAndRunsInPlace(
    dout: [Float], sourceLocation: SourceLocation = #_sourceLocation,
    _ backward: (UnsafeMutablePointer<Float>, UnsafePointer<Float>) -> Void
) {
    var apart = [Float](repeating: .nan, count: dout.count)
    apart.withUnsafeMutableBufferPointer { d in
        dout.withUnsafeBufferPointer { backward(d.baseAddress!, $0.baseAddress!) }
    }
    var inPlace = dout
    inPlace.withUnsafeMutableBufferPointer { d in backward(d.baseAddress!, d.baseAddress!) }
    #expect(apart.allSatisfy { $0.isFinite }, "dinput was accumulated into, not overwritten", sourceLocation: sourceLocation)
    #expect(inPlace == apart, "in place differs from apart", sourceLocation: sourceLocation)
}

/// `Σ a[i]·b[i]` in Double.
func dot(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}
