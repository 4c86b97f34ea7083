// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows, K = columns.

/// Sums and norms over contiguous floats, accumulated in Double so that a sum over a
/// whole parameter slab (millions of terms) does not lose the small contributions.
public enum Reductions {
    /// `Σ_i x[i]` over `(N)`.
    @inlinable
    public static func sum(_ x: UnsafePointer<Float>, N: Int) -> Double {
        var total: Double = 0
        for i in 0..<N { total += Double(x[i]) }
        return total
    }

    /// `Σ_i x[i]²` over `(N)`.
    @inlinable
    public static func sumOfSquares(_ x: UnsafePointer<Float>, N: Int) -> Double {
        var total: Double = 0
        for i in 0..<N {
            let v = Double(x[i])
            total += v * v
        }
        return total
    }

    /// `out[n] += Σ_k x[n, k]`.
    ///
    /// - Parameters:
    ///   - out: `(N)`, accumulated
    ///   - x: `(N, K)`
    @inlinable
    public static func rowSums(out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int, K: Int) {
        for n in 0..<N {
            let row = x + n * K
            var total: Float = 0
            for k in 0..<K { total += row[k] }
            out[n] += total
        }
    }

    /// `out[k] += Σ_n x[n, k]` (a bias gradient summed over rows).
    ///
    /// - Parameters:
    ///   - out: `(K)`, accumulated
    ///   - x: `(N, K)`
    @inlinable
    public static func columnSums(out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int, K: Int) {
        for n in 0..<N {
            let row = x + n * K
            for k in 0..<K { out[k] += row[k] }
        }
    }

    /// `out[k] = Σ_n weights[n]·x[n, k]` for `k` in `columns`, split across cores by column.
    ///
    /// A row of weight 0 is left out, not multiplied: it may hold NaN or infinities (a
    /// gradient the privatizer refused to clip), and 0 · NaN is NaN.
    ///
    /// Every column is summed over `n` in order whatever the split, so the result is the
    /// same bits at every thread count; and OpenBLAS is not called, so its idle threads are
    /// not woken to spin beside the next step's work.
    ///
    /// - Parameters:
    ///   - out: `(K)`; only `columns` are written
    ///   - x: `(N, K)`
    ///   - weights: `(N)`
    public static func weightedColumnSums(out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                                          weights: UnsafePointer<Float>, N: Int, K: Int, columns: Range<Int>) {
        nonisolated(unsafe) let out = out, x = x, weights = weights
        concurrentChunks(columns.count, minimumChunk: max(1, minimumElementsPerChunk / max(N, 1))) { chunk in
            let range = (columns.lowerBound + chunk.lowerBound)..<(columns.lowerBound + chunk.upperBound)
            for k in range { out[k] = 0 }
            for n in 0..<N where weights[n] != 0 {
                let w = weights[n], row = x + n * K
                for k in range { out[k] += w * row[k] }
            }
        }
    }
}
