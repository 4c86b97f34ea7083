// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements.

/// `out = a + b`.
///
/// - Parameters:
///   - out: `(N)`; may alias `a` or `b`
///   - a, b: `(N)`
@inlinable
public func residualForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, N: Int) {
    for i in 0..<N { out[i] = a[i] + b[i] }
}

/// `da += dout; db += dout`, the gradient of `out = a + b`.
///
/// - Parameters:
///   - da, db: `(N)`, accumulated
///   - dout: `(N)`
@inlinable
public func residualBackward(
    da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, N: Int
) {
    for i in 0..<N {
        da[i] += dout[i]
        db[i] += dout[i]
    }
}
