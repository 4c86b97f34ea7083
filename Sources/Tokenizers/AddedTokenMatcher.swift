// SPDX-License-Identifier: Apache-2.0

/// Finds added tokens (e.g. `[CLS]`, `<|im_start|>`) in raw text before any normalization.
///
/// Hugging Face tokenizers split the input on its added tokens first, leftmost match first
/// and the longest token at that position, and run the normal pipeline only on the text
/// between them; this reproduces that for tokens that are neither stripped nor normalized.
struct AddedTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        let bytes: [UInt8]
        let id: Int32
    }

    /// Candidates by first byte, longest first.
    private let candidatesByFirstByte: [[Candidate]]
    private let isEmpty: Bool

    init(tokens: [(content: String, id: Int32)]) {
        var table = [[Candidate]](repeating: [], count: 256)
        for token in tokens where !token.content.isEmpty {
            let bytes = Array(token.content.utf8)
            table[Int(bytes[0])].append(Candidate(bytes: bytes, id: token.id))
        }
        for index in table.indices { table[index].sort { $0.bytes.count > $1.bytes.count } }
        candidatesByFirstByte = table
        isEmpty = tokens.isEmpty
    }

    /// Calls `text` for each stretch of ordinary text and `token` for each added token, in order.
    func forEachSegment(
        in bytes: UnsafeBufferPointer<UInt8>,
        text: (Range<Int>) -> Void,
        token: (Int32) -> Void
    ) {
        guard !isEmpty else {
            if !bytes.isEmpty { text(0..<bytes.count) }
            return
        }
        var segmentStart = 0
        var index = 0
        while index < bytes.count {
            if let match = longestMatch(in: bytes, at: index) {
                if segmentStart < index { text(segmentStart..<index) }
                token(match.id)
                index += match.length
                segmentStart = index
            } else {
                index += 1
            }
        }
        if segmentStart < bytes.count { text(segmentStart..<bytes.count) }
    }

    private func longestMatch(in bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> (id: Int32, length: Int)? {
        for candidate in candidatesByFirstByte[Int(bytes[index])] {
            let length = candidate.bytes.count
            guard index + length <= bytes.count else { continue }
            var matches = true
            for offset in 1..<length where bytes[index + offset] != candidate.bytes[offset] {
                matches = false
                break
            }
            if matches { return (candidate.id, length) }
        }
        return nil
    }
}
