// SPDX-License-Identifier: Apache-2.0
import CBLAS

/// The leading right singular vectors of a matrix: the input directions it amplifies most.
///
/// Computed as the top eigenvectors of the Gram matrix in double precision (LAPACK's
/// `dsyevd`), so the vectors are a function of the matrix, not of a starting guess or an
/// iteration count; each is signed so that its largest-magnitude entry is positive, since
/// an eigensolver may return either sign and whoever rebuilds the subspace from the same
/// matrix must get the same rows.
public enum SingularSubspace {
    /// Why no subspace came out.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The `count` leading right singular vectors of `matrix`, largest singular value
    /// first, as orthonormal rows `(count, n)`.
    ///
    /// - Parameters:
    ///   - matrix: `(m, n)` row-major, or `(n, m)` when `transposed` (then its left
    ///     singular vectors, again vectors of length n)
    ///   - count: at most n
    /// - Throws: ``Failure`` for an entry that is not finite, or when the eigensolver does
    ///   not converge.
    public static func leadingRightSingularVectors(
        of matrix: UnsafePointer<Float>, m: Int, n: Int, transposed: Bool = false, count: Int
    ) throws(Failure) -> [Float] {
        precondition(m >= 1 && n >= 1 && count >= 1 && count <= n, "need 1 ≤ count ≤ n; found count \(count), n \(n)")
        let entries = (0..<(m * n)).map { Double(matrix[$0]) }
        if let bad = entries.firstIndex(where: { !$0.isFinite }) {
            throw Failure(description: "entry \(bad) of the (\(transposed ? n : m), \(transposed ? m : n)) matrix is \(entries[bad])")
        }
        // Upper triangle, row-major, of MᵀM (n, n); for a stored (n, m) matrix, of M·Mᵀ.
        var gram = [Double](repeating: 0, count: n * n)
        cblas_dsyrk(CblasRowMajor, CblasUpper, transposed ? CblasNoTrans : CblasTrans, Int32(n), Int32(m),
                    1, entries, Int32(transposed ? m : n), 0, &gram, Int32(n))
        // LAPACK is column-major: the row-major upper triangle is its lower one.
        var order = Int32(n), info: Int32 = 0
        var values = [Double](repeating: 0, count: n)
        var workCount = Int32(1 + 6 * n + 2 * n * n), integerWorkCount = Int32(3 + 5 * n)
        var work = [Double](repeating: 0, count: Int(workCount))
        var integerWork = [Int32](repeating: 0, count: Int(integerWorkCount))
        dsyevd_("V", "L", &order, &gram, &order, &values, &work, &workCount, &integerWork, &integerWorkCount, &info, 1, 1)
        guard info == 0 else { throw Failure(description: "LAPACK dsyevd did not converge (info \(info))") }
        // Eigenvalues ascend; eigenvector j is column j, contiguous at j·n.
        var rows = [Float](repeating: 0, count: count * n)
        for r in 0..<count {
            let vector = gram[((n - 1 - r) * n)..<((n - r) * n)]
            let sign: Double = vector.max(by: { abs($0) < abs($1) }).map { $0 < 0 ? -1 : 1 } ?? 1
            for (c, value) in vector.enumerated() { rows[r * n + c] = Float(sign * value) }
        }
        return rows
    }
}
