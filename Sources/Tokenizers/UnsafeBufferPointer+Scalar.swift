// SPDX-License-Identifier: Apache-2.0

extension UnsafeBufferPointer<UInt8> {
    /// The scalar starting at byte `index` and its length in bytes.
    ///
    /// The tokenizers walk a String's own UTF-8 storage, which Swift guarantees valid, so
    /// this decoder does not re-validate; it never reads past the end either way.
    @inline(__always)
    func scalar(at index: Int) -> (scalar: Unicode.Scalar, length: Int) {
        let b0 = UInt32(self[index])
        if b0 < 0x80 { return (Unicode.Scalar(UInt8(b0)), 1) }
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
        var value = b0 & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        var offset = 1
        while offset < length, index + offset < count {
            value = value << 6 | (UInt32(self[index + offset]) & 0x3F)
            offset += 1
        }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", offset)
    }
}
