// SPDX-License-Identifier: Apache-2.0
import Linalg

/// GFLOP/s of each of `repeats` timed row-major products (m × k)·(k × n), on the engine's
/// current path (its own kernel or OpenBLAS) and thread count, after one untimed product.
///
/// The operands are constant, so every output is known: a wrong kernel stops the run here
/// rather than reporting the speed of wrong answers.
public func sgemmGFLOPs(m: Int, n: Int, k: Int, repeats: Int) -> [Double] {
    let a = Tensor(shape: [m, k], repeating: 0.5)
    let b = Tensor(shape: [k, n], repeating: 0.25)
    var c = Tensor(shape: [m, n])
    let times = timedSeconds(repeats: repeats) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                               c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }
    // Every output of an all-0.5 by all-0.25 product is k/8.
    precondition(abs(c[flat: 0] - Float(k) / 8) < 1e-3 * Float(k), "SGEMM computed a wrong result")
    return times.map { 2 * Double(m) * Double(n) * Double(k) / $0 / 1e9 }
}
