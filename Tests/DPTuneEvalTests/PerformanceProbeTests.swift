// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import dptune_eval

@Suite struct PerformanceProbeTests {
    /// Lengths like the benchmark's: mostly short records, a tail of long ones.
    private let lengths = (0..<500).map { 8 + ($0 * 37) % 23 + ($0 % 10 == 0 ? 40 : 0) }

    /// A piece pads to its own longest record, never more than its chunk; one piece a chunk
    /// is the chunk; the least-cost cut pads no more than fixed chunks, which already use
    /// the fewest chunks.
    @Test func piecesPadLessThanTheirChunks() {
        let two = PerformanceProbe.paddedTokensPerRealToken(lengths: lengths, batch: 64, chunkSize: 32, parts: 2)
        let one = PerformanceProbe.paddedTokensPerRealToken(lengths: lengths, batch: 64, chunkSize: 32, parts: 1)
        #expect(two.pieces >= 1 && two.pieces < two.cut)
        #expect(one.pieces == one.cut && one.cut == two.cut)
        #expect(two.cut <= two.fixed)
    }
}
