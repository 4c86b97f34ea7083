// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing

@Suite struct SwiGLUTests {
    let B = 2, T = 2, H = 6

    func forward(_ gate: [Float], _ up: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: gate.count)
        swigluForward(out: &out, gate: gate, up: up, B: B, T: T, H: H)
        return out
    }

    @Test func forwardMatchesDefinition() {
        let gate = randomFloats(B * T * H, seed: 11).map { $0 * 8 }
        let up = randomFloats(B * T * H, seed: 12)
        for (i, y) in forward(gate, up).enumerated() {
            let g = Double(gate[i])
            let expected = g / (1 + exp(-g)) * Double(up[i])
            #expect(abs(Double(y) - expected) <= 1e-6 * max(1, abs(expected)))
        }
    }

    @Test func backwardMatchesCentralDifferences() {
        let gate = randomFloats(B * T * H, seed: 13).map { $0 * 4 }
        let up = randomFloats(B * T * H, seed: 14)
        let probe = randomFloats(B * T * H, seed: 15)
        // Backward overwrites: NaN in the buffers must not survive.
        var dgate = [Float](repeating: .nan, count: gate.count), dup = [Float](repeating: .nan, count: up.count)
        swigluBackward(dgate: &dgate, dup: &dup, dout: probe, gate: gate, up: up, B: B, T: T, H: H)
        expectGradientMatchesFiniteDifferences(analytic: dgate, at: gate, step: 1e-3, tolerance: 2e-3, loss: probeLoss({ forward($0, up) }, probe: probe))
        expectGradientMatchesFiniteDifferences(analytic: dup, at: up, step: 1e-3, tolerance: 2e-3, loss: probeLoss({ forward(gate, $0) }, probe: probe))

        // Llama turns h's gradient into gate's in place.
        var inPlace = probe, dupInPlace = [Float](repeating: 0, count: up.count)
        inPlace.withUnsafeMutableBufferPointer { d in
            swigluBackward(dgate: d.baseAddress!, dup: &dupInPlace, dout: d.baseAddress!, gate: gate, up: up, B: B, T: T, H: H)
        }
        #expect(inPlace == dgate)
        #expect(dupInPlace == dup)
    }
}
