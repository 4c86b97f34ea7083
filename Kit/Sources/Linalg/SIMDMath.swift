// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements.

/// Eight-float loads and stores with a ragged end, for the Swift row kernels (LayerNorm).
///
/// The transcendental kernels (`exp`, `erf`, GELU, softmax) are C in CVectorMath: Swift
/// builds this package for baseline x86-64 and cannot ask for AVX2 and FMA per function.
public enum SIMDMath {
    public typealias Vector = SIMD8<Float>

    /// Eight floats from `p + i`, `padding` past `end`.
    @inlinable @inline(__always)
    public static func load(_ p: UnsafePointer<Float>, _ i: Int, end: Int, padding: Float = 0) -> Vector {
        if i + 8 <= end { return UnsafeRawPointer(p + i).loadUnaligned(as: Vector.self) }
        var v = Vector(repeating: padding)
        for lane in 0..<(end - i) { v[lane] = p[i + lane] }
        return v
    }

    /// Stores the lanes of `v` that fall before `end` at `p + i`.
    @inlinable @inline(__always)
    public static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ i: Int, end: Int) {
        if i + 8 <= end {
            UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: Vector.self)
            return
        }
        for lane in 0..<(end - i) { p[i + lane] = v[lane] }
    }
}
