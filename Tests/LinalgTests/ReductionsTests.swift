// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct ReductionsTests {
    let x: [Float] = [1, -2, 3, 4, 5, -6]

    @Test func sumsAndSquares() {
        #expect(Reductions.sum(x, N: 6) == 5)
        #expect(Reductions.sumOfSquares(x, N: 6) == 91)
    }

    @Test func rowAndColumnSumsAccumulate() {
        var rows: [Float] = [10, 20]
        Reductions.rowSums(out: &rows, x, N: 2, K: 3)
        #expect(rows == [12, 23])
        var columns: [Float] = [1, 1, 1]
        Reductions.columnSums(out: &columns, x, N: 2, K: 3)
        #expect(columns == [6, 4, -2])
    }

    /// The weighted sum of a batch's rows over a column range: what the privatizer's clipped
    /// sum is. It must match a Double reference, leave other columns alone, and give the
    /// same bits at one and two threads (each column summed in row order).
    @Test func weightedColumnSumsMatchReferenceAtEveryThreadCount() {
        let N = 37, K = 5_003, columns = 11..<4_990
        var generator = SeededGenerator(seed: 5)
        let x = (0..<N * K).map { _ in Float.random(in: -1...1, using: &generator) }
        let weights = (0..<N).map { _ in Float.random(in: 0...1, using: &generator) }
        func run(threads: Int) -> [Float] {
            BLAS.setThreadCount(threads)
            defer { BLAS.setThreadCount(2) }
            var out = [Float](repeating: .nan, count: K)
            Reductions.weightedColumnSums(out: &out, x, weights: weights, N: N, K: K, columns: columns)
            return out
        }
        let one = run(threads: 1), two = run(threads: 2)
        let sameBits = zip(one, two).allSatisfy { $0.bitPattern == $1.bitPattern }
        #expect(sameBits)
        #expect(one[..<columns.lowerBound].allSatisfy(\.isNaN) && one[columns.upperBound...].allSatisfy(\.isNaN))
        let worst = columns.map { k in
            let reference = (0..<N).reduce(0.0) { $0 + Double(weights[$1]) * Double(x[$1 * K + k]) }
            return abs(Double(one[k]) - reference)
        }.max() ?? .infinity
        #expect(worst < 1e-5)
    }

    /// A row of weight 0 is left out: the privatizer gives a non-finite gradient weight 0,
    /// and 0 · NaN or 0 · ∞ would otherwise turn its columns into NaN.
    @Test func zeroWeightRowsAreLeftOut() {
        let x: [Float] = [1, 2, 3, .nan, .infinity, -.infinity, 4, 5, 6]
        var out = [Float](repeating: 0, count: 3)
        Reductions.weightedColumnSums(out: &out, x, weights: [1, 0, 0.5], N: 3, K: 3, columns: 0..<3)
        #expect(out == [3, 4.5, 6])
    }
}
