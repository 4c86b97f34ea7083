// SPDX-License-Identifier: Apache-2.0
// Dimensions: R = per-sample rows of the batch, U = privacy units in the batch, P = parameters.
import AdapterKit
import Linalg
import Privacy

/// The one place where per-sample gradients become a released gradient: per-unit sums,
/// clipping, the clipped sum, Gaussian noise per segment, and division by the expected
/// batch size (DESIGN §4.3 invariants 1, 2 and 4).
///
/// It reads the rows the hooks wrote and the allocation the adapter chose, and hands the
/// adapter back only the noisy result (``PrivatizedStatistics``), never a row.
///
/// - Important: not thread-safe; one training loop owns it.
final class GradientPrivatizer {
    private let noise: GaussianNoiseSource
    /// Test-only: the audit's "noise off" run, to show the audit can fail. Never set in
    /// production code paths: nothing outside tests can reach it (internal).
    var addsNoise = true
    private var unitRows: [Float] = []
    private var factors: [Float] = []
    /// Each unit's per-segment norm after clipping, of the last call `(U, segments)`:
    /// what the clipping invariant is checked on.
    private(set) var clippedSegmentNorms: [[Double]] = []

    init(noise: GaussianNoiseSource) {
        self.noise = noise
    }

    /// The privatized gradient of one step.
    ///
    /// - Parameters:
    ///   - parameters: holds the batch's per-sample rows `(R, P)`
    ///   - unitOfRow: `(R)`, the unit slot `0..<unitCount` of each row; nil when each row is
    ///     its own unit
    ///   - expectedBatchSize: B = q·N in units, the divisor of the clipped sum
    /// - Returns: `(P)`, (Σ_u clip(g_u) + noise) / B
    func privatize(parameters: TrainableParameters, unitOfRow: [Int]?, unitCount: Int,
                   allocation: NoiseAllocation, expectedBatchSize: Double) -> [Float] {
        let P = parameters.count, segments = parameters.segments
        var gradient = [Float](repeating: 0, count: P)
        clippedSegmentNorms = []
        clippedSegmentNorms.reserveCapacity(unitCount)
        factors = [Float](repeating: 0, count: unitCount * segments.count)
        withUnitRows(parameters: parameters, unitOfRow: unitOfRow, unitCount: unitCount) { base in
            let squares = Self.segmentSquaredNorms(rows: base, unitCount: unitCount, width: P, segments: segments)
            for u in 0..<unitCount {
                let unitSquares = Array(squares[(u * segments.count)..<((u + 1) * segments.count)])
                // A gradient with a NaN or infinite entry would clip to NaN, and one record could
                // then turn the whole release into NaN: its unit contributes the zero vector
                // instead (norm 0 ≤ C), which weightedColumnSums skips rather than multiplies.
                guard unitSquares.allSatisfy(\.isFinite) else {
                    clippedSegmentNorms.append([Double](repeating: 0, count: segments.count))
                    continue
                }
                var unitFactors = [Double](repeating: 1, count: segments.count)
                switch allocation.clipping {
                case .joint(let clip):
                    let norm = unitSquares.reduce(0, +).squareRoot()
                    unitFactors = Array(repeating: clip / max(norm, clip), count: segments.count)
                case .groupWise(let clips):
                    for g in segments.indices {
                        unitFactors[g] = clips[g] / max(unitSquares[g].squareRoot(), clips[g])
                    }
                }
                clippedSegmentNorms.append(segments.indices.map { unitFactors[$0] * unitSquares[$0].squareRoot() })
                for g in segments.indices { factors[g * unitCount + u] = Float(unitFactors[g]) }
            }
            // gradient[segment g] = Σ_u factors_g[u] · rows[u, segment g]
            factors.withUnsafeBufferPointer { factorBuffer in
                gradient.withUnsafeMutableBufferPointer { out in
                    for (g, segment) in segments.enumerated() where unitCount > 0 {
                        Reductions.weightedColumnSums(out: out.baseAddress!, base, weights: factorBuffer.baseAddress! + g * unitCount,
                                                      N: unitCount, K: P, columns: segment.range)
                    }
                }
            }
        }
        gradient.withUnsafeMutableBufferPointer { out in
            for (g, segment) in segments.enumerated() {
                let slice = UnsafeMutableBufferPointer(rebasing: out[segment.range])
                if addsNoise {
                    noise.addNoise(to: slice, standardDeviation: allocation.standardDeviations[g])
                }
            }
            let scale = Float(1 / expectedBatchSize)
            for p in 0..<P { out[p] *= scale }
        }
        return gradient
    }

    /// Each unit's squared norm per segment `(U, segments)`, in Double, split across cores by
    /// unit (each unit is summed in order, so the split does not change a bit).
    private static func segmentSquaredNorms(rows: UnsafePointer<Float>, unitCount: Int, width: Int,
                                            segments: [ParameterSegment]) -> [Double] {
        var squares = [Double](repeating: 0, count: unitCount * segments.count)
        squares.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out, rows = rows
            concurrentChunks(unitCount, minimumChunk: minimumRowsPerChunk(width: width)) { units in
                for u in units {
                    for (g, segment) in segments.enumerated() {
                        out[u * segments.count + g] = Reductions.sumOfSquares(rows + u * width + segment.offset, N: segment.count)
                    }
                }
            }
        }
        return squares
    }

    /// Calls `body` with the batch's rows summed per unit `(U, P)`: the parameters' own
    /// rows when each row is a unit.
    private func withUnitRows(parameters: TrainableParameters, unitOfRow: [Int]?, unitCount: Int,
                              _ body: (UnsafePointer<Float>) -> Void) {
        let P = parameters.count, source = parameters.flatSampleGradients
        guard let unitOfRow else {
            if let base = source.baseAddress { body(base) }
            return
        }
        unitRows = [Float](repeating: 0, count: max(1, unitCount * P))
        unitRows.withUnsafeMutableBufferPointer { out in
            for (r, u) in unitOfRow.enumerated() {
                for p in 0..<P { out[u * P + p] += source[r * P + p] }
            }
            body(UnsafePointer(out.baseAddress!))
        }
    }
}
