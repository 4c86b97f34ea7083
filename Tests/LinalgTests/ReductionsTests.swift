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
}
