// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing

@Suite struct BLASTests {
    /// A transposed product checked against the naive triple loop.
    @Test func sgemmMatchesNaiveProduct() {
        let m = 5, n = 7, k = 3
        let a = (0..<(k * m)).map { Float($0 % 11) - 4.5 }   // stored (k, m): op(A) = Aᵀ
        let b = (0..<(k * n)).map { Float($0 % 7) * 0.25 }   // (k, n)
        var c = [Float](repeating: 1, count: m * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(transA: true, m: m, n: n, k: k, alpha: 2,
                               a: pa.baseAddress!, lda: m, b: pb.baseAddress!, ldb: n,
                               beta: 1, c: pc.baseAddress!, ldc: n)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k { sum += a[p * m + i] * b[p * n + j] }
                #expect(abs(c[i * n + j] - (2 * sum + 1)) < 1e-5)
            }
        }
    }

    @Test func tensorCopyOnWrite() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
        var b = a
        b[flat: 0] = 9
        #expect(a[flat: 0] == 1)
        #expect(b[flat: 0] == 9)
        #expect(b.reshaped([4]).shape == [4])
    }
}
