// SPDX-License-Identifier: Apache-2.0
@testable import Privacy
import Testing

@Suite struct ChaCha20Tests {
    /// Key 00 01 02 … 1f, as in RFC 8439 §2.3.2 and §2.4.2.
    private let rfcKey = ChaCha20(key: (0..<8).map { (i: Int) -> UInt32 in
        let byte0 = UInt32(4 * i)
        return byte0 | (byte0 + 1) << 8 | (byte0 + 2) << 16 | (byte0 + 3) << 24
    })

    private func keystream(_ cipher: ChaCha20, _ words12to15: SIMD4<UInt32>) -> [UInt8] {
        var words = [UInt32](repeating: 0, count: 16)
        words.withUnsafeMutableBufferPointer { cipher.block(words12to15, into: $0.baseAddress!) }
        return words.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
    }

    private func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).filter { $0 != UInt8(ascii: " ") }
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    @Test func rfc8439BlockFunctionVector() {
        // §2.3.2: counter 1, nonce 00:00:00:09:00:00:00:4a:00:00:00:00.
        let expected = bytes("""
            10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
            d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e
            """)
        #expect(keystream(rfcKey, SIMD4(1, 0x0900_0000, 0x4a00_0000, 0)) == expected)
    }

    @Test func rfc8439AppendixA1ZeroKey() {
        // Appendix A.1, test vector #1: all-zero key, nonce and counter.
        let expected = bytes("""
            76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
            da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586
            """)
        #expect(keystream(ChaCha20(key: [UInt32](repeating: 0, count: 8)), .zero) == expected)
    }

    @Test func rfc8439EncryptionVector() {
        // §2.4.2: the "sunscreen" plaintext, counter 1, nonce 00:00:00:00:00:00:00:4a:00:00:00:00.
        let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
        let expected = bytes("""
            6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
            f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
            07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
            5af90bbf74a35be6b40b8eedf2785e42874d
            """)
        var stream: [UInt8] = []
        for counter in UInt32(1)...2 { stream += keystream(rfcKey, SIMD4(counter, 0, 0x4a00_0000, 0)) }
        let ciphertext = zip(plaintext, stream).map { $0 ^ $1 }
        #expect(ciphertext == expected)
    }
}
