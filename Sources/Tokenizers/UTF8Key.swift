// SPDX-License-Identifier: Apache-2.0

/// Text compared and hashed by its exact UTF-8 bytes.
///
/// Swift's `String` equality is canonical equivalence ("é" == "e\u{301}"), but the
/// reference tokenizers compare bytes: a decomposed word must not hit the cache entry or
/// vocabulary entry of its precomposed twin. Hashing raw bytes is also faster.
struct UTF8Key: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
