// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct GELUTests {
    func forward(_ x: [Float], _ form: GELUForm) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        geluForward(out: &out, input: x, N: x.count, form: form)
        return out
    }

    /// Values from PyTorch: `F.gelu(x)` and `F.gelu(x, approximate="tanh")`.
    @Test func knownValues() {
        let x: [Float] = [-3, -1, 0, 0.5, 2]
        let erfForm: [Float] = [-0.0040496, -0.1586553, 0, 0.3457312, 1.9544997]
        let tanhForm: [Float] = [-0.0036374, -0.1588080, 0, 0.3457140, 1.9545977]
        for (got, want) in zip(forward(x, .erf), erfForm) { #expect(abs(got - want) < 1e-6) }
        for (got, want) in zip(forward(x, .tanh), tanhForm) { #expect(abs(got - want) < 1e-6) }
    }

    @Test(arguments: [GELUForm.erf, .tanh])
    func backwardMatchesFiniteDifferences(form: GELUForm) {
        var rng = SeededGenerator(seed: 3)
        let x = randomFloats(40, &rng, scale: 4), r = randomFloats(40, &rng)
        var dx = [Float](repeating: 0, count: x.count)
        geluBackward(dinput: &dx, dout: r, input: x, N: x.count, form: form)
        expectGradientMatchesFiniteDifferences(analytic: dx, at: x, step: 1e-3) { dot(forward($0, form), r) }
    }

    /// The backbones turn ∂L/∂gelu(f) into ∂L/∂f in the same buffer.
    @Test(arguments: [GELUForm.erf, .tanh])
    func backwardOverwritesAndMayRunInPlace(form: GELUForm) {
        var rng = SeededGenerator(seed: 5)
        let N = 37   // not a multiple of the kernel's eight lanes
        let x = randomFloats(N, &rng, scale: 4)
        expectOverwritesAndRunsInPlace(dout: randomFloats(N, &rng)) { dinput, dout in
            geluBackward(dinput: dinput, dout: dout, input: x, N: N, form: form)
        }
    }
}
