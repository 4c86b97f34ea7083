// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing
import Tokenizers
@testable import Training

@Suite struct ClassificationExampleEncoderTests {
    static func encoder(_ instruction: Manifest.InstructionUse) throws -> ClassificationExampleEncoder {
        let vocabulary = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString).txt")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nsay\nit\nwell\nyes\nno\nbe\nbrief\n".write(to: vocabulary, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: vocabulary) }
        return ClassificationExampleEncoder(tokenizer: try WordPieceTokenizer(vocabularyFile: vocabulary),
                                            labels: ["t": ["yes", "no"]], maxLength: 16, instruction: instruction)
    }

    @Test func theInstructionIsTheFirstSegmentByDefault() throws {
        let example = try Self.encoder(.encode).encode(
            DatasetRecord(body: .instruction(instruction: "say", input: "it well", output: "no")), unit: 0)
        #expect(example.ids == [2, 4, 3, 5, 6, 3])
        #expect(example.tokenTypeIDs == [0, 0, 0, 1, 1, 1])
        #expect(example.label == 1)
    }

    @Test func omittingTheInstructionEncodesTheInputAlone() throws {
        let encoder = try Self.encoder(.omit)
        let example = try encoder.encode(DatasetRecord(body: .instruction(instruction: "say", input: "it well", output: "no")), unit: 0)
        #expect(example.ids == [2, 5, 6, 3])
        #expect(example.tokenTypeIDs == [0, 0, 0, 0])
        // Without an input the instruction is all the record has to read.
        let alone = try encoder.encode(DatasetRecord(body: .instruction(instruction: "say it", input: nil, output: "yes")), unit: 0)
        #expect(alone.ids == [2, 4, 5, 3])
    }

    @Test func omittingTheInstructionDropsAChatsSystemTurns() throws {
        let record = DatasetRecord(body: .chat([
            .init(role: .system, content: "be brief"), .init(role: .user, content: "say it"), .init(role: .assistant, content: "yes"),
        ]))
        #expect(try Self.encoder(.encode).encode(record, unit: 0).ids == [2, 9, 10, 4, 5, 3])
        #expect(try Self.encoder(.omit).encode(record, unit: 0).ids == [2, 4, 5, 3])
    }
}
