// SPDX-License-Identifier: Apache-2.0

/// GPT-2's reversible map from bytes to printable Unicode scalars.
///
/// Byte-level BPE vocabularies are written in these scalars so that every token is
/// printable text: the bytes `!`…`~`, `¡`…`¬` and `®`…`ÿ` stand for themselves, and the
/// other 68 bytes (controls, space, DEL, NBSP, soft hyphen) map in order to U+0100….
/// A space is thus `Ġ` (U+0120) and a newline `Ċ` (U+010A).
enum ByteLevelAlphabet {
    static let scalarsByByte: [Unicode.Scalar] = {
        var scalars = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                scalars[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                scalars[byte] = Unicode.Scalar(next) ?? "\0"
                next += 1
            }
        }
        return scalars
    }()

    static let bytesByScalar: [Unicode.Scalar: UInt8] = Dictionary(
        uniqueKeysWithValues: scalarsByByte.enumerated().map { ($0.element, UInt8($0.offset)) })

    /// The raw bytes a vocabulary token stands for; scalars outside the alphabet (as in
    /// added tokens) stand for their own UTF-8, as in Hugging Face's ByteLevel decoder.
    static func bytes(of token: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            if let byte = bytesByScalar[scalar] {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: String(scalar).utf8)
            }
        }
        return bytes
    }
}
