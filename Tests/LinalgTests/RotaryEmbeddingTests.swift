// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing

@Suite struct RotaryEmbeddingTests {
    let B = 2, T = 3, NH = 2, HD = 6, P = 8
    let theta: Float = 10_000

    func tables() -> (cos: [Float], sin: [Float]) {
        var c = [Float](repeating: 0, count: P * HD / 2), s = c
        rotaryTables(cos: &c, sin: &s, theta: theta, P: P, HD: HD)
        return (c, s)
    }

    /// Positions other than 0..<T (left padding, a generation cache) must work.
    let positions: [Int32] = [0, 1, 2, 5, 6, 7]

    func forward(_ x: [Float]) -> [Float] {
        let (c, s) = tables()
        var out = [Float](repeating: 0, count: x.count)
        rotaryForward(out: &out, input: x, positions: positions, cos: c, sin: s, B: B, T: T, NH: NH, HD: HD, P: P)
        return out
    }

    /// The HF rotate_half formula written out in Double for a tiny case.
    @Test func forwardMatchesRotateHalf() {
        let x = randomFloats(B * T * NH * HD, seed: 21)
        let out = forward(x)
        let half = HD / 2
        for bt in 0..<(B * T) {
            for h in 0..<NH {
                let base = (bt * NH + h) * HD
                for i in 0..<half {
                    let angle = Double(positions[bt]) * pow(Double(theta), -Double(2 * i) / Double(HD))
                    let a = Double(x[base + i]), b = Double(x[base + i + half])
                    #expect(abs(Double(out[base + i]) - (a * cos(angle) - b * sin(angle))) < 2e-5)
                    #expect(abs(Double(out[base + i + half]) - (b * cos(angle) + a * sin(angle))) < 2e-5)
                }
            }
        }
        // Position 0 is the identity.
        #expect(Array(out[0..<(NH * HD)]) == Array(x[0..<(NH * HD)]))
    }

    @Test func forwardWorksInPlace() {
        let x = randomFloats(B * T * NH * HD, seed: 22)
        let (c, s) = tables()
        var inPlace = x
        inPlace.withUnsafeMutableBufferPointer { buffer in
            rotaryForward(out: buffer.baseAddress!, input: buffer.baseAddress!, positions: positions, cos: c, sin: s,
                          B: B, T: T, NH: NH, HD: HD, P: P)
        }
        #expect(inPlace == forward(x))
    }

    @Test func backwardMatchesCentralDifferencesAndInverts() {
        let x = randomFloats(B * T * NH * HD, seed: 23)
        let probe = randomFloats(B * T * NH * HD, seed: 24)
        let (c, s) = tables()
        var dinp = [Float](repeating: 0, count: x.count)
        rotaryBackward(dinp: &dinp, dout: probe, positions: positions, cos: c, sin: s, B: B, T: T, NH: NH, HD: HD, P: P)
        expectGradientMatchesFiniteDifferences(analytic: dinp, at: x, tolerance: 2e-3, loss: probeLoss(forward, probe: probe))
        // Llama rotates dq and dk back in place.
        expectOverwritesAndRunsInPlace(dout: probe) { dinp, dout in
            rotaryBackward(dinp: dinp, dout: dout, positions: positions, cos: c, sin: s, B: B, T: T, NH: NH, HD: HD, P: P)
        }

        // The transpose of a rotation is its inverse: backward of forward(x) gives back x.
        var back = [Float](repeating: 0, count: x.count)
        rotaryBackward(dinp: &back, dout: forward(x), positions: positions, cos: c, sin: s, B: B, T: T, NH: NH, HD: HD, P: P)
        #expect(zip(back, x).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}
