// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = rows looked up (B·T), V = table rows, C = channels.

/// `out[n] += table[ids[n]]`: a gather that accumulates, so word, position and token-type
/// embeddings sum into one buffer without a temporary.
///
/// - Parameters:
///   - out: `(N, C)`, accumulated
///   - ids: `(N)`, each in `0..<V` (checked: an id out of range is a caller bug)
///   - table: `(V, C)`
@inlinable
public func embeddingForward(
    out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>, N: Int, V: Int, C: Int
) {
    for n in 0..<N {
        let id = Int(ids[n])
        precondition(id >= 0 && id < V, "token id \(id) outside the table of \(V) rows")
        let row = table + id * C, y = out + n * C
        for c in 0..<C { y[c] += row[c] }
    }
}

/// `dtable[ids[n]] += dout[n]`: the scatter-add gradient of ``embeddingForward``.
///
/// - Parameters:
///   - dtable: `(V, C)`, accumulated
///   - dout: `(N, C)`
///   - ids: `(N)`
@inlinable
public func embeddingBackward(
    dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, ids: UnsafePointer<Int32>, N: Int, V: Int, C: Int
) {
    for n in 0..<N {
        let id = Int(ids[n])
        precondition(id >= 0 && id < V, "token id \(id) outside the table of \(V) rows")
        let row = dtable + id * C, g = dout + n * C
        for c in 0..<C { row[c] += g[c] }
    }
}
