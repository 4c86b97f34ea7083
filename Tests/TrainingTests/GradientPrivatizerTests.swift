// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Linalg
import Testing
@testable import Training

/// The privatizer's clipping when a per-sample gradient is not finite (DESIGN §4.3,
/// invariant 2: every clipped norm ≤ C). Noise is off, so the release is the clipped sum
/// itself and can be compared entry by entry.
@Suite struct GradientPrivatizerTests {
    static let allocations = [
        NoiseAllocation(clipping: .joint(clip: 1), standardDeviations: [1, 1]),
        NoiseAllocation(clipping: .groupWise(clips: [0.6, 0.8]), standardDeviations: [1, 1]),
    ]

    /// Releases `rows` (each `[segment 0 (3 entries), segment 1 (2 entries)]`) summed into
    /// units by `unitOfRow`, without noise.
    func release(_ rows: [[Float]], unitOfRow: [Int]?, unitCount: Int,
                 allocation: NoiseAllocation) -> (gradient: [Float], norms: [[Double]]) {
        let parameters = TrainableParameters()
        parameters.addSegment(name: "a", shape: [3])
        parameters.addSegment(name: "b", shape: [2])
        var generator = SeededGenerator(seed: 1)
        parameters.seal(generator: &generator)
        parameters.reserveBatch(rows.count)
        for (r, row) in rows.enumerated() {
            for (p, value) in row.enumerated() { parameters.flatSampleGradients[r * 5 + p] = value }
        }
        let privatizer = GradientPrivatizer(noise: .insecureReproducible(seed: 1))
        privatizer.addsNoise = false
        let gradient = privatizer.privatize(parameters: parameters, unitOfRow: unitOfRow, unitCount: unitCount,
                                            allocation: allocation, expectedBatchSize: 2)
        return (gradient, privatizer.clippedSegmentNorms)
    }

    /// A unit with a NaN or an infinite entry adds nothing: the release equals the one
    /// without it, and its clipped norm is 0. Without this, one such record made every
    /// entry of the release NaN.
    @Test(arguments: allocations) func aNonFiniteUnitContributesNothing(allocation: NoiseAllocation) {
        let finite: [[Float]] = [[3, -4, 0, 1, 2], [0.1, 0.2, 0.3, -0.1, 0.05]]
        let alone = release(finite, unitOfRow: nil, unitCount: 2, allocation: allocation)
        let nan: [Float] = [1, .nan, 0, 0, 0], infinite: [Float] = [0, 0, 0, .infinity, 1]
        let mixed = release([finite[0], nan, finite[1], infinite], unitOfRow: nil, unitCount: 4, allocation: allocation)
        #expect(mixed.gradient == alone.gradient)
        #expect(mixed.norms[1] == [0, 0] && mixed.norms[3] == [0, 0])
        #expect(mixed.norms[0] == alone.norms[0] && mixed.norms[2] == alone.norms[1])
        #expect(alone.gradient.allSatisfy(\.isFinite) && alone.gradient.contains { $0 != 0 })
    }

    /// Under user-level privacy a unit's rows are summed first: one non-finite row removes
    /// its whole unit, and the other units are released as before.
    @Test(arguments: allocations) func aNonFiniteRowRemovesItsUnit(allocation: NoiseAllocation) {
        let rows: [[Float]] = [[3, -4, 0, 1, 2], [1, 1, 1, 1, 1], [0, .nan, 0, 0, 0], [0.5, 0, 0, 0, 0]]
        let alone = release([rows[0], rows[1]], unitOfRow: [0, 0], unitCount: 1, allocation: allocation)
        let mixed = release(rows, unitOfRow: [0, 0, 1, 1], unitCount: 2, allocation: allocation)
        #expect(mixed.gradient == alone.gradient)
        #expect(mixed.norms[1] == [0, 0])
    }
}
