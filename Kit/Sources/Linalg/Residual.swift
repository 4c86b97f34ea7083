// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements.

/// `out = a + b`, split across cores.
///
/// - Parameters:
///   - out: `(N)`; may alias `a` or `b`
///   - a, b: `(N)`
public func residualForward(out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, N: Int) {
    nonisolated(unsafe) let out = out, a = a, b = b
    concurrentChunks(N, minimumChunk: minimumElementsPerChunk) { range in
        for i in range { out[i] = a[i] + b[i] }
    }
}

/// `da += dout; db += dout`, the gradient of `out = a + b`.
///
/// - Parameters:
///   - da, db: `(N)`, accumulated
///   - dout: `(N)`
public func residualBackward(
    da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, N: Int
) {
    nonisolated(unsafe) let da = da, db = db, dout = dout
    concurrentChunks(N, minimumChunk: minimumElementsPerChunk) { range in
        for i in range {
            da[i] += dout[i]
            db[i] += dout[i]
        }
    }
}
