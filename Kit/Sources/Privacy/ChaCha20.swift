// SPDX-License-Identifier: Apache-2.0

/// The ChaCha20 block function (RFC 8439 §2.3), used as a counter-mode stream of random bits.
///
/// The 4×4 state of 32-bit words is laid out as
///
///     row 0:  "expa"  "nd 3"  "2-by"  "te k"      constants
///     row 1:  key[0]  key[1]  key[2]  key[3]
///     row 2:  key[4]  key[5]  key[6]  key[7]
///     row 3:  word12  word13  word14  word15      counter and nonce
///
/// RFC 8439 puts a 32-bit block counter in word 12 and a 96-bit nonce in words 13–15; the
/// block function does not care, and ``GaussianNoiseSource`` uses words 12–13 as a 64-bit
/// counter (Bernstein's original layout) so a stream never wraps.
struct ChaCha20: Sendable {
    private static let constants = SIMD4<UInt32>(0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574)
    private let key0: SIMD4<UInt32>
    private let key1: SIMD4<UInt32>

    /// - Parameter key: 8 little-endian key words.
    init(key: [UInt32]) {
        precondition(key.count == 8, "a ChaCha20 key is 8 words; found \(key.count)")
        key0 = SIMD4(key[0], key[1], key[2], key[3])
        key1 = SIMD4(key[4], key[5], key[6], key[7])
    }

    /// Writes the 16 keystream words for state row 3 = `words12to15` to `output`.
    ///
    /// Serialized little-endian, the words are the RFC's 64-byte keystream block. The state
    /// lives in 16 scalar locals, which the optimizer keeps in registers (a SIMD-row version
    /// with lane rotations measured 4× slower here).
    func block(_ words12to15: SIMD4<UInt32>, into output: UnsafeMutablePointer<UInt32>) {
        var x0 = Self.constants[0], x1 = Self.constants[1], x2 = Self.constants[2], x3 = Self.constants[3]
        var x4 = key0[0], x5 = key0[1], x6 = key0[2], x7 = key0[3]
        var x8 = key1[0], x9 = key1[1], x10 = key1[2], x11 = key1[3]
        var x12 = words12to15[0], x13 = words12to15[1], x14 = words12to15[2], x15 = words12to15[3]
        for _ in 0..<10 {
            // Column round.
            Self.quarterRound(&x0, &x4, &x8, &x12)
            Self.quarterRound(&x1, &x5, &x9, &x13)
            Self.quarterRound(&x2, &x6, &x10, &x14)
            Self.quarterRound(&x3, &x7, &x11, &x15)
            // Diagonal round.
            Self.quarterRound(&x0, &x5, &x10, &x15)
            Self.quarterRound(&x1, &x6, &x11, &x12)
            Self.quarterRound(&x2, &x7, &x8, &x13)
            Self.quarterRound(&x3, &x4, &x9, &x14)
        }
        output[0] = x0 &+ Self.constants[0]
        output[1] = x1 &+ Self.constants[1]
        output[2] = x2 &+ Self.constants[2]
        output[3] = x3 &+ Self.constants[3]
        output[4] = x4 &+ key0[0]
        output[5] = x5 &+ key0[1]
        output[6] = x6 &+ key0[2]
        output[7] = x7 &+ key0[3]
        output[8] = x8 &+ key1[0]
        output[9] = x9 &+ key1[1]
        output[10] = x10 &+ key1[2]
        output[11] = x11 &+ key1[3]
        output[12] = x12 &+ words12to15[0]
        output[13] = x13 &+ words12to15[1]
        output[14] = x14 &+ words12to15[2]
        output[15] = x15 &+ words12to15[3]
    }

    /// RFC 8439 §2.1.
    @inline(__always)
    private static func quarterRound(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32, _ d: inout UInt32) {
        a &+= b; d ^= a; d = d << 16 | d >> 16
        c &+= d; b ^= c; b = b << 12 | b >> 20
        a &+= b; d ^= a; d = d << 8 | d >> 24
        c &+= d; b ^= c; b = b << 7 | b >> 25
    }
}
