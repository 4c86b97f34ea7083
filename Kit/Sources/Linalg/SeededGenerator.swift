// SPDX-License-Identifier: Apache-2.0
import Glibc

/// A deterministic generator (xoshiro256**) for *public* randomness only.
///
/// Adapter initialization, public random projections and the held-out split must be
/// reproducible from a seed on any machine, so they use this generator. It is not
/// cryptographically secure: privacy noise and the secret batch sampling never use it
/// (see `GaussianNoiseSource` in Privacy).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Expands `seed` with SplitMix64, as the xoshiro authors recommend, so that nearby
    /// seeds give unrelated streams.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotl(state.3, 45)
        return result
    }

    @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension RandomNumberGenerator {
    /// A uniform double in the open interval (0, 1), from 53 random bits.
    @inlinable
    public mutating func nextOpenUnitDouble() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1p-53
    }

    /// A standard normal variate (Box–Muller); for initialization, not for privacy noise.
    @inlinable
    public mutating func nextStandardNormal() -> Double {
        let u1 = nextOpenUnitDouble(), u2 = nextOpenUnitDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
