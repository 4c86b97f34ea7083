// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

/// `SingularSubspace` against matrices built from a known decomposition W = U·diag(s)·Vᵀ.
@Suite struct SingularSubspaceTests {
    /// Orthonormal rows `(count, n)` from Gaussian rows by Gram–Schmidt in Double.
    static func orthonormalRows(_ count: Int, _ n: Int, seed: UInt64) -> [[Double]] {
        var generator = SeededGenerator(seed: seed)
        var rows: [[Double]] = []
        while rows.count < count {
            var v = (0..<n).map { _ in generator.nextStandardNormal() }
            for r in rows {
                let dot = zip(v, r).reduce(0) { $0 + $1.0 * $1.1 }
                for i in 0..<n { v[i] -= dot * r[i] }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            rows.append(v.map { $0 / norm })
        }
        return rows
    }

    /// W (m, n) = Σ_i s_i·u_i·v_iᵀ with distinct s, and the vectors v_i.
    static func matrix(m: Int, n: Int, singularValues s: [Double]) -> (weight: [Float], v: [[Double]]) {
        let u = orthonormalRows(s.count, m, seed: 11), v = orthonormalRows(s.count, n, seed: 12)
        var weight = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                weight[i * n + j] = Float(s.indices.reduce(0.0) { $0 + s[$1] * u[$1][i] * v[$1][j] })
            }
        }
        return (weight, v)
    }

    /// The leading rows are ±v_1, ±v_2, ±v_3 in order of singular value, each signed so its
    /// largest-magnitude entry is positive, for W stored as (m, n) and as its transpose.
    @Test func recoversTheLeadingRightSingularVectors() throws {
        let m = 9, n = 7
        // Out of order on purpose: the result must come sorted by singular value.
        let s: [Double] = [1.5, 4.0, 0.7, 2.5, 0.2]
        let (weight, v) = Self.matrix(m: m, n: n, singularValues: s)
        var transposed = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { transposed[j * m + i] = weight[i * n + j] } }
        let expectedOrder = [1, 3, 0]
        for (stored, isTransposed) in [(weight, false), (transposed, true)] {
            let rows = try stored.withUnsafeBufferPointer { buffer in
                try SingularSubspace.leadingRightSingularVectors(of: buffer.baseAddress!, m: m, n: n,
                                                                 transposed: isTransposed, count: 3)
            }
            #expect(rows.count == 3 * n)
            for (r, index) in expectedOrder.enumerated() {
                let row = rows[(r * n)..<((r + 1) * n)].map(Double.init)
                let largest = try #require(v[index].max { abs($0) < abs($1) })
                let sign: Double = largest < 0 ? -1 : 1
                for j in 0..<n { #expect(abs(row[j] - sign * v[index][j]) < 1e-5, "row \(r) entry \(j)") }
                let peak = try #require(row.max { abs($0) < abs($1) })
                #expect(peak > 0)
            }
        }
    }

    /// The rows are orthonormal even where the spectrum is flat below them.
    @Test func rowsAreOrthonormal() throws {
        let m = 12, n = 10
        let (weight, _) = Self.matrix(m: m, n: n, singularValues: [3, 2, 1, 1, 1, 1])
        let rows = try weight.withUnsafeBufferPointer { buffer in
            try SingularSubspace.leadingRightSingularVectors(of: buffer.baseAddress!, m: m, n: n, count: 5)
        }
        for a in 0..<5 {
            for b in 0..<5 {
                let dot = (0..<n).reduce(0.0) { $0 + Double(rows[a * n + $1]) * Double(rows[b * n + $1]) }
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-6, "rows \(a), \(b)")
            }
        }
    }

    /// A weight that is not finite gets an error, not rows of NaN.
    @Test func refusesAWeightThatIsNotFinite() {
        var weight = [Float](repeating: 1, count: 12)
        weight[5] = .nan
        #expect(throws: SingularSubspace.Failure.self) {
            try weight.withUnsafeBufferPointer { buffer in
                try SingularSubspace.leadingRightSingularVectors(of: buffer.baseAddress!, m: 3, n: 4, count: 2)
            }
        }
    }
}
