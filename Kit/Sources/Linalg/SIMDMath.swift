// SPDX-License-Identifier: Apache-2.0
// Dimensions: N = number of elements.

/// `exp` and `erf` on eight floats at once, for the elementwise kernels (GELU, softmax).
///
/// Glibc's scalar `erff` and `expf` took 18% of MiniLM's forward and backward; these
/// branch-free forms vectorize and stay within about 1e-7 of the exact values:
///
/// - `exp`: Cephes' `expf` (range reduction by `n·ln 2`, degree-5 minimax polynomial,
///   `2^n` built in the exponent bits), within 2 ulp; inputs below -87.3 give exactly 0, so a
///   masked score of `-inf` still gets probability 0.
/// - `erf`: for `|x| ≤ 1`, `x + x·P(x²)`; above, `1 - e^(-x²)·Q(|x|)` with `|x|` clamped to
///   3.92 (where `erf` rounds to 1); P (degree 7) and Q (degree 10) are least-maximum-error fits.
///   Absolute error below 1.2e-7 everywhere.
public enum SIMDMath {
    public typealias Vector = SIMD8<Float>

    @inlinable @inline(__always)
    public static func exp(_ input: Vector) -> Vector {
        let x = input.replacing(with: -87.3, where: input .< -87.3).replacing(with: 88.3, where: input .> 88.3)
        let magic: Float = 12_582_912   // 1.5·2^23: adding it rounds to the nearest integer
        let shifted = x * 1.442_695_04 + Vector(repeating: magic)
        let n = shifted - Vector(repeating: magic)
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = Vector(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_58e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let y = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(Vector(repeating: magic), to: SIMD8<Int32>.self)
            &+ 127) &<< 23
        let scaled = y * unsafeBitCast(exponent, to: Vector.self)
        return scaled.replacing(with: 0, where: input .< -87.3)
    }

    @inlinable @inline(__always)
    public static func erf(_ x: Vector) -> Vector {
        erfAndGaussian(x).erf
    }

    /// `erf(x)` and `e^(-x²)`, which the large-argument branch needs anyway (so does GELU's
    /// backward: `Φ'(x) ∝ e^(-x²/2)`).
    @inlinable @inline(__always)
    public static func erfAndGaussian(_ x: Vector) -> (erf: Vector, gaussian: Vector) {
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        let sign = bits & 0x8000_0000
        let magnitude = unsafeBitCast(bits & 0x7fff_ffff, to: Vector.self)
        let a = magnitude.replacing(with: 3.92, where: magnitude .> 3.92)
        let u = a * a
        var p = Vector(repeating: -9.680_486_98e-06)
        p = p * u + 1.127_067_52e-04
        p = p * u - 8.484_731_08e-04
        p = p * u + 5.221_076_31e-03
        p = p * u - 2.686_544_69e-02
        p = p * u + 1.128_378_29e-01
        p = p * u - 3.761_263_79e-01
        p = p * u + 1.283_791_66e-01
        let small = a + a * p
        var q = Vector(repeating: 1.733_653_56e-06)
        q = q * a - 4.972_724_13e-05
        q = q * a + 6.452_786_62e-04
        q = q * a - 5.021_130_20e-03
        q = q * a + 2.620_530_31e-02
        q = q * a - 9.732_687_47e-02
        q = q * a + 2.667_955_46e-01
        q = q * a - 5.534_031_99e-01
        q = q * a + 8.830_377_46e-01
        q = q * a - 1.086_438_42
        q = q * a + 9.931_372_40e-01
        let gaussian = exp(-(x * x))
        let large = 1 - gaussian * q
        let result = small.replacing(with: large, where: a .> 1)
        return (unsafeBitCast(unsafeBitCast(result, to: SIMD8<UInt32>.self) | sign, to: Vector.self), gaussian)
    }

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
