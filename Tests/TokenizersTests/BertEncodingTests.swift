// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

@Suite struct BertEncodingTests {
    @Test func realTokenCountCountsMask() {
        let encoding = BertEncoding(ids: [101, 7, 102, 0], tokenTypeIDs: [0, 0, 0, 0], attentionMask: [1, 1, 1, 0])
        #expect(encoding.realTokenCount == 3)
    }
}
