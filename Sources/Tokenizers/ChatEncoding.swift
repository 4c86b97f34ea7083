// SPDX-License-Identifier: Apache-2.0

/// The token ids of a rendered conversation and which of them are the assistant's.
public struct ChatEncoding: Sendable, Hashable {
    public let ids: [Int32]
    /// `isResponse[i]`: token `i` starts inside an assistant turn (``RenderedChat/responseRanges``);
    /// only these carry loss in response-only training.
    public let isResponse: [Bool]

    /// Index of the first response token, i.e. the prompt length for a single-turn example.
    public var firstResponseIndex: Int? { isResponse.firstIndex(of: true) }
}

extension ByteLevelBPETokenizer {
    /// Encodes the whole rendered text at once (so ids equal ``encode(_:)`` of the text)
    /// and marks the tokens that start inside a response range.
    ///
    /// Encoding the text whole, not turn by turn, matters: BPE words can differ at the
    /// seams. A word that straddles the start of a response (only possible when the
    /// response begins with whitespace) counts as prompt.
    public func encode(_ chat: RenderedChat) -> ChatEncoding {
        let (ids, starts) = encodeWithOffsets(chat.text)
        let isResponse = starts.map { start in chat.responseRanges.contains { $0.contains(start) } }
        return ChatEncoding(ids: ids, isResponse: isResponse)
    }
}
