// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing

@Suite struct IntakeErrorTests {
    @Test func wireFormIsCodeMessageAndLine() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let withLine = String(decoding: try encoder.encode(IntakeError(.invalidUTF8, "bad byte", line: 3)), as: UTF8.self)
        #expect(withLine == #"{"code":"invalid_utf8","line":3,"message":"bad byte"}"#)
        let withoutLine = String(decoding: try encoder.encode(IntakeError(.emptyDataset, "nothing")), as: UTF8.self)
        #expect(withoutLine == #"{"code":"empty_dataset","message":"nothing"}"#)
    }

    @Test func decodesWhatItEncodes() throws {
        let original = IntakeError(.deltaTooLarge, "δ too large", line: nil)
        let decoded = try JSONDecoder().decode(IntakeError.self, from: JSONEncoder().encode(original))
        #expect(decoded.code == .deltaTooLarge)
        #expect(decoded.message == "δ too large")
        #expect(decoded.line == nil)
    }

    @Test func equalityComparesTheCodeOnly() {
        #expect(IntakeError(.unsafePath, "a") == IntakeError(.unsafePath, "b", line: 4))
        #expect(IntakeError(.unsafePath, "a") != IntakeError(.notARegularFile, "a"))
    }
}
